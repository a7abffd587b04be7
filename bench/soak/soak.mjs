// The soak's load generator and sampler (started by bench/soak/run; one process, to leave
// the machine's cores to the node): for --minutes it drives a mix of ordinary users and the
// floods of issue 15 at their limits against one node, and every --sample-s seconds records
// the node's gauges (RSS, open files, threads, CPU, Redis used_memory, PostgreSQL
// connections, the gauges and non-HTTP counters of /metrics) with the requests of the
// interval in a CSV; at the end one RESULT line: start/end/max and the slope over the
// second half of every gauge, p50/p99 and errors per operation, and the flatness verdict.
//
// Users come from bench/social/seed.sql + bench/soak/seed.sql (tokens.tsv: "id<TAB>token",
// line i is u00000i). Roles: u000001 floods update-presence from ws.max_connections sockets
// at ws.rate_per_s each (friends up to users.max_friends); u000002 floods typing the same way
// into a group of 256; u000003 floods shares; registrations flood from this one address;
// the --online users from --online-first stay connected on /ws and poll, share, update their
// profile, chat (direct and group), type, send read receipts and presence; the users after
// them (up to --churn-last) connect and disconnect (churn); a few registered accounts log in,
// refresh and log out.
import http from "node:http";
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { execFile } from "node:child_process";
import { openRaw } from "../realtime/rawws.mjs";
import { now, sleep, procStatus, cpuTicks, CLK_TCK, alive, loadavg } from "../realtime/lib.mjs";

// ---- options ------------------------------------------------------------------------------
const opt = {
  url: "", tokens: "", pid: 0, minutes: 30, "sample-s": 10, csv: "", online: 300, "online-first": 101,
  "churn-last": 1000, "churn-per-s": 3, "poll-s": 15, "presence-s": 15, "chat-s": 30, "share-s": 300,
  "profile-s": 300, "read-prob": 0.5, "ws-rate": 20, "ws-sockets": 8, floods: "presence,typing,share,register",
  "share-flood-per-s": 5, "register-flood-per-s": 2, accounts: 16, "login-s": 10, "refresh-s": 5,
  "redis-port": 0, "redis-host": "127.0.0.1", "pg-dsn": "", "max-rss-mb": 4096, "typing-group": 256, "cooldown-s": 30,
};
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, "");
  if (!(k in opt)) { console.error(`soak.mjs: unknown option --${k}`); process.exit(2); }
  opt[k] = typeof opt[k] === "number" ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
const floods = new Set(opt.floods === "none" ? [] : opt.floods.split(","));
const log = (s) => process.stderr.write(`soak: ${s}\n`);
const users = readFileSync(opt.tokens, "utf8").trim().split("\n").map((l) => { const [id, token] = l.split("\t"); return { id, token }; });
const user = (i) => users[i - 1];
const base = new URL(opt.url);
const wsBase = `ws://${base.host}`;
const runTag = `${Date.now().toString(36)}${process.pid.toString(36)}`;
let stopping = false;

// ---- operations: latency and outcome ---------------------------------------------------------
// Every operation counts ok / limited (429, or an error frame naming a rate or budget: the
// limit working) / err / skipped (a flood's tick not sent while the node still owed it the
// most answers in flight); flood operations are expected to be limited and stay out of the
// error rate. `win` holds the latencies of the current sample interval.
const ops = new Map();
function opOf(name, flood = false) {
  let o = ops.get(name);
  if (!o) ops.set(name, o = { name, flood, n: 0, ok: 0, limited: 0, err: 0, skipped: 0, lat: [], errs: {} });
  return o;
}
let win = { lat: [], n: 0, err: 0, limited: 0 };
function record(name, outcome, ms, detail) {
  const o = opOf(name);
  o.n++; o[outcome]++;
  if (!o.flood) { win.n++; if (outcome === "err") win.err++; if (outcome === "limited") win.limited++; }
  if (ms !== undefined && outcome === "ok") { o.lat.push(ms); if (!o.flood) win.lat.push(ms); }
  if (outcome === "err" && detail) { const d = String(detail).slice(0, 60); o.errs[d] = (o.errs[d] || 0) + 1; }
}
const isLimit = (detail) => /rate|limit|budget|too many|slow down|retry/i.test(String(detail));

