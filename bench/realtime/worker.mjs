// One load-generator process of bench/realtime (forked by bench.mjs, driven over IPC):
// holds the WebSockets of its share of the users, sends presence updates and measures
// update -> delivery latency. Every update's title is "t=<epoch ms>" taken from
// performance.timeOrigin + performance.now(), i.e. CLOCK_REALTIME with sub-millisecond
// resolution, so a delivery can be timed in whichever client process receives it. On a
// cluster (users connected straight to given nodes) the title also names the sender's node,
// "t=<ms>@<node>", so that deliveries to a socket on another node are timed apart.
import WebSocket from "ws";
import { openRaw } from "./rawws.mjs";
import { now, Histogram, closeAll } from "./lib.mjs";

const TITLE = Buffer.from('"title":"t=');
const QUOTE = 0x22;
// The server's rate limit is ws.rate_per_s (20) with a burst of ws.rate_burst (40) per
// socket; a sender stays under it with its own bucket (overridable for other configs).
const RATE = Number(process.env.BENCH_SENDER_RATE || 19);
const BURST = Number(process.env.BENCH_SENDER_BURST || 10);

const conns = []; // {id, ws, needle, tokens, tokensAt, outstanding, sentAt}
const closes = {}; // close code -> count (after the connection was open)
const errors = {}; // error message -> count
const others = {}; // other frame types -> count
const samples = []; // a few non-presence frames, verbatim
let phase = null; // current sending phase
const lat = new Histogram(); // friend deliveries of updates sent inside the window
const latCross = new Histogram(); // those of them whose sender's socket is on another node
const latSame = new Histogram(); // and on the same node
const lag = new Histogram(); // rate mode: actual send time - scheduled send time
let win = null; // {start, end} epoch ms of the measured window
let c = {}; // counters of the current phase
let closingAll = false; // our own close at the end: its closes are not counted
let cpuAt = null; // process.cpuUsage() when the window opened

function resetCounters() {
  c = {
    sent: 0, sent_in_window: 0, throttled: 0, echo_timeouts: 0,
    recv_in_window: 0, friend_recv_in_window: 0, echo_recv_in_window: 0,
    friend_of_window: 0, echo_of_window: 0, recv_total: 0,
  };
  lat.reset();
  latCross.reset();
  latSame.reset();
  lag.reset();
}
resetCounters();

function bump(map, key) { map[key] = (map[key] || 0) + 1; }

function takeToken(k, t) {
  k.tokens = Math.min(BURST, k.tokens + ((t - k.tokensAt) * RATE) / 1000);
  k.tokensAt = t;
  if (k.tokens < 1) return false;
  k.tokens -= 1;
  return true;
}

// Sends one update stamped t, unless the measured window has closed (then sending stops,
// so that no update sent after the window is mistaken for one inside it).
function send(k, t) {
  const ts = t.toFixed(3), tr = Number(ts); // the receivers see tr
  if (win?.end && tr >= win.endR) return false;
  k.ws.send(`{"action":"update-presence","url":"https://www.bench-${k.idx % 97}.com/p/${c.sent}","title":"t=${ts}@${k.node}"}`);
  k.outstanding = true;
  k.sentAt = tr;
  c.sent++;
  if (win && tr >= win.startR) c.sent_in_window++;
  return true;
}

function onMessage(k, data) {
  const t = now();
  c.recv_total++;
  const inWin = win && t >= win.start && (win.end === 0 || t < win.end);
  // sentT has 3 decimals: compare with the window bounds rounded the same way.
  const i = data.indexOf(TITLE);
  if (i < 0) {
    const s = data.toString();
    let type = "unparsable";
    try { type = JSON.parse(s).type ?? "no-type"; } catch { /* counted as unparsable */ }
    bump(others, type);
    if (samples.length < 5) samples.push(s.slice(0, 300));
    return;
  }
  const a = i + TITLE.length;
  const title = data.toString("latin1", a, data.indexOf(QUOTE, a));
  const sentT = parseFloat(title); // stops at "@<node>"
  const cross = !title.endsWith(`@${k.node}`);
  const echo = data.indexOf(k.needle) >= 0;
  if (inWin) {
    c.recv_in_window++;
    if (echo) c.echo_recv_in_window++; else c.friend_recv_in_window++;
  }
  const ofWin = win && sentT >= win.startR && (win.end === 0 || sentT < win.endR);
  if (ofWin) {
    if (echo) c.echo_of_window++;
    else { c.friend_of_window++; lat.add(t - sentT); (cross ? latCross : latSame).add(t - sentT); }
  }
  if (echo && k.outstanding && sentT === k.sentAt) {
    k.outstanding = false;
    if (phase?.kind === "saturate") { phase.inflight--; fill(); }
  }
}

// Saturating mode: at most phase.cap updates in flight (sent, own echo not yet back) per
// process, each from a sender without one in flight and with a token.
let rrSat = 0;
function fill() {
  if (!phase?.running || phase.kind !== "saturate") return;
  const t = now();
  const ring = phase.mine;
  for (let tries = 0; phase.inflight < phase.cap && tries < ring.length; tries++) {
    const k = ring[rrSat++ % ring.length];
    if (!k.open || k.outstanding || !takeToken(k, t)) continue;
    if (!send(k, t)) return;
    phase.inflight++;
    tries = 0;
  }
  if (phase.inflight < phase.cap && !phase.retry) {
    phase.retry = setTimeout(() => { phase.retry = null; fill(); }, 5); // no sender had a token
  }
}

