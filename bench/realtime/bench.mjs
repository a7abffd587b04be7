// Driver of bench/realtime (run by bench/realtime/run, which owns the node and the database):
//
//   node bench.mjs idle   --url URL --tokens FILE --users N --server-pid PID [--procs P]
//                         [--client raw|ws]
//                         [--settle S] [--hold S] [--cycles C] [--preload] [--path /ws/presence]
//                         [--json FILE]
//   node bench.mjs fanout --url URL --tokens FILE --users N --server-pid PID --friends F
//                         [--procs P] [--phases saturate,rate:500] [--warmup S] [--duration S]
//                         [--inflight W] [--label TEXT] [--json FILE]
//                         [--node-urls URL,URL,...]   # a cluster: --server-pid PID,PID,...
//
// --server-pid may name several processes (a cluster's nodes): CPU and RSS are their sums.
// With --node-urls, user i connects straight to node i mod N (instead of --url), latencies
// are also given apart for a friend's socket on the sender's node and on another one, and the
// nodes' bus counters (/metrics) are read over the window.
//   node bench.mjs summary FILE.jsonl       # medians per phase and label, as a Markdown table
//
// Forks P worker processes (worker.mjs), each holding the WebSockets of every P-th user.
// Prints one "RESULT ..." line per measurement and appends it as JSON to --json.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as lib from "./lib.mjs";
import { now, sleep, percentiles, CLK_TCK, merge, fmtMap, ask } from "./lib.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const log = (...a) => console.error("bench-realtime:", ...a);

// ---- arguments -----------------------------------------------------------------------
const [cmd, ...rest] = process.argv.slice(2);
const opt = { procs: 2, settle: 10, hold: 70, path: "/ws/presence", phases: "saturate,rate:500",
              warmup: 5, duration: 15, label: "", friends: 0, concurrency: 100, preload: false, client: "raw",
              inflight: 64, cycles: 2, nodeUrls: "" };
for (let i = 0; i < rest.length; i++) {
  const k = rest[i].replace(/^--/, "").replace(/-([a-z])/g, (_, x) => x.toUpperCase());
  if (k === "preload") { opt.preload = true; continue; }
  if (!(k in opt) && !["url", "tokens", "users", "serverPid", "json"].includes(k) && cmd !== "summary") {
    console.error(`unknown option ${rest[i]}`); process.exit(2);
  }
  if (cmd === "summary") { opt.files = rest; break; }
  const v = rest[++i];
  opt[k] = /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

// ---- the node, the kernel ------------------------------------------------------------
const rssKiB = () => lib.rssKiB(opt.serverPid);
const cpuTicks = () => lib.cpuTicks(opt.serverPid);
const threadTicks = () => lib.threadTicks(opt.serverPid);
// The node's own count of live WebSockets (GET /metrics), "n/a" if it has none.
async function wsGauge() {
  try {
    const text = await (await fetch(`${opt.url}/metrics`)).text();
    return (text.match(/^tandem_websocket_connections\s+(\S+)/m) || [])[1] ?? "n/a";
  } catch { return "n/a"; }
}
const alive = () => lib.alive(opt.serverPid);
const loadavg = lib.loadavg;

// skmem of the node's established sockets (local port = the node's port). The charged
// buffer memory of a socket is r (rmem_alloc) + t (wmem_alloc) + f (forward alloc) +
// w (wmem_queued) + o (opt mem) + bl (backlog); rb/tb are limits, not memory.
function serverSkmem(port) {
  const out = execFileSync("ss", ["-tmnH", "state", "established", `( sport = :${port} )`],
                           { maxBuffer: 256 << 20 }).toString();
  let sockets = 0, bytes = 0;
  for (const m of out.matchAll(/skmem:\(([^)]*)\)/g)) {
    sockets++;
    for (const f of m[1].split(",")) {
      const [, name, val] = f.match(/^([a-z]+)(\d+)$/) || [];
      if (["r", "t", "f", "w", "o", "bl"].includes(name)) bytes += Number(val);
    }
  }
  return { sockets, bytes };
}
// Kernel objects behind a socket that skmem does not count (the tcp_sock itself, its
// sockfs inode, dentry and file): slab bytes of these caches (/proc/slabinfo, root only).
// The epoll item (eppoll_epi, 128 B) is usually merged into a shared cache and not seen.
const SLABS = ["TCP", "sock_inode_cache", "dentry", "filp"];
function slabInfo() {
  const bytes = {}, objsize = {};
  try {
    for (const line of readFileSync("/proc/slabinfo", "utf8").split("\n")) {
      const f = line.trim().split(/\s+/);
      if (SLABS.includes(f[0])) { bytes[f[0]] = Number(f[1]) * Number(f[3]); objsize[f[0]] = Number(f[3]); }
    }
  } catch { /* not readable: reported as zero */ }
  return { bytes, objsize };
}
const sockstatTcpMemPages = () =>
  Number((readFileSync("/proc/net/sockstat", "utf8").match(/^TCP:.* mem (\d+)/m) || [])[1] || 0);

