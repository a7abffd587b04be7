// The reconnect storm of BENCHMARKS.md "Targets" (bench/chat/run --storm): G groups of S
// members on /ws/chat; every member but the first of each group drops at once (its TCP
// connection destroyed, as when a network goes away), the first sends M messages to its
// group meanwhile, then the dropped ones reconnect, each after a random delay up to J ms
// (jittered backoff), and replay what they missed with
// GET /conversations/{id}/messages?after_seq=<the last seq they saw>. A failed connect or
// replay is retried after a doubling backoff. Prints one RESULT line: the time from the
// storm's start until every client has reconnected and replayed all it missed, the node's
// CPU over that time, and errors.
//
//   node storm.mjs --url URL --tokens FILE --groups G --size S --gap-messages M
//                  --jitter-ms J --server-pid PID [--json FILE] [--label L]
import { readFileSync } from "node:fs";
import http from "node:http";
import { openRaw } from "../realtime/rawws.mjs";
import { now, sleep, Histogram, percentiles, CLK_TCK, cpuTicks, rssKiB, loadavg, result } from "../realtime/lib.mjs";

const opt = { groups: 1000, size: 10, "gap-messages": 5, "jitter-ms": 2000, label: "" };
for (let i = 2; i < process.argv.length; i += 2) opt[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const G = Number(opt.groups), S = Number(opt.size), M = Number(opt["gap-messages"]);
const J = Number(opt["jitter-ms"]), pid = Number(opt["server-pid"]);
const log = (...a) => console.error("storm:", ...a);
const wsUrl = opt.url.replace(/^http/, "ws") + "/ws/chat";
const { hostname, port } = new URL(opt.url);
const tokens = readFileSync(opt.tokens, "utf8").trim().split("\n").map((l) => l.split("\t"));
if (tokens.length < G * S) throw new Error(`need ${G * S} tokens, have ${tokens.length}`);

const SEQ = Buffer.from('"seq":');
const NEW_MESSAGE = Buffer.from('"type":"new-message"');
const clients = tokens.slice(0, G * S).map(([id, token], i) => ({
  id, token, group: Math.floor(i / S), first: i % S === 0, lastSeq: 0, open: false, ws: null,
  conv: `00000000-0000-4000-8000-${(Math.floor(i / S) + 1).toString(16).padStart(12, "0")}`,
}));
const latest = new Array(G).fill(0); // the newest seq sent to each group (sender's acks)
const count = {};
const bump = (k) => { count[k] = (count[k] || 0) + 1; };

function onFrame(k, data) {
  if (data.indexOf(NEW_MESSAGE) < 0) {
    if (data.indexOf('"type":"error"') >= 0) bump("error_frame");
    return;
  }
  const at = data.indexOf(SEQ) + SEQ.length;
  const seq = parseInt(data.toString("latin1", at, at + 20), 10);
  if (seq > k.lastSeq) k.lastSeq = seq;
  if (k.first && seq > latest[k.group]) { latest[k.group] = seq; k.acked?.(); }
}

/// Opens k's socket; resolves true once open, false when refused or failed.
function connect(k) {
  return new Promise((resolve) => {
    k.ws = openRaw(`${wsUrl}?Authorization=${encodeURIComponent(k.token)}`, {
      open: () => { k.open = true; resolve(true); },
      fail: (why) => { bump(`connect_fail:${why}`); resolve(false); },
      close: () => { k.open = false; },
      message: (data) => onFrame(k, data),
    });
  });
}

/// Connects k, retrying a refused or failed handshake after a doubling, jittered
/// backoff; returns how many attempts failed.
async function connectRetrying(k) {
  for (let failed = 0, backoff = 100; ; failed++, backoff = Math.min(backoff * 2, 5000)) {
    if (await connect(k)) return failed;
    await sleep(backoff * (0.5 + Math.random()));
  }
}

/// Connects `ks` with at most `width` handshakes at a time.
async function connectAll(ks, width) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < ks.length) await connectRetrying(ks[next++]);
  }));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
