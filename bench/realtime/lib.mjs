// Pieces shared by the drivers and workers of bench/realtime and bench/chat.
import { fork, execFileSync } from "node:child_process";
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

export const now = () => performance.timeOrigin + performance.now(); // CLOCK_REALTIME, sub-ms
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Latency histogram: 10 µs buckets up to 10 s, the rest counted as overflow with the max kept.
const BUCKET_US = 10;
const BUCKETS = 1_000_000;
export class Histogram {
  constructor() { this.reset(); }
  reset() { this.b = new Uint32Array(BUCKETS); this.n = 0; this.over = 0; this.max = 0; }
  add(ms) {
    const us = ms * 1000;
    this.n++;
    if (us > this.max) this.max = us;
    const i = us < 0 ? 0 : Math.floor(us / BUCKET_US);
    if (i >= BUCKETS) this.over++; else this.b[i]++;
  }
  // Sparse form for IPC: [[bucket, count], ...].
  dump() {
    const pairs = [];
    for (let i = 0; i < BUCKETS; i++) if (this.b[i]) pairs.push([i, this.b[i]]);
    return { bucket_us: BUCKET_US, pairs, n: this.n, over: this.over, max_us: this.max };
  }
}

// Percentiles (ms) of several Histogram dumps together.
export function percentiles(dumps, ps) {
  const counts = new Map();
  let n = 0, over = 0, max = 0, bucket = dumps[0]?.bucket_us || 10;
  for (const d of dumps) {
    n += d.n; over += d.over; max = Math.max(max, d.max_us);
    for (const [b, c] of d.pairs) counts.set(b, (counts.get(b) || 0) + c);
  }
  const keys = [...counts.keys()].sort((a, b) => a - b);
  const out = {};
  for (const p of ps) {
    const want = Math.ceil((p / 100) * n);
    let acc = 0, v = NaN;
    for (const k of keys) { acc += counts.get(k); if (acc >= want) { v = (k + 1) * bucket; break; } }
    if (Number.isNaN(v) && n) v = max; // in the overflow
    out[p] = v / 1000; // ms
  }
  return { n, over, max_ms: max / 1000, p: out };
}

// ---- the node's processes (/proc) ------------------------------------------------------
// `pid` is one process id or several, comma-separated (the nodes of a cluster): the figures
// are their sums.
export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
const pidsOf = (pid) => String(pid).split(",").filter(Boolean).map(Number);
const sumOver = (pid, f) => pidsOf(pid).reduce((a, p) => a + f(p), 0);
export const procStatus = (pid, key) => sumOver(pid, (p) =>
  Number((readFileSync(`/proc/${p}/status`, "utf8").match(new RegExp(`^${key}:\\s+(\\d+)`, "m")) || [])[1] || 0));
