// Driver of bench/chat (run by bench/chat/run, which owns the node and the database):
//
//   node bench.mjs chat --url URL --tokens FILE --groups G --size S --server-pid PID
//                       [--online K] [--procs P] [--phases saturate,rate:5000] [--warmup S]
//                       [--duration S] [--inflight W] [--label TEXT] [--pg TEXT] [--json FILE]
//                       [--node-urls URL,URL,...] [--group-urls FILE]
//   node bench.mjs summary FILE.jsonl     # medians per phase and label, as a Markdown table
//
// G groups of S members (bench/chat/groups.sql), K of each online on /ws/chat (default S);
// whole groups per worker process (worker.mjs), so that each message is followed to every
// member in one process. Phases: "saturate" (closed loop, W messages in flight per process,
// one per sender, done at the sender's own new-message) and "rate:R" (R messages/s, open loop).
// A cluster: --server-pid PID,PID,... (CPU summed), --node-urls (the chat and bus counters of
// every node's /metrics, summed); --group-urls names the groups to run, one "G URL" line each
// (0-based group, the node its members connect to straight), instead of all through --url.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as lib from "../realtime/lib.mjs";
import { now, sleep, percentiles, CLK_TCK, merge, ask } from "../realtime/lib.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const log = (...a) => console.error("bench-chat:", ...a);

const [cmd, ...rest] = process.argv.slice(2);
const opt = { procs: 2, phases: "saturate,rate:5000", warmup: 5, duration: 15, inflight: 256,
              label: "", online: 0, concurrency: 100, pg: "", nodeUrls: "", groupUrls: "" };
for (let i = 0; i < rest.length; i++) {
  if (cmd === "summary") { opt.files = rest; break; }
  const k = rest[i].replace(/^--/, "").replace(/-([a-z])/g, (_, x) => x.toUpperCase());
  if (!(k in opt) && !["url", "tokens", "groups", "size", "serverPid", "json"].includes(k)) {
    console.error(`unknown option ${rest[i]}`); process.exit(2);
  }
  const v = rest[++i];
  opt[k] = /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

const alive = () => lib.alive(opt.serverPid);
// The nodes' tandem_chat_* series (GET /metrics), summed; the largest batch is the largest.
async function chatMetrics() {
  const ms = await lib.nodeMetrics(opt.nodeUrls || opt.url, "tandem_chat_");
  const r = lib.merge(ms);
  r.largest_batch = Math.max(...ms.map((m) => m.largest_batch ?? 0));
  return r;
}
// Busy cores of the whole machine (/proc/stat): everything, PostgreSQL and the clients too.
function machineTicks() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: f[0] + f[1] + f[2] + f[5] + f[6] + f[7], iowait: f[4] };
}

let workers = [];
const all = (msg, ev) => Promise.all(workers.map((w) => ask(w, msg, ev)));