// ---- HTTP -------------------------------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: 48 });
// The sampler's own connection: /metrics must not queue behind the load's requests.
const sampleAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function request(method, path, token, body, via = agent, timeout = 10000) {
  return new Promise((resolve) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (data) { headers["content-type"] = "application/json"; headers["content-length"] = data.length; }
    const r = http.request({ host: base.hostname, port: base.port, method, path, headers, agent: via, timeout }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on("error", (e) => resolve({ status: 0, body: e.code || e.message }));
    });
    r.on("timeout", () => r.destroy(new Error("timeout")));
    r.on("error", (e) => resolve({ status: 0, body: e.code || e.message }));
    if (data) r.write(data);
    r.end();
  });
}
// One timed REST operation; resolves to the parsed body (or null).
async function call(name, method, path, token, body) {
  const t = now();
  const r = await request(method, path, token, body);
  const ms = now() - t;
  if (r.status >= 200 && r.status < 300) {
    record(name, "ok", ms);
    try { return r.body ? JSON.parse(r.body) : {}; } catch { return {}; }
  }
  record(name, r.status === 429 ? "limited" : "err", ms, `${r.status} ${r.body.slice(0, 50)}`);
  return null;
}

// ---- WebSockets ---------------------------------------------------------------------------------
const socks = new Set(); // every open client socket, for the end
// connect(name, u, path, onFrame) -> Promise<ws | null>, timed as operation `name`.
function connect(name, u, path, onFrame, onClose) {
  return new Promise((resolve) => {
    const t = now();
    let ws = null, opened = false;
    ws = openRaw(`${wsBase}${path}?Authorization=${u.token}`, {
      open() { opened = true; record(name, "ok", now() - t); socks.add(ws); resolve(ws); },
      fail(reason) { record(name, "err", now() - t, reason); resolve(null); },
      message(buf) { onFrame?.(buf); },
      close(code) { socks.delete(ws); if (opened) onClose?.(code); },
    });
  });
}
const ERROR = Buffer.from('"type":"error"');

// ---- ordinary connected users ---------------------------------------------------------------------
const online = [];
const jitter = (s) => (s * (0.5 + Math.random())) * 1000;
function every(s, fn) { // fn every ~s seconds (jittered), first call after a random fraction
  const tick = async () => { if (stopping) return; try { await fn(); } catch (e) { log(`task: ${e.stack}`); } setTimeout(tick, jitter(s)); };
  setTimeout(tick, Math.random() * s * 1000);
}