export const rssKiB = (pid) => procStatus(pid, "VmRSS");
export const cpuTicks = (pid) => pidsOf(pid).reduce((a, p) => {
  const f = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
  return { user: a.user + Number(f[11]), sys: a.sys + Number(f[12]) }; // utime, stime (fields 14 and 15)
}, { user: 0, sys: 0 });
// CPU ticks per thread of the processes, summed by thread name (/proc/PID/task/TID/stat).
export function threadTicks(pid) {
  const r = {};
  for (const p of pidsOf(pid)) {
    try {
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        try {
          const st = readFileSync(`/proc/${p}/task/${tid}/stat`, "utf8");
          const name = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")")).replace(/[\s,:]+/g, "_");
          const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
          r[name] = (r[name] || 0) + Number(f[11]) + Number(f[12]);
        } catch { /* the thread ended */ }
      }
    } catch { /* the process ended */ }
  }
  return r;
}
// Cores per thread name between two threadTicks() over `seconds`, busiest first.
export function threadCores(th0, th1, seconds) {
  return Object.fromEntries(Object.entries(th1)
    .map(([k, v]) => [k, (v - (th0[k] || 0)) / CLK_TCK / seconds]).filter(([, v]) => v >= 0.01)
    .sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v.toFixed(2)]));
}
export const alive = (pid) => pidsOf(pid).every((p) => { try { readFileSync(`/proc/${p}/stat`); return true; } catch { return false; } });
// The series named prefix* of each node's GET /metrics (urls comma-separated), one map per
// node ({name without the prefix: value}); a node that does not answer gives {}.
export async function nodeMetrics(urls, prefix) {
  return Promise.all(String(urls).split(",").filter(Boolean).map(async (u) => {
    const r = {};
    try {
      const text = await (await fetch(`${u}/metrics`)).text();
      for (const m of text.matchAll(new RegExp(`^${prefix}(\\w+)\\s+(\\S+)`, "gm"))) r[m[1]] = Number(m[2]);
    } catch { /* down: nothing */ }
    return r;
  }));
}
// The bus counters of the nodes (tandem_bus_*_total, summed) between two nodeMetrics().
export function busDelta(before, after) {
  const sum = (ms, k) => ms.reduce((a, m) => a + (m[k] || 0), 0);
  return { published: sum(after, "published_total") - sum(before, "published_total"),
           received: sum(after, "received_total") - sum(before, "received_total"),
           timeouts: sum(after, "timeouts_total") - sum(before, "timeouts_total"),
           refused_queue: sum(after, "refused_queue_total") - sum(before, "refused_queue_total") };
}
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

// ---- results --------------------------------------------------------------------------
export const merge = (maps) => maps.reduce((a, m) => { for (const [k, v] of Object.entries(m)) a[k] = (a[k] || 0) + v; return a; }, {});
export const fmtMap = (m) => Object.entries(m).map(([k, v]) => `${k}:${v}`).join(",") || "none";
// Prints one "RESULT k=v ..." line and appends the fields as JSON to jsonFile (if any).
export function result(fields, jsonFile) {
  const line = "RESULT " + Object.entries(fields).map(([k, v]) =>
    `${k}=${(typeof v === "object" ? fmtMap(v) : String(v)).replace(/\s+/g, "_")}`).join(" ");
  console.log(line);
  if (jsonFile) appendFileSync(jsonFile, JSON.stringify(fields) + "\n");
}
export const median = (xs) => {
  const s = xs.map(Number).sort((a, b) => a - b); const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---- worker processes (driven over IPC: {cmd} -> {ev}) --------------------------------
// forkWorkers(script, n, log) -> [worker]; ask(w, msg, ev) -> the first reply of kind ev.
export function forkWorkers(script, n, log) {
  const workers = Array.from({ length: n }, () => {
    const w = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    w.waiters = [];
    w.on("message", (m) => {
      const i = w.waiters.findIndex((x) => x.ev === m.ev);
      if (i >= 0) w.waiters.splice(i, 1)[0].resolve(m);
    });
    w.on("exit", (code) => { if (code) { log(`worker exited with ${code}`); process.exit(1); } });
    return w;
  });
  return Promise.all(workers.map((w) => expect(w, "ready"))).then(() => workers);
}
export function expect(w, ev) { return new Promise((resolve) => w.waiters.push({ ev, resolve })); }
export function ask(w, msg, ev) { const p = expect(w, ev); w.send(msg); return p; }

/// Worker side: closes every open client socket of `conns` and tells the driver "closed"
/// (with the number left when some did not close within 15 s).
export function closeAll(conns) {
  let left = conns.filter((k) => k.open).length;
  if (!left) { process.send({ ev: "closed" }); return; }
  for (const k of conns) {
    if (!k.open) continue;
    k.onClose = () => { if (--left === 0) process.send({ ev: "closed" }); };
    k.ws.close(1000);
  }
  setTimeout(() => { if (left > 0) process.send({ ev: "closed", unclosed: left }); left = -1e9; }, 15000);
}

/// Driver side: the result rows of `scenario` in the JSON-lines files of earlier runs.
export function readRows(files, scenario) {
  return files.flatMap((f) => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l)))
    .filter((r) => r.scenario === scenario);
}