// ---- workers --------------------------------------------------------------------------
let workers = [];
async function startWorkers(n) { workers = await lib.forkWorkers(join(HERE, "worker.mjs"), n, log); }
const all = (msg, ev) => Promise.all(workers.map((w) => ask(w, msg, ev)));

function readUsers() {
  const users = readFileSync(opt.tokens, "utf8").trim().split("\n").slice(0, opt.users)
    .map((l) => { const [id, token] = l.split("\t"); return { id, token }; });
  if (users.length < opt.users) throw new Error(`only ${users.length} tokens in ${opt.tokens}`);
  return users;
}
const wsUrl = () => opt.url.replace(/^http/, "ws") + opt.path;

async function connect(users) {
  const nodes = String(opt.nodeUrls).split(",").filter(Boolean);
  const path = new URL(wsUrl()).pathname;
  if (nodes.length) {
    users = users.map((u, i) =>
      ({ ...u, node: i % nodes.length, url: nodes[i % nodes.length].replace(/^http/, "ws") + path }));
  }
  const share = workers.map((_, j) => users.filter((_, i) => i % workers.length === j));
  const t0 = Date.now();
  const rs = await Promise.all(workers.map((w, j) =>
    ask(w, { cmd: "connect", url: wsUrl(), users: share[j], concurrency: opt.concurrency, client: opt.client }, "connected")));
  const r = { ok: 0, failed: 0, statuses: {}, seconds: (Date.now() - t0) / 1000, client_rss_mib: 0 };
  for (const x of rs) {
    r.ok += x.ok; r.failed += x.failed; r.client_rss_mib += x.mem.rss / 2 ** 20;
    for (const [k, v] of Object.entries(x.statuses)) r.statuses[k] = (r.statuses[k] || 0) + v;
  }
  r.client_rss_mib = Math.round(r.client_rss_mib);
  return r;
}
const result = (fields) => lib.result(fields, opt.json);

