// One load-generator process of bench/chat (forked by bench.mjs, driven over IPC): holds
// the /ws/chat sockets of whole groups, sends chat messages and follows each one to every
// online member. A message's content is "t=<epoch ms>" taken at send (lib.mjs now(): one
// clock for all processes); its tempMessageId "<run>.<user index>.<n>" finds it again. The
// sender's own new-message is the acknowledgement (committed); the others' are deliveries.
import { openRaw } from "../realtime/rawws.mjs";
import { now, Histogram, closeAll } from "../realtime/lib.mjs";

const NEW_MESSAGE = Buffer.from('"type":"new-message"');
const TEMP = Buffer.from('"tempMessageId":"');
const SEQ = Buffer.from('"seq":');
const QUOTE = 0x22;

const members = []; // {id, idx, group, conv, ws, open, outstanding, n, lastSeq}
const pending = new Map(); // tempMessageId -> {t, k, acked, recv, ofWin, failed}
let others = 0, runId = ""; // deliveries expected per message: online members of a group - 1
const closes = {}, errors = {}, frames = {}, errorDetails = {}, samples = [];
let phase = null, win = null, c = {}, closingAll = false, cpuAt = null;
const lat = new Histogram(); // send -> delivery at another member, messages sent in the window
const ack = new Histogram(); // send -> the sender's own new-message (committed)
const lag = new Histogram(); // rate mode: actual - scheduled send time

function resetCounters() {
  c = { sent: 0, sent_in_window: 0, acked_in_window: 0, delivered_in_window: 0, acked_of_window: 0,
        complete_of_window: 0, error_frames: 0, errors_of_window: 0, duplicate_acks: 0,
        acked_after_error: 0, unknown_frames: 0, seq_gaps: 0, seq_regressions: 0 };
  lat.reset(); ack.reset(); lag.reset();
}
resetCounters();
const bump = (m, k) => { m[k] = (m[k] || 0) + 1; };
const inWin = (t) => win && t >= win.start && (win.end === 0 || t < win.end);

function send(k, t) {
  if (win?.end && t >= win.end) return false;
  const temp = `${runId}.${k.idx}.${k.n++}`; // unique across runs: the database keeps them
  const rec = { t, k, acked: false, recv: 0, ofWin: inWin(t), failed: false };
  pending.set(temp, rec);
  k.ws.send(`{"action":"send-message","tempMessageId":"${temp}","conversationId":"${k.conv}","content":"t=${t.toFixed(3)}"}`);
  k.outstanding++;
  c.sent++;
  if (rec.ofWin) c.sent_in_window++;
  return true;
}

function done(k) { // the sender's message is acknowledged or refused
  k.outstanding--;
  if (phase?.kind === "saturate") { phase.inflight--; fill(); }
}

function onMessage(k, data) {
  const t = now();
  if (data.indexOf(NEW_MESSAGE) < 0) {
    const s = data.toString();
    let m = null;
    try { m = JSON.parse(s); } catch { /* below */ }
    bump(frames, m?.type ?? "unparsable");
    if (m?.type === "error") {
      c.error_frames++;
      bump(errorDetails, String(m.detail).slice(0, 80));
      const rec = m.tempMessageId && pending.get(m.tempMessageId);
      if (rec && rec.k === k && !rec.acked && !rec.failed) {
        // Kept: past the node's timeout the message may still commit and be delivered.
        rec.failed = true;
        if (rec.ofWin) c.errors_of_window++;
        done(k);
      }
    }
    if (samples.length < 5) samples.push(s.slice(0, 300));
    return;
  }
  const a = data.indexOf(TEMP) + TEMP.length;
  const temp = data.toString("latin1", a, data.indexOf(QUOTE, a));
  const si = data.indexOf(SEQ) + SEQ.length;
  const seq = parseInt(data.toString("latin1", si, si + 20), 10);
  if (k.lastSeq && seq > k.lastSeq + 1) c.seq_gaps += seq - k.lastSeq - 1;
  else if (k.lastSeq && seq <= k.lastSeq) c.seq_regressions++;
  if (seq > k.lastSeq) k.lastSeq = seq;
  const rec = pending.get(temp);
  if (!rec) { c.unknown_frames++; return; }
  if (rec.k === k) {
    if (rec.acked) { c.duplicate_acks++; return; }
    rec.acked = true;
    if (rec.failed) { c.acked_after_error++; k.outstanding++; } // done() ran at the error
    if (inWin(t)) c.acked_in_window++;
    if (rec.ofWin) { c.acked_of_window++; ack.add(t - rec.t); }
    if (rec.failed) k.outstanding--; else done(k);
  } else {
    rec.recv++;
    if (inWin(t)) c.delivered_in_window++;
    if (rec.ofWin) lat.add(t - rec.t);
  }
  if (rec.acked && rec.recv >= others) {
    if (rec.ofWin) c.complete_of_window++;
    pending.delete(temp);
  }
}