const FRAME_OPS = { "send-message": "ws_chat_send", "read-messages": "ws_read", typing: "ws_typing", "update-presence": "ws_presence" };
class Member {
  constructor(i) {
    this.i = i; this.u = user(i); this.convs = []; this.chat = new Map(); this.presenceAt = 0;
    this.ws = null; this.n = 0;
  }
  async connect() {
    this.ws = await connect("ws_connect", this.u, "/ws", (b) => this.frame(b), (code) => {
      if (stopping) return;
      record("ws_dropped", "err", undefined, `close ${code}`);
      setTimeout(() => this.connect(), 1000);
    });
    if (!this.ws && !stopping) setTimeout(() => this.connect(), 2000); // refused: try again
  }
  frame(b) {
    let m;
    try { m = JSON.parse(b.toString()); } catch { record("ws_frame", "err", undefined, "unparsable"); return; }
    if (m.type === "new-message") {
      if (m.senderId === this.u.id) {
        const t = this.chat.get(m.tempMessageId);
        if (t !== undefined) { this.chat.delete(m.tempMessageId); record("ws_chat_send", "ok", now() - t); }
      } else if (Math.random() < opt["read-prob"]) {
        setTimeout(() => this.send("ws_read", { action: "read-messages", conversationId: m.conversationId }), 500 + Math.random() * 2500);
      }
    } else if (m.type === "update-presence" && m.userId === this.u.id && this.presenceAt) {
      record("ws_presence", "ok", now() - this.presenceAt); this.presenceAt = 0;
    } else if (m.type === "error") {
      if (m.tempMessageId && !this.chat.delete(m.tempMessageId)) return; // counted at its 10 s timeout
      record(FRAME_OPS[m.action] || "ws_frame", isLimit(m.detail) ? "limited" : "err", undefined, m.detail);
    }
  }
  send(name, frame) {
    if (!this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    if (name) record(name, "ok");
    return true;
  }
  presence() {
    if (this.presenceAt) record("ws_presence", "err", undefined, "no echo before the next update");
    this.presenceAt = now();
    if (!this.send(null, { action: "update-presence", url: `https://soak.example/u${this.i}/${this.n++}`, title: `page ${this.n}` })) this.presenceAt = 0;
  }
  chatSend() {
    if (!this.convs.length) return;
    const c = this.convs[(Math.random() * this.convs.length) | 0];
    this.send("ws_typing", { action: "typing", conversationId: c });
    const temp = `${runTag}.${this.i}.${this.n++}`;
    setTimeout(() => {
      if (this.send(null, { action: "send-message", tempMessageId: temp, conversationId: c, content: `soak ${temp}` })) this.chat.set(temp, now());
    }, 300 + Math.random() * 700);
  }
  sweep() { // acknowledgements that never came
    const old = now() - 10000;
    for (const [k, t] of this.chat) if (t < old) { this.chat.delete(k); record("ws_chat_send", "err", undefined, "no ack in 10 s"); }
    if (this.presenceAt && this.presenceAt < old) { this.presenceAt = 0; record("ws_presence", "err", undefined, "no echo in 10 s"); }
  }
  async poll() {
    const t = this.u.token;
    await call("get_requests", "GET", "/friendship/requests", t);
    const unread = await call("get_unread", "GET", "/notifications/share?is_read=false", t);
    if (Array.isArray(unread) && unread.length && Math.random() < opt["read-prob"]) // the badge opened
      await call("mark_read", "POST", "/notifications/share/read", t, unread.map((x) => ({ event_id: x.event_id })));
    await call("get_presence", "GET", "/presence", t);
    if (Math.random() < 0.25) {
      await call("get_conversations", "GET", "/conversations?limit=20", t);
      await call("get_friends", "GET", "/friendship/all?limit=100", t);
      if (this.convs.length) await call("get_messages", "GET", `/conversations/${this.convs[0]}/messages?limit=20&offset=0`, t);
    }
  }
  async share() {
    await call("share", "POST", "/notifications/share", this.u.token, { url: `https://soak.example/s/${this.i}/${this.n++}`, title: "soak share" });
  }
  async profile() {
    const t = this.u.token;
    if (!this.me) this.me = await call("get_me", "GET", "/users/me", t);
    if (!this.me) return;
    const keys = ["first_name", "last_name", "description", "share_mode", "domain_allow_array", "domain_deny_array",
      "gender", "school", "work", "location", "email_public", "gender_public", "school_public", "work_public", "location_public"];
    const body = Object.fromEntries(keys.map((k) => [k, this.me[k]]));
    body.description = `soak ${this.n++}`;
    body.share_mode = "default_all";
    const r = await call("profile_update", "PUT", "/users/me", t, body);
    if (r) this.me = r;
  }
}

async function pool(items, width, fn) { // fn over items, `width` at a time
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < items.length) await fn(items[next++]); }));
}

async function setupConversations() {
  const byId = new Map(online.map((m) => [m.i, m]));
  await pool(online, 8, async (m) => { // a direct conversation with the next user (a friend)
    const peer = byId.get(m.i + 1);
    if (!peer) return;
    const r = await call("create_conversation", "POST", "/conversation", m.u.token, { recipientIdArr: [peer.u.id], isGroup: false, title: "" });
    if (r?.conversationId) { m.convs.push(r.conversationId); peer.convs.push(r.conversationId); }
  });
  const heads = online.filter((_, k) => k % 8 === 0);
  await pool(heads, 8, async (m) => { // groups of 8 connected users
    const members = online.slice(online.indexOf(m), online.indexOf(m) + 8);
    if (members.length < 3) return;
    const r = await call("create_conversation", "POST", "/conversation", m.u.token,
      { recipientIdArr: members.slice(1).map((x) => x.u.id), isGroup: true, title: `soak group ${m.i}` });
    if (r?.conversationId) for (const x of members) x.convs.push(r.conversationId);
  });
}