// ---- scenario 1: idle authenticated connections -----------------------------------------
async function idle() {
  const users = readUsers();
  await startWorkers(opt.procs);
  const rss0 = rssKiB();
  if (opt.preload) {
    // Load every user's actor through a REST route first, so that the delta below is the
    // connections' own cost (the actors' is reported apart).
    log(`preloading ${users.length} user actors (GET /friendship/requests)`);
    let next = 0;
    const one = async () => {
      while (next < users.length) {
        const u = users[next++];
        const r = await fetch(`${opt.url}/friendship/requests`, { headers: { Authorization: `Bearer ${u.token}` } });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`preload: ${r.status} for ${u.id}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, one));
    await sleep(3000);
  }
  const rss1 = rssKiB();
  const slab0 = slabInfo().bytes, sockstat0 = sockstatTcpMemPages();
  log(`connecting ${users.length} WebSockets to ${wsUrl()} from ${opt.procs} processes`);
  const conn = await connect(users);
  log(`connected ${conn.ok}, failed ${conn.failed} (${fmtMap(conn.statuses)}) in ${conn.seconds.toFixed(1)} s; settling ${opt.settle} s`);
  await sleep(opt.settle * 1000);
  const port = new URL(opt.url).port;
  const rss2 = rssKiB();
  const sk = serverSkmem(port);
  const { bytes: slab1, objsize } = slabInfo(), sockstat1 = sockstatTcpMemPages();
  const slabDelta = Object.fromEntries(SLABS.map((s) => [s, (slab1[s] || 0) - (slab0[s] || 0)]));
  const slabTotal = Object.values(slabDelta).reduce((a, b) => a + b, 0);
  // Client and server sockets are the same kinds of kernel objects (TCP socket, inode,
  // dentry, file, epoll item): half of the delta is the node's share.
  const slabServer = slabTotal / 2;
  // The same from the object sizes: one of each per socket (dentry and filp deltas are
  // noisy while other processes, e.g. compilers, open files).
  const slabPerSocket = SLABS.reduce((a, s) => a + (objsize[s] || 0), 0);
  log(`holding ${opt.hold} s (the node pings at ws.idle_timeout_s / 2 and drops silent sockets)`);
  let minOpen = Infinity, maxRss = rss2;
  for (let t = 0; t < opt.hold; t += 10) {
    await sleep(Math.min(10, opt.hold - t) * 1000);
    if (!alive()) break;
    const st = await all({ cmd: "status" }, "status");
    minOpen = Math.min(minOpen, st.reduce((a, s) => a + s.open, 0));
    maxRss = Math.max(maxRss, rssKiB());
  }
  const nodeAlive = alive();
  const rss3 = nodeAlive ? rssKiB() : 0;
  const skEnd = nodeAlive ? serverSkmem(port) : { sockets: 0, bytes: 0 };
  const st = await all({ cmd: "status" }, "status");
  await all({ cmd: "close" }, "closed");
  await sleep(3000);
  const rss4 = nodeAlive && alive() ? rssKiB() : 0;
  const gauge4 = await wsGauge();
  // Leak check: the same users connect and close once more; RSS should stay where it was.
  let again = null;
  for (let cycle = 2; cycle <= opt.cycles && alive(); cycle++) {
    const r = await connect(users);
    await sleep(opt.settle * 1000);
    const rssUp = rssKiB();
    await all({ cmd: "close" }, "closed");
    await sleep(3000);
    again = { ok: r.ok, rssUp, rssDown: alive() ? rssKiB() : 0, gauge: await wsGauge() };
    log(`cycle ${cycle}: ${r.ok} connected, node RSS ${(rssUp / 1024).toFixed(1)} MiB, ` +
        `${(again.rssDown / 1024).toFixed(1)} MiB after closing`);
  }
  const n = conn.ok || 1;
  const userBytes = (rss2 - rss1) * 1024;
  result({
    scenario: "idle", connections: conn.ok, failed: conn.failed, failures: conn.statuses,
    connect_s: conn.seconds.toFixed(1), procs: opt.procs, client: opt.client, preload: opt.preload,
    node_rss_start_mib: (rss0 / 1024).toFixed(1), node_rss_before_mib: (rss1 / 1024).toFixed(1),
    node_rss_after_mib: (rss2 / 1024).toFixed(1), node_rss_end_of_hold_mib: (rss3 / 1024).toFixed(1),
    node_rss_after_close_mib: (rss4 / 1024).toFixed(1), ws_connections_gauge_after_close: gauge4,
    cycles: opt.cycles,
    node_rss_last_cycle_up_mib: again ? (again.rssUp / 1024).toFixed(1) : "n/a",
    node_rss_last_cycle_after_close_mib: again ? (again.rssDown / 1024).toFixed(1) : "n/a",
    last_cycle_connected: again ? again.ok : "n/a", ws_connections_gauge_last_cycle: again ? again.gauge : "n/a",
    actor_preload_bytes_per_user: opt.preload ? Math.round(((rss1 - rss0) * 1024) / n) : "n/a",
    rss_bytes_per_conn: Math.round(userBytes / n),
    rss_bytes_per_conn_incl_actor_load: Math.round(((rss2 - rss0) * 1024) / n),
    server_sockets: sk.sockets, skmem_bytes_total: sk.bytes, skmem_bytes_per_conn: Math.round(sk.bytes / n),
    skmem_bytes_end_of_hold: skEnd.bytes,
    sockstat_tcp_mem_delta_bytes: (sockstat1 - sockstat0) * 4096,
    slab_delta_bytes_both_sides: slabTotal, slab: slabDelta,
    slab_bytes_per_conn_server_half: Math.round(slabServer / n), slab_objsize_per_socket: slabPerSocket,
    total_bytes_per_conn_rss_skmem: Math.round((userBytes + sk.bytes) / n),
    total_bytes_per_conn_incl_slab: Math.round((userBytes + sk.bytes + slabServer) / n),
    total_bytes_per_conn_incl_slab_objsize: Math.round((userBytes + sk.bytes) / n + slabPerSocket),
    hold_s: opt.hold, min_open_during_hold: minOpen === Infinity ? "n/a" : minOpen,
    open_at_end: st.reduce((a, s) => a + s.open, 0), server_sockets_at_end: skEnd.sockets,
    unexpected_closes: merge(st.map((s) => s.closes)), client_errors: merge(st.map((s) => s.errors)),
    other_frames: merge(st.map((s) => s.others)), node_alive: nodeAlive,
    client_rss_mib: conn.client_rss_mib, load: loadavg(),
  });
  const samples = st.flatMap((s) => s.samples);
  if (samples.length) log("sample frames:", samples.slice(0, 3));
}

// ---- scenario 2: presence fan-out ---------------------------------------------------------
async function fanout() {
  const users = readUsers();
  await startWorkers(opt.procs);
  log(`connecting ${users.length} WebSockets (${opt.friends} friends each) from ${opt.procs} processes`);
  const conn = await connect(users);
  log(`connected ${conn.ok}, failed ${conn.failed} (${fmtMap(conn.statuses)}) in ${conn.seconds.toFixed(1)} s`);
  if (conn.failed) log("WARNING: some connections failed; deliveries per update are below the friend count");
  await sleep(2000);
  for (const spec of String(opt.phases).split(",")) {
    const [kind, rateS] = spec.split(":");
    const rate = Number(rateS || 0);
    if (kind === "rate" && rate / conn.ok > 19) log(`WARNING: ${rate}/s over ${conn.ok} senders exceeds the per-socket rate limit`);
    log(`${opt.label} phase ${spec}: warm-up ${opt.warmup} s, measuring ${opt.duration} s`);
    await all({ cmd: "phase", kind, rate: rate / workers.length, inflight: opt.inflight }, "started");
    await sleep(opt.warmup * 1000);
    // The window's bounds are set here, a little ahead, and are the same in every worker.
    const start = now() + 100;
    await all({ cmd: "measure", start }, "measuring");
    await sleep(start - now());
    const bus0 = await lib.nodeMetrics(opt.nodeUrls, "tandem_bus_");
    const rss0 = rssKiB(), tk0 = cpuTicks(), th0 = threadTicks(), t0 = Date.now();
    await sleep(start + opt.duration * 1000 - now());
    const stops = await all({ cmd: "stop", end: now() + 100 }, "stopped");
    const tk1 = alive() ? cpuTicks() : tk0, seconds = (Date.now() - t0) / 1000;
    const bus = lib.busDelta(bus0, await lib.nodeMetrics(opt.nodeUrls, "tandem_bus_"));
    const th1 = threadTicks();
    const threads = lib.threadCores(th0, th1, seconds);
    const nodeUserS = (tk1.user - tk0.user) / CLK_TCK, nodeSysS = (tk1.sys - tk0.sys) / CLK_TCK;
    const load = loadavg();
    await sleep(3000); // drain: deliveries of updates sent inside the window still count
    const st = await all({ cmd: "collect" }, "stats");
    const sum = (f) => st.reduce((a, s) => a + s.counters[f], 0);
    const win = st.reduce((a, s) => a + s.window_ms, 0) / st.length / 1000;
    const lat = percentiles(st.map((s) => s.lat), [50, 90, 99, 99.9]);
    const latCross = percentiles(st.map((s) => s.lat_cross), [50, 99]);
    const latSame = percentiles(st.map((s) => s.lat_same), [50, 99]);
    const lag = percentiles(st.map((s) => s.lag), [99]);
    const recv = sum("recv_in_window"), sent = sum("sent_in_window");
    const nodeCpuS = nodeUserS + nodeSysS;
    const clientCpuS = stops.reduce((a, s) => a + (s.cpu ? (s.cpu.user + s.cpu.system) / 1e6 : 0), 0);
    const clientSysS = stops.reduce((a, s) => a + (s.cpu ? s.cpu.system / 1e6 : 0), 0);
    result({
      scenario: "fanout", label: opt.label, phase: kind === "rate" ? `rate:${rate}` : kind,
      users: conn.ok, friends: opt.friends, procs: opt.procs, client: opt.client, window_s: win.toFixed(2),
      updates_per_s: Math.round(sent / win),
      deliveries_per_s: Math.round(recv / win),
      friend_deliveries_per_s: Math.round(sum("friend_recv_in_window") / win),
      delivered_ratio: sent ? (sum("friend_of_window") / (sent * opt.friends)).toFixed(4) : "n/a",
      echo_ratio: sent ? (sum("echo_of_window") / sent).toFixed(4) : "n/a",
      lat_p50_ms: lat.p[50].toFixed(2), lat_p90_ms: lat.p[90].toFixed(2), lat_p99_ms: lat.p[99].toFixed(2),
      lat_p999_ms: lat.p[99.9].toFixed(2), lat_max_ms: lat.max_ms.toFixed(2), lat_samples: lat.n,
      ...(opt.nodeUrls && {
        nodes: String(opt.nodeUrls).split(",").length,
        lat_same_node_p50_ms: latSame.p[50].toFixed(2), lat_same_node_p99_ms: latSame.p[99].toFixed(2),
        lat_same_node_samples: latSame.n,
        lat_cross_node_p50_ms: latCross.p[50].toFixed(2), lat_cross_node_p99_ms: latCross.p[99].toFixed(2),
        lat_cross_node_samples: latCross.n,
        bus_published: bus.published, bus_received: bus.received, bus_timeouts: bus.timeouts,
        bus_refused_queue: bus.refused_queue,
        bus_published_per_delivery: recv ? (bus.published / recv).toFixed(3) : "n/a",
      }),
      send_lag_p99_ms: kind === "rate" ? lag.p[99].toFixed(2) : "n/a",
      throttled: sum("throttled"), echo_timeouts: sum("echo_timeouts"),
      inflight_cap: kind === "saturate" ? opt.inflight * workers.length : "n/a",
      node_cpu_cores: (nodeCpuS / seconds).toFixed(2), node_cpu_sys_share: (nodeSysS / (nodeCpuS || 1)).toFixed(2),
      node_cpu_us_per_delivery: recv ? ((nodeCpuS * 1e6) / recv).toFixed(2) : "n/a",
      node_threads_cores: threads,
      client_cpu_cores: (clientCpuS / seconds).toFixed(2), client_cpu_sys_share: (clientSysS / (clientCpuS || 1)).toFixed(2),
      client_cpu_us_per_delivery: recv ? ((clientCpuS * 1e6) / recv).toFixed(2) : "n/a",
      node_rss_mib: (rssKiB() / 1024).toFixed(1), node_rss_delta_mib: ((rssKiB() - rss0) / 1024).toFixed(1),
      open: st.reduce((a, s) => a + s.open, 0), unexpected_closes: merge(st.map((s) => s.closes)),
      client_errors: merge(st.map((s) => s.errors)), other_frames: merge(st.map((s) => s.others)),
      node_alive: alive(), load,
    });
    const samples = st.flatMap((s) => s.samples);
    if (samples.length) log("sample frames:", samples.slice(0, 3));
    if (!alive()) { log("the node died"); break; }
    await sleep(1000);
  }
  await all({ cmd: "close" }, "closed");
}

// ---- medians across rounds ----------------------------------------------------------------
function summary() {
  const rows = lib.readRows(opt.files, "fanout");
  const med = lib.median;
  const groups = new Map();
  for (const r of rows) {
    const k = `${r.phase}\u0000${r.label}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  console.log("| phase | configuration | runs | updates/s | deliveries/s | delivered | p50 | p99 | p99.9 | node CPU cores | node µs/delivery |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const [k, rs] of [...groups].sort()) {
    const [phase, label] = k.split("\u0000");
    const m = (f) => med(rs.map((r) => r[f]));
    console.log(`| ${phase} | ${label} | ${rs.length} | ${Math.round(m("updates_per_s")).toLocaleString("en")} | ` +
      `${Math.round(m("deliveries_per_s")).toLocaleString("en")} | ${(m("delivered_ratio") * 100).toFixed(1)} % | ` +
      `${m("lat_p50_ms").toFixed(2)} ms | ${m("lat_p99_ms").toFixed(2)} ms | ${m("lat_p999_ms").toFixed(2)} ms | ` +
      `${m("node_cpu_cores").toFixed(2)} | ${m("node_cpu_us_per_delivery").toFixed(2)} |`);
  }
}

const main = { idle, fanout, summary }[cmd];
if (!main) { console.error("usage: bench.mjs idle|fanout|summary ..."); process.exit(2); }
try {
  await main();
} catch (e) {
  log("error:", e.stack || e);
  process.exitCode = 1;
}
for (const w of workers) w.send({ cmd: "exit" });