async function chat() {
  const size = opt.size, online = opt.online || size;
  const lines = readFileSync(opt.tokens, "utf8").trim().split("\n");
  if (lines.length < opt.groups * size) throw new Error(`only ${lines.length} tokens for ${opt.groups} × ${size}`);
  workers = await lib.forkWorkers(join(HERE, "worker.mjs"), opt.procs, log);
  const share = workers.map(() => []);
  const groupUrl = new Map(opt.groupUrls
    ? readFileSync(opt.groupUrls, "utf8").trim().split("\n").map((l) => l.split(/\s+/))
      .map(([g, u]) => [Number(g), u.replace(/^http/, "ws") + "/ws/chat"])
    : Array.from({ length: opt.groups }, (_, g) => [g, undefined]));
  for (const [g, gurl] of groupUrl) {
    const conv = `00000000-0000-4000-8000-${(g + 1).toString(16).padStart(12, "0")}`;
    for (let m = 0; m < online; m++) {
      const idx = g * size + m;
      const [id, token] = lines[idx].split("\t");
      share[g % workers.length].push({ id, token, idx, group: g, conv, url: gurl });
    }
  }
  const url = opt.url.replace(/^http/, "ws") + "/ws/chat";
  log(`connecting ${groupUrl.size} groups × ${online} online members (of ${size}) from ${opt.procs} processes`);
  const t0 = Date.now();
  const rs = await Promise.all(workers.map((w, j) =>
    ask(w, { cmd: "connect", url, users: share[j], concurrency: opt.concurrency, others: online - 1,
             run: Date.now().toString(36) }, "connected")));
  const connected = rs.reduce((a, r) => a + r.ok, 0), failed = rs.reduce((a, r) => a + r.failed, 0);
  log(`connected ${connected}, failed ${failed} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await sleep(2000);
  for (const spec of String(opt.phases).split(",")) {
    const [kind, rateS] = spec.split(":");
    const rate = Number(rateS || 0);
    log(`${opt.label} phase ${spec}: warm-up ${opt.warmup} s, measuring ${opt.duration} s`);
    await all({ cmd: "phase", kind, rate: rate / workers.length, inflight: opt.inflight }, "started");
    await sleep(opt.warmup * 1000);
    const start = now() + 100;
    await all({ cmd: "measure", start }, "measuring");
    await sleep(start - now());
    const tk0 = lib.cpuTicks(opt.serverPid), th0 = lib.threadTicks(opt.serverPid), mt0 = machineTicks();
    const t0w = Date.now(), m0 = await chatMetrics(), tm0 = Date.now();
    const bus0 = await lib.nodeMetrics(opt.nodeUrls, "tandem_bus_");
    await sleep(start + opt.duration * 1000 - now());
    const stops = await all({ cmd: "stop", end: now() + 100 }, "stopped");
    // CPU first: /metrics may answer late from an overloaded node.
    const tk1 = alive() ? lib.cpuTicks(opt.serverPid) : tk0, th1 = lib.threadTicks(opt.serverPid);
    const mt1 = machineTicks(), load = lib.loadavg();
    const seconds = (Date.now() - t0w) / 1000;
    const tm1a = Date.now(), m1 = alive() ? await chatMetrics() : m0;
    const metricsS = ((Date.now() + tm1a) / 2 - tm0) / 1000;
    const bus = lib.busDelta(bus0, await lib.nodeMetrics(opt.nodeUrls, "tandem_bus_"));
    await sleep(3000); // drain: acknowledgements and deliveries of messages sent in the window
    const st = await all({ cmd: "collect" }, "stats");
    const sum = (f) => st.reduce((a, s) => a + s.counters[f], 0);
    const aud = (f) => st.reduce((a, s) => a + s.audit[f], 0);
    const win = st.reduce((a, s) => a + s.window_ms, 0) / st.length / 1000;
    const lat = percentiles(st.map((s) => s.lat), [50, 90, 99, 99.9]);
    const ackLat = percentiles(st.map((s) => s.ack), [50, 99]);
    const lag = percentiles(st.map((s) => s.lag), [99]);
    const sent = sum("sent_in_window");
    const batches = (m1.batches_total ?? 0) - (m0.batches_total ?? 0);
    const committed = (m1.messages_committed_total ?? 0) - (m0.messages_committed_total ?? 0);
    const nodeCpuS = (tk1.user - tk0.user + tk1.sys - tk0.sys) / CLK_TCK;
    const clientCpuS = stops.reduce((a, s) => a + (s.cpu ? (s.cpu.user + s.cpu.system) / 1e6 : 0), 0);
    lib.result({
      scenario: "chat", label: opt.label, phase: kind === "rate" ? `rate:${rate}` : kind,
      groups: groupUrl.size, size, online, connected, connect_failed: failed, procs: opt.procs,
      pg: opt.pg, window_s: win.toFixed(2),
      sent_per_s: Math.round(sent / win),
      acked_per_s: Math.round(sum("acked_in_window") / win),
      committed_per_s: Math.round(committed / metricsS),
      deliveries_per_s: Math.round(sum("delivered_in_window") / win),
      sent_in_window: sent, acked_of_window: sum("acked_of_window"),
      complete_of_window: sum("complete_of_window"),
      unacked: aud("unacked"), incomplete: aud("incomplete"), missing_deliveries: aud("missing_deliveries"),
      error_frames: sum("error_frames"), errors_of_window: sum("errors_of_window"),
      error_details: merge(st.map((s) => s.errorDetails)),
      duplicate_acks: sum("duplicate_acks"), acked_after_error: sum("acked_after_error"), unknown_frames: sum("unknown_frames"),
      seq_gaps: sum("seq_gaps"), seq_regressions: sum("seq_regressions"),
      batches, committed, avg_batch: batches ? (committed / batches).toFixed(1) : "n/a",
      largest_batch: m1.largest_batch ?? "n/a", failed_batches: (m1.failed_batches_total ?? 0) - (m0.failed_batches_total ?? 0),
      lat_p50_ms: lat.p[50].toFixed(2), lat_p90_ms: lat.p[90].toFixed(2), lat_p99_ms: lat.p[99].toFixed(2),
      lat_p999_ms: lat.p[99.9].toFixed(2), lat_max_ms: lat.max_ms.toFixed(2), lat_samples: lat.n,
      ack_p50_ms: ackLat.p[50].toFixed(2), ack_p99_ms: ackLat.p[99].toFixed(2),
      send_lag_p99_ms: kind === "rate" ? lag.p[99].toFixed(2) : "n/a",
      inflight_cap: kind === "saturate" ? opt.inflight * workers.length : "n/a",
      node_cpu_cores: (nodeCpuS / seconds).toFixed(2),
      node_cpu_us_per_msg: committed ? ((nodeCpuS * 1e6) / committed).toFixed(1) : "n/a",
      ...(opt.nodeUrls && {
        nodes: String(opt.nodeUrls).split(",").length,
        bus_published: bus.published, bus_received: bus.received, bus_timeouts: bus.timeouts,
        bus_refused_queue: bus.refused_queue,
        bus_published_per_msg: committed ? (bus.published / committed).toFixed(2) : "n/a",
        bus_published_per_delivery: sum("delivered_in_window") + sum("acked_in_window")
          ? (bus.published / (sum("delivered_in_window") + sum("acked_in_window"))).toFixed(3) : "n/a",
      }),
      node_threads_cores: lib.threadCores(th0, th1, seconds),
      client_cpu_cores: (clientCpuS / seconds).toFixed(2),
      machine_busy_cores: ((mt1.busy - mt0.busy) / CLK_TCK / seconds).toFixed(2),
      machine_iowait_cores: ((mt1.iowait - mt0.iowait) / CLK_TCK / seconds).toFixed(2),
      node_rss_mib: alive() ? (lib.rssKiB(opt.serverPid) / 1024).toFixed(1) : "n/a",
      open: st.reduce((a, s) => a + s.open, 0), unexpected_closes: merge(st.map((s) => s.closes)),
      client_errors: merge(st.map((s) => s.errors)), frames: merge(st.map((s) => s.frames)),
      node_alive: alive(), load,
    }, opt.json);
    const samples = st.flatMap((s) => s.samples);
    if (samples.length) log("sample frames:", samples.slice(0, 3));
    if (!alive()) { log("the node died"); break; }
    await sleep(1000);
  }
  await all({ cmd: "close" }, "closed");
}

function summary() {
  const rows = lib.readRows(opt.files, "chat");
  const groups = new Map();
  for (const r of rows) {
    const k = `${r.label}\u0000${r.phase}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const fmt = (x) => Math.round(x).toLocaleString("en");
  console.log("| configuration | phase | runs | committed msg/s | deliveries/s | avg batch | largest | p50 | p99 | p99.9 | lost / errors | node CPU | load |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const [k, rs] of [...groups]) {
    const [label, phase] = k.split("\u0000");
    const m = (f) => lib.median(rs.map((r) => r[f]).filter((x) => Number.isFinite(Number(x))));
    const lost = rs.reduce((a, r) => a + r.unacked + r.incomplete, 0);
    const errs = rs.reduce((a, r) => a + r.error_frames, 0);
    console.log(`| ${label} | ${phase} | ${rs.length} | ${fmt(m("committed_per_s"))} | ${fmt(m("deliveries_per_s"))} | ` +
      `${m("avg_batch").toFixed(1)} | ${Math.max(...rs.map((r) => r.largest_batch))} | ${m("lat_p50_ms").toFixed(2)} ms | ` +
      `${m("lat_p99_ms").toFixed(2)} ms | ${m("lat_p999_ms").toFixed(2)} ms | ${lost} / ${errs} | ` +
      `${m("node_cpu_cores").toFixed(2)} | ${rs.map((r) => r.load.split(" ")[0]).join(", ")} |`);
  }
}

const main = { chat, summary }[cmd];
if (!main) { console.error("usage: bench.mjs chat|summary ..."); process.exit(2); }
try {
  await main();
} catch (e) {
  log("error:", e.stack || e);
  process.exitCode = 1;
}
for (const w of workers) w.send({ cmd: "exit" });