// A connection through the `ws` package, with the same face as rawws.mjs.
function openWs(url, h) {
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 60000 });
  let open = false;
  ws.on("unexpected-response", (_req, res) => { h.fail(`http ${res.statusCode}`); ws.terminate(); });
  ws.on("open", () => { open = true; h.open(); });
  ws.on("error", (e) => { if (!open) h.fail(e.code || e.message); });
  ws.on("close", (code) => { if (open) h.close(code); });
  ws.on("message", (data) => h.message(data));
  return { send: (s) => ws.send(s), close: (code) => ws.close(code), terminate: () => ws.terminate() };
}

// users: {id, token, url?, node?}: a user with a url connects there (a node of a cluster,
// numbered node) instead of to `url`.
function connectAll({ url, users, concurrency, client }) {
  const open = client === "ws" ? openWs : openRaw;
  return new Promise((resolve) => {
    const statuses = {};
    let next = 0, inflight = 0, ok = 0, failed = 0;
    const t0 = now();
    const pump = () => {
      while (inflight < concurrency && next < users.length) {
        const u = users[next++];
        inflight++;
        const k = { id: u.id, idx: conns.length, node: u.node ?? 0, ws: null, needle: Buffer.from(`"userId":"${u.id}"`),
                    tokens: BURST, tokensAt: now(), outstanding: false, sentAt: 0, open: false, onClose: null };
        let settled = false;
        const settle = (good, why) => {
          if (settled) return;
          settled = true;
          inflight--;
          if (good) ok++; else { failed++; bump(statuses, why); }
          if (ok + failed === users.length) resolve({ ok, failed, statuses, ms: now() - t0 });
          else pump();
        };
        k.ws = open(`${u.url ?? url}?Authorization=${encodeURIComponent(u.token)}`, {
          open: () => { k.open = true; conns.push(k); settle(true); },
          fail: (why) => { bump(errors, why); settle(false, why); },
          close: (code) => {
            if (k.open && !closingAll) bump(closes, code);
            k.open = false;
            k.onClose?.();
          },
          message: (data) => onMessage(k, data),
        });
      }
    };
    if (users.length === 0) resolve({ ok, failed, statuses, ms: 0 });
    pump();
  });
}

function startPhase(p) {
  phase = { ...p, running: true };
  const mine = conns.filter((k) => k.open);
  for (const k of mine) k.outstanding = false;
  if (p.kind === "saturate") {
    // Closed loop: phase.cap updates in flight per process; an update is done when the
    // sender's own echo is back, or after 5 s (counted: an echo lost or coalesced).
    Object.assign(phase, { mine, inflight: 0, cap: p.inflight, retry: null });
    fill();
    phase.watch = setInterval(() => {
      const t = now();
      for (const k of mine) {
        if (k.outstanding && t - k.sentAt > 5000) { c.echo_timeouts++; k.outstanding = false; phase.inflight--; }
      }
      fill();
    }, 1000);
  } else {
    // Open loop at a fixed rate, senders in turn; a sender without a token is skipped.
    const start = now();
    let rr = 0, scheduled = 0;
    phase.timer = setInterval(() => {
      const t = now();
      const due = Math.floor(((t - start) * p.rate) / 1000) - scheduled;
      for (let d = 0; d < due; d++) {
        const sched = start + ((scheduled + 1) * 1000) / p.rate;
        scheduled++;
        let sent = false;
        for (let tries = 0; tries < mine.length && !sent; tries++) {
          const k = mine[rr++ % mine.length];
          if (k.open && takeToken(k, t)) { lag.add(now() - sched); send(k, now()); sent = true; }
        }
        if (!sent) c.throttled++;
      }
    }, 1);
  }
}

function stopPhase() {
  if (!phase) return;
  phase.running = false;
  clearInterval(phase.timer);
  clearInterval(phase.watch);
  clearTimeout(phase.retry);
}

function mem() {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

process.on("message", async (m) => {
  switch (m.cmd) {
    case "connect": {
      const r = await connectAll(m);
      process.send({ ev: "connected", ...r, errors, mem: mem() });
      break;
    }
    case "phase":
      resetCounters();
      win = null;
      startPhase(m);
      process.send({ ev: "started" });
      break;
    case "measure": // the measured window opens at m.start (epoch ms, the same in every process)
      win = { start: m.start, end: 0, startR: Math.round(m.start * 1000) / 1000, endR: 0 };
      setTimeout(() => { cpuAt = process.cpuUsage(); }, Math.max(0, m.start - now()));
      process.send({ ev: "measuring" });
      break;
    case "stop": // the window closes at m.end; no update is sent from then on
      win.end = m.end;
      win.endR = Math.round(m.end * 1000) / 1000;
      setTimeout(() => {
        stopPhase();
        process.send({ ev: "stopped", cpu: cpuAt ? process.cpuUsage(cpuAt) : null });
      }, Math.max(0, m.end - now()));
      break;
    case "collect":
      process.send({ ev: "stats", counters: c, window_ms: win ? win.end - win.start : 0,
                     lat: lat.dump(), lat_cross: latCross.dump(), lat_same: latSame.dump(), lag: lag.dump(), open: conns.filter((k) => k.open).length,
                     closes, errors, others, samples, mem: mem() });
      break;
    case "status":
      process.send({ ev: "status", open: conns.filter((k) => k.open).length, closes, errors, others, samples });
      break;
    case "close":
      closingAll = true;
      closeAll(conns);
      break;
    case "exit":
      process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0)); // the driver is gone
process.send({ ev: "ready" });