// ---- churn: users that connect, stay a little, and leave ----------------------------------------
const churnFirst = () => opt["online-first"] + opt.online, churnLast = () => Math.min(opt["churn-last"], users.length);
// Their actors are loaded before the load starts, so that a short run's RSS shows growth,
// not the population of actors filling up (an idle actor lives users.idle_timeout_s).
async function warmChurn() {
  const ids = [];
  for (let i = churnFirst(); i <= churnLast(); i++) ids.push(i);
  await pool(ids, 8, (i) => call("warm_up", "GET", "/friendship/requests", user(i).token));
}
function churn() {
  const first = churnFirst(), last = churnLast();
  if (last < first || opt["churn-per-s"] <= 0) return;
  const busy = new Set();
  setInterval(async () => {
    if (stopping) return;
    const i = first + ((Math.random() * (last - first + 1)) | 0);
    if (busy.has(i)) return;
    busy.add(i);
    const path = Math.random() < 0.7 ? "/ws/presence" : "/ws/chat";
    const ws = await connect("ws_churn_connect", user(i), path, (b) => {
      if (b.indexOf(ERROR) >= 0) record("ws_churn_frame", "err", undefined, b.toString().slice(0, 60));
    });
    if (!ws) { busy.delete(i); return; }
    if (path === "/ws/presence") ws.send(JSON.stringify({ action: "update-presence", url: `https://soak.example/c${i}`, title: "churn" }));
    setTimeout(() => {
      if (Math.random() < 0.8) ws.close(1000); else ws.terminate(); // some leave without a close handshake
      busy.delete(i);
    }, 5000 + Math.random() * 25000);
  }, 1000 / opt["churn-per-s"]);
}

// ---- accounts: login, refresh, logout ------------------------------------------------------------
async function accounts() {
  const list = [];
  for (let k = 0; k < opt.accounts; k++) {
    const a = { email: `soak-${runTag}-${k}@soak.example`, password: `soak-password-${k}` };
    const r = await call("register", "POST", "/auth/register", null, a);
    if (!r) continue;
    a.refresh = r.refresh_token;
    await call("create_profile", "POST", "/users/me", r.access_token, { first_name: "Soak", last_name: `Account ${k}` });
    list.push(a);
  }
  log(`${list.length} of ${opt.accounts} accounts registered`);
  if (!list.length) return;
  // One operation at a time per account: a refresh racing another would replay a rotated token.
  const pick = () => { const a = list[(Math.random() * list.length) | 0]; return a.busy ? null : a; };
  every(opt["login-s"], async () => { // a new session replaces the old one, which logs out
    const a = pick();
    if (!a) return;
    a.busy = true;
    const r = await call("login", "POST", "/auth/login", null, { email: a.email, password: a.password });
    if (r) {
      const old = a.refresh;
      a.refresh = r.refresh_token;
      await call("logout", "POST", "/auth/logout", null, { refresh_token: old });
    }
    a.busy = false;
  });
  every(opt["refresh-s"], async () => {
    const a = pick();
    if (!a) return;
    a.busy = true;
    const r = await call("refresh", "POST", "/auth/refresh", null, { refresh_token: a.refresh });
    if (r?.refresh_token) a.refresh = r.refresh_token;
    a.busy = false;
  });
}