/// k's replay: resolves with the messages after k.lastSeq, or null on any failure.
function replay(k) {
  return new Promise((resolve) => {
    const req = http.get({ agent, hostname, port,
      path: `/conversations/${k.conv}/messages?after_seq=${k.lastSeq}&limit=100`,
      headers: { Authorization: `Bearer ${k.token}` } }, (res) => {
      const parts = [];
      res.on("data", (b) => parts.push(b));
      res.on("end", () => {
        if (res.statusCode !== 200) { bump(`replay_${res.statusCode}`); resolve(null); return; }
        try { resolve(JSON.parse(Buffer.concat(parts).toString())); } catch { bump("replay_unparsable"); resolve(null); }
      });
    });
    req.on("error", (e) => { bump(`replay_error:${e.code}`); resolve(null); });
  });
}

// 1. Everyone online.
let t = now();
await connectAll(clients, 200);
log(`${clients.length} connected in ${((now() - t) / 1000).toFixed(1)} s`, JSON.stringify(count));
for (const key of Object.keys(count)) delete count[key]; // each phase's errors are its own
await sleep(1000);

// 2. The drop: all but each group's first member lose their connection at once.
const dropped = clients.filter((k) => !k.first);
for (const k of dropped) k.ws.terminate();
await sleep(1000);

// 3. While they are away, each group's first member sends M messages (one at a time,
// each acknowledged by its own new-message: committed).
t = now();
await Promise.all(clients.filter((k) => k.first).map(async (k) => {
  for (let n = 0; n < M; n++) {
    const acked = new Promise((resolve) => { k.acked = resolve; });
    k.ws.send(`{"action":"send-message","tempMessageId":"storm.${k.id}.${n}.${Date.now()}","conversationId":"${k.conv}","content":"missed ${n}"}`);
    await Promise.race([acked, sleep(10000)]);
  }
}));
log(`${G * M} messages sent to the dropped members in ${((now() - t) / 1000).toFixed(1)} s`, JSON.stringify(count));
for (const key of Object.keys(count)) delete count[key];

// 4. The storm: every dropped client reconnects after its jitter, then replays.
const reconnect = new Histogram(), done = new Histogram();
let retries = 0, incomplete = 0;
const ticks0 = cpuTicks(pid), load0 = loadavg();
const start = now();
await Promise.all(dropped.map(async (k) => {
  await sleep(Math.random() * J);
  retries += await connectRetrying(k);
  reconnect.add(now() - start);
  for (let backoff = 100; ; backoff = Math.min(backoff * 2, 5000)) {
    const ms = await replay(k);
    if (ms) {
      for (const m of ms) if (m.seq > k.lastSeq) k.lastSeq = m.seq;
      if (k.lastSeq >= latest[k.group]) break;
      incomplete++; // fewer than missed: ask again from where it ended
      continue;
    }
    retries++;
    await sleep(backoff * (0.5 + Math.random()));
  }
  done.add(now() - start);
}));
const seconds = (now() - start) / 1000;
const ticks1 = cpuTicks(pid);
const ticks = ticks1.user + ticks1.sys - ticks0.user - ticks0.sys;
const p = (h, q) => (percentiles([h.dump()], [q]).p[q] / 1000).toFixed(2);
result({ scenario: "storm", label: opt.label, groups: G, size: S, clients: dropped.length,
  gap_messages: M, jitter_ms: J, storm_s: seconds.toFixed(2),
  reconnected_p50_s: p(reconnect, 50), reconnected_p99_s: p(reconnect, 99),
  replayed_p50_s: p(done, 50), replayed_p99_s: p(done, 99),
  node_cpu_s: (ticks / CLK_TCK).toFixed(2),
  node_cpu_us_per_client: Math.round((ticks / CLK_TCK) * 1e6 / dropped.length),
  retries, incomplete_replays: incomplete, errors: count,
  node_rss_mib: Math.round(rssKiB(pid) / 1024), load: `${load0} -> ${loadavg()}` }, opt.json);
for (const k of clients) k.ws.terminate();
agent.destroy();
process.exit(0);