// Closed loop: at most phase.cap messages in flight in this process (sent, not yet
// acknowledged), at most one per sender, senders in turn.
let rr = 0;
function fill() {
  if (!phase?.running || phase.kind !== "saturate") return;
  const t = now();
  const ring = phase.mine;
  for (let tries = 0; phase.inflight < phase.cap && tries < ring.length; tries++) {
    const k = ring[rr++ % ring.length];
    if (!k.open || k.outstanding) continue;
    if (!send(k, t)) return;
    phase.inflight++;
    tries = 0;
  }
}

function startPhase(p) {
  phase = { ...p, running: true, mine: members.filter((k) => k.open) };
  if (p.kind === "saturate") {
    Object.assign(phase, { inflight: 0, cap: p.inflight });
    fill();
    phase.watch = setInterval(fill, 100); // in case nothing came back to refill
  } else {
    // Open loop at a fixed rate, senders in turn.
    const start = now();
    let scheduled = 0;
    phase.timer = setInterval(() => {
      const t = now();
      const due = Math.floor(((t - start) * p.rate) / 1000) - scheduled;
      for (let d = 0; d < due; d++) {
        scheduled++;
        const k = phase.mine[rr++ % phase.mine.length];
        const ts = now();
        lag.add(ts - (start + (scheduled * 1000) / p.rate));
        send(k, ts);
      }
    }, 1);
  }
}
function stopPhase() {
  if (!phase) return;
  phase.running = false;
  clearInterval(phase.timer);
  clearInterval(phase.watch);
}

// Messages sent in the window that did not make it (after the drain).
function audit() {
  let unacked = 0, incomplete = 0, missing = 0;
  for (const rec of pending.values()) {
    if (!rec.ofWin || (rec.failed && !rec.acked)) continue; // refused: counted as errors
    if (!rec.acked) unacked++;
    else { incomplete++; missing += others - rec.recv; }
  }
  return { unacked, incomplete, missing_deliveries: missing, pending_total: pending.size };
}

function connectAll({ url, users, concurrency }) {
  return new Promise((resolve) => {
    const statuses = {};
    let next = 0, inflight = 0, ok = 0, failed = 0;
    if (!users.length) { resolve({ ok, failed, statuses }); return; }
    const pump = () => {
      while (inflight < concurrency && next < users.length) {
        const u = users[next++];
        inflight++;
        const k = { ...u, ws: null, open: false, outstanding: 0, n: 0, lastSeq: 0 };
        let settled = false;
        const settle = (good, why) => {
          if (settled) return;
          settled = true;
          inflight--;
          if (good) ok++; else { failed++; bump(statuses, why); }
          if (ok + failed === users.length) resolve({ ok, failed, statuses }); else pump();
        };
        k.ws = openRaw(`${u.url ?? url}?Authorization=${encodeURIComponent(u.token)}`, {
          open: () => { k.open = true; members.push(k); settle(true); },
          fail: (why) => { bump(errors, why); settle(false, why); },
          close: (code) => { if (k.open && !closingAll) bump(closes, code); k.open = false; k.onClose?.(); },
          message: (data) => onMessage(k, data),
        });
      }
    };
    pump();
  });
}

process.on("message", async (m) => {
  switch (m.cmd) {
    case "connect":
      others = m.others;
      runId = m.run;
      process.send({ ev: "connected", ...(await connectAll(m)), rss: process.memoryUsage().rss });
      break;
    case "phase":
      resetCounters();
      for (const rec of pending.values()) rec.ofWin = false; // late ones of the last phase stay known
      win = null;
      startPhase(m);
      process.send({ ev: "started" });
      break;
    case "measure": // the window opens at m.start (epoch ms, the same in every process)
      win = { start: m.start, end: 0 };
      setTimeout(() => { cpuAt = process.cpuUsage(); }, Math.max(0, m.start - now()));
      process.send({ ev: "measuring" });
      break;
    case "stop": // the window closes at m.end; nothing is sent from then on
      win.end = m.end;
      setTimeout(() => {
        stopPhase();
        process.send({ ev: "stopped", cpu: cpuAt ? process.cpuUsage(cpuAt) : null });
      }, Math.max(0, m.end - now()));
      break;
    case "collect":
      process.send({ ev: "stats", counters: c, audit: audit(), window_ms: win ? win.end - win.start : 0,
                     lat: lat.dump(), ack: ack.dump(), lag: lag.dump(),
                     open: members.filter((k) => k.open).length, closes, errors, frames, errorDetails, samples });
      break;
    case "close":
      closingAll = true;
      closeAll(members);
      break;
    case "exit":
      process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
process.send({ ev: "ready" });