// ---- floods ---------------------------------------------------------------------------------------
// `sockets` sockets of one user on `path`, each sending frame() at the per-socket rate (the
// limit the node enforces today); error frames are what was shed; a closed socket reconnects.
function socketFlood(name, u, path, frame) {
  opOf(`${name}_frame`, true); opOf(`${name}_connect`, true);
  for (let s = 0; s < opt["ws-sockets"]; s++) {
    const run = async () => {
      if (stopping) return;
      const ws = await connect(`${name}_connect`, u, path, (b) => {
        if (b.indexOf(ERROR) >= 0) record(`${name}_frame`, "limited");
      }, () => setTimeout(run, 1000));
      if (!ws) { setTimeout(run, 2000); return; }
      const timer = setInterval(() => {
        if (stopping || !socks.has(ws)) { clearInterval(timer); return; }
        ws.send(frame()); record(`${name}_frame`, "ok");
      }, 1000 / opt["ws-rate"]);
    };
    setTimeout(run, s * 50);
  }
}
function restFlood(name, perS, inflightMax, fn) {
  opOf(name, true);
  let inflight = 0;
  setInterval(() => {
    if (stopping) return;
    if (inflight >= inflightMax) { record(name, "skipped"); return; }
    inflight++;
    fn().finally(() => inflight--);
  }, 1000 / perS);
}
async function startFloods() {
  let n = 0;
  if (floods.has("presence")) {
    socketFlood("flood_presence", user(1), "/ws/presence",
      () => JSON.stringify({ action: "update-presence", url: `https://flood.example/p/${n++}`, title: `flood ${n}` }));
  }
  if (floods.has("typing")) {
    const others = [];
    for (let i = opt["online-first"]; i < opt["online-first"] + 10; i++) others.push(user(i).id);
    for (let i = opt["online-first"] + opt.online; others.length < opt["typing-group"] - 1 && i <= users.length; i++) others.push(user(i).id);
    const r = await call("create_conversation", "POST", "/conversation", user(2).token, { recipientIdArr: others, isGroup: true, title: "typing flood" });
    if (r?.conversationId) {
      const f = JSON.stringify({ action: "typing", conversationId: r.conversationId });
      socketFlood("flood_typing", user(2), "/ws/chat", () => f);
    }
  }
  if (floods.has("share")) {
    restFlood("flood_share", opt["share-flood-per-s"], 8, async () => {
      const t = now();
      const r = await request("POST", "/notifications/share", user(3).token, { url: `https://flood.example/s/${n++}`, title: "flood" });
      floodOutcome("flood_share", r, now() - t);
    });
  }
  if (floods.has("register")) {
    restFlood("flood_register", opt["register-flood-per-s"], 8, async () => {
      const t = now();
      const r = await request("POST", "/auth/register", null, { email: `flood-${runTag}-${n++}@flood.example`, password: "flood-password" });
      floodOutcome("flood_register", r, now() - t);
    });
  }
}
function floodOutcome(name, r, ms) {
  record(name, r.status >= 200 && r.status < 300 ? "ok" : r.status === 429 ? "limited" : "err", ms, `${r.status} ${r.body.slice(0, 50)}`);
}

// ---- sampling ---------------------------------------------------------------------------------------
const sh = (cmd, args) => new Promise((resolve) => execFile(cmd, args, { timeout: 5000 }, (e, out) => resolve(e ? "" : out)));
async function metrics() {
  const r = await request("GET", "/metrics", null, undefined, sampleAgent, 3000);
  const types = {}, out = {};
  if (r.status !== 200) return out;
  for (const line of r.body.split("\n")) {
    const t = line.match(/^# TYPE (\S+) (\S+)/);
    if (t) { types[t[1]] = t[2]; continue; }
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/);
    if (!m || m[1].startsWith("tandem_http_request")) continue; // per-route series: the driver times requests itself
    const type = types[m[1]] || types[m[1].replace(/_total$/, "")];
    if (type !== "gauge" && type !== "counter") continue;
    const key = `m_${m[1]}${m[2] ? "_" + m[2].replace(/[{}"]/g, "").replace(/[^\w]+/g, "_") : ""}`;
    out[key] = Number(m[3]);
  }
  return out;
}
// The q-quantile of the latencies xs (sorted in place), ms with two decimals.
function quantile(xs, q) {
  if (!xs.length) return NaN;
  xs.sort((a, b) => a - b);
  return +xs[Math.min(xs.length - 1, Math.floor(q * xs.length))].toFixed(2);
}
const rows = [];
let cols = ["t_s", "rss_kb", "fds", "threads", "node_cpu_pct", "redis_used_kb", "pg_conns", "req", "err", "limited", "p50_ms", "p99_ms"];
let lastTicks = null, lastT = 0;
async function sample(t0) {
  if (!alive(opt.pid)) return null;
  const t = now(), ticks = cpuTicks(opt.pid);
  const row = { t_s: Math.round((t - t0) / 1000), rss_kb: procStatus(opt.pid, "VmRSS"), threads: procStatus(opt.pid, "Threads") };
  try { row.fds = readdirSync(`/proc/${opt.pid}/fd`).length; } catch { row.fds = NaN; }
  row.node_cpu_pct = lastTicks ? +((100 * (ticks.user + ticks.sys - lastTicks.user - lastTicks.sys)) / CLK_TCK / ((t - lastT) / 1000)).toFixed(1) : NaN;
  lastTicks = ticks; lastT = t;
  if (opt["redis-port"]) {
    const m = (await sh("redis-cli", ["-h", opt["redis-host"], "-p", String(opt["redis-port"]), "INFO", "memory"])).match(/^used_memory:(\d+)/m);
    row.redis_used_kb = m ? Math.round(Number(m[1]) / 1024) : NaN;
  }
  if (opt["pg-dsn"]) row.pg_conns = Number((await sh("psql", [opt["pg-dsn"], "-qAtXc", "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"])).trim());
  const w = win; win = { lat: [], n: 0, err: 0, limited: 0 };
  Object.assign(row, { req: w.n, err: w.err, limited: w.limited, p50_ms: quantile(w.lat, 0.5), p99_ms: quantile(w.lat, 0.99) }, await metrics());
  for (const k of Object.keys(row)) if (!cols.includes(k)) cols.push(k);
  rows.push(row);
  writeFileSync(opt.csv, [cols.join(","), ...rows.map((r) => cols.map((c) => (r[c] === undefined || Number.isNaN(r[c]) ? "" : r[c])).join(","))].join("\n") + "\n");
  return row;
}

// Least-squares slope of y over t (per 10 minutes) for the rows of the second half.
// Also the change that trend makes over those rows and the residuals' standard deviation
// (a trend within twice the noise is not growth: churn makes sockets and files jitter).
function trend(rs, key) {
  const pts = rs.map((r) => [r.t_s, r[key]]).filter(([, y]) => Number.isFinite(y));
  if (pts.length < 3) return { slope: NaN, change: NaN, noise: NaN };
  const n = pts.length, mt = pts.reduce((a, p) => a + p[0], 0) / n, my = pts.reduce((a, p) => a + p[1], 0) / n;
  let num = 0, den = 0;
  for (const [t, y] of pts) { num += (t - mt) * (y - my); den += (t - mt) ** 2; }
  const b = den ? num / den : 0;
  const noise = Math.sqrt(pts.reduce((a, [t, y]) => a + (y - my - b * (t - mt)) ** 2, 0) / (n - 2));
  return { slope: den ? b * 600 : NaN, change: b * (pts[n - 1][0] - pts[0][0]), noise };
}

let loadRows = 0;
function summary(aborted, genCpu) {
  const f = { minutes: opt.minutes, samples: rows.length, aborted: aborted || "no" };
  // rows[0] is the node before the load; the cool-down rows come after it and are not trended.
  const measured = rows.slice(0, loadRows);
  const half = measured.slice(1 + Math.floor((measured.length - 1) / 2));
  const within = {}; // gauge -> its second-half trend is within the noise
  const gauges = cols.filter((c) => !["t_s", "req", "err", "limited", "p50_ms", "p99_ms"].includes(c) && !/_total/.test(c));
  for (const g of gauges) {
    const ys = measured.map((r) => r[g]).filter(Number.isFinite);
    if (!ys.length) continue;
    const name = g.replace(/^m_tandem_/, "");
    f[`${name}_start`] = ys[0]; f[`${name}_end`] = ys[ys.length - 1]; f[`${name}_max`] = Math.max(...ys);
    const tr = trend(half, g);
    f[`${name}_slope_per_10min`] = +tr.slope.toFixed(1);
    within[name] = Math.abs(tr.change) <= 2 * tr.noise;
  }
  for (const c of cols.filter((c) => /_total/.test(c))) { // counters: what happened during the run
    const ys = rows.map((r) => r[c]).filter(Number.isFinite);
    if (ys.length) f[`${c.replace(/^m_tandem_/, "")}_delta`] = ys[ys.length - 1] - ys[0];
  }
  let n = 0, err = 0;
  for (const o of [...ops.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    f[`${o.name}_n`] = o.n;
    if (o.lat.length) { f[`${o.name}_p50_ms`] = quantile(o.lat, 0.5); f[`${o.name}_p99_ms`] = quantile(o.lat, 0.99); }
    if (o.limited) f[`${o.name}_limited`] = o.limited;
    if (o.err) f[`${o.name}_err`] = o.err;
    if (o.skipped) f[`${o.name}_skipped`] = o.skipped;
    if (!o.flood) { n += o.n; err += o.err; }
  }
  f.error_rate = n ? +(err / n).toFixed(5) : NaN;
  // Flat: a gauge whose trend over the second half is under a small share of its level per
  // 10 minutes, or within its noise.
  const under = (name, floor, share) => !Number.isFinite(f[`${name}_slope_per_10min`]) || within[name] ||
    Math.abs(f[`${name}_slope_per_10min`]) <= Math.max(floor, share * Math.abs(f[`${name}_end`]));
  const flat = { rss: under("rss_kb", 4096, 0.02), fds: under("fds", 10, 0.05), threads: under("threads", 1, 0),
                 redis: under("redis_used_kb", 256, 0.02), pg_conns: under("pg_conns", 1, 0) };
  if (rows.length > loadRows) { // after the load: what the node gives back
    const last = rows[rows.length - 1];
    f.cooldown_s = last.t_s - measured[measured.length - 1].t_s;
    for (const g of ["rss_kb", "fds", "threads", "redis_used_kb", "pg_conns"]) if (Number.isFinite(last[g])) f[`${g}_after_cooldown`] = last[g];
  }
  for (const g of gauges.filter((g) => g.startsWith("m_") && !/largest/.test(g))) {
    const name = g.replace(/^m_tandem_/, "");
    flat[name] = under(name, 10, 0.05);
  }
  const growing = Object.entries(flat).filter(([, v]) => !v).map(([k]) => k);
  f.gen_cpu_pct = genCpu;
  f.flat = growing.length || aborted ? "no" : "yes";
  f.growing = growing.join("+") || "none";
  console.log("RESULT " + Object.entries(f).map(([k, v]) => `${k}=${v}`).join(" "));
  for (const o of ops.values()) if (Object.keys(o.errs).length) log(`${o.name} errors: ${JSON.stringify(o.errs)}`);
}

// ---- main -----------------------------------------------------------------------------------------------
const t0 = now();
await sample(t0);
log(`setup: ${opt.online} connected users from u${String(opt["online-first"]).padStart(6, "0")}, floods: ${[...floods].join(",") || "none"}`);
for (let i = opt["online-first"]; i < opt["online-first"] + opt.online && i <= users.length; i++) online.push(new Member(i));
await setupConversations();
await warmChurn();
await pool(online, 16, (m) => m.connect());
log(`${online.filter((m) => m.ws).length} users connected; running ${opt.minutes} min`);
const cpu0 = process.cpuUsage(), start = now();
for (const m of online) {
  every(opt["poll-s"], () => m.poll());
  every(opt["presence-s"], () => m.presence());
  every(opt["chat-s"], () => m.chatSend());
  every(opt["share-s"], () => m.share());
  every(opt["profile-s"], () => m.profile());
}
setInterval(() => { if (!stopping) for (const m of online) m.sweep(); }, 5000);
churn();
await accounts(); // registered before the registration flood spends the address's budget
await startFloods();

let aborted = "";
const end = start + opt.minutes * 60000;
for (let k = 1; now() < end; k++) { // samples on a fixed grid, however long one takes
  await sleep(Math.max(0, Math.min(start + k * opt["sample-s"] * 1000, end) - now()));
  const r = await sample(t0);
  if (!r) { aborted = "node_died"; break; }
  log(`t=${r.t_s}s rss=${Math.round(r.rss_kb / 1024)}MB fds=${r.fds} cpu=${r.node_cpu_pct}% redis=${r.redis_used_kb}kB req=${r.req} err=${r.err} p99=${r.p99_ms}ms load=${loadavg()}`);
  if (r.rss_kb > opt["max-rss-mb"] * 1024) { aborted = `rss_over_${opt["max-rss-mb"]}MB`; break; }
}
stopping = true;
const used = process.cpuUsage(cpu0);
const genCpu = +((100 * (used.user + used.system)) / 1000 / (now() - start)).toFixed(1);
loadRows = rows.length;
for (const ws of socks) ws.terminate();
if (aborted !== "node_died" && opt["cooldown-s"] > 0) {
  log(`load stopped; ${opt["cooldown-s"]} s of cool-down`);
  const cool = now();
  for (let k = 1; now() < cool + opt["cooldown-s"] * 1000; k++) {
    await sleep(Math.max(0, Math.min(cool + k * opt["sample-s"] * 1000, cool + opt["cooldown-s"] * 1000) - now()));
    const r = await sample(t0);
    if (!r) break;
    log(`cool-down t=${r.t_s}s rss=${Math.round(r.rss_kb / 1024)}MB fds=${r.fds} cpu=${r.node_cpu_pct}% redis=${r.redis_used_kb}kB`);
  }
}
summary(aborted, genCpu);
agent.destroy(); sampleAgent.destroy();
process.exit(0);
