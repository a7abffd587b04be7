// A minimal WebSocket client (RFC 6455) over node:net for the load generator: the `ws`
// package costs about 10 µs of client CPU per received frame, which on a 2-core machine
// would cap the measurable fan-out far below the node's own capacity. This one parses
// frames in place (no copy of a payload that arrived in one chunk), answers pings and
// close frames, and does nothing else: no extensions, no UTF-8 validation.
//
//   openRaw(url, handlers) -> {send(string), close(code), terminate()}
//   handlers: open(), fail(reason), message(Buffer), close(code)
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// Every socket reads into this one buffer (net's `onread`: no allocation and no 'data'
// event per read); whatever must outlive the callback is copied out of it.
const READ_BUF = Buffer.allocUnsafe(256 * 1024);

function frame(opcode, payload) {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const out = Buffer.allocUnsafe(2 + ext + 4 + n);
  out[0] = 0x80 | opcode;
  if (ext === 0) out[1] = 0x80 | n;
  else if (ext === 2) { out[1] = 0x80 | 126; out.writeUInt16BE(n, 2); }
  else { out[1] = 0x80 | 127; out.writeBigUInt64BE(BigInt(n), 2); }
  const m = 2 + ext;
  // Clients must mask; the key needs no cryptographic quality for a benchmark.
  const key = (Math.random() * 0x100000000) >>> 0;
  out.writeUInt32BE(key, m);
  const k = [out[m], out[m + 1], out[m + 2], out[m + 3]];
  for (let i = 0; i < n; i++) out[m + 4 + i] = payload[i] ^ k[i & 3];
  return out;
}

export function openRaw(url, h) {
  const u = new URL(url);
  const key = randomBytes(16).toString("base64");
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  const sock = net.connect({ host: u.hostname, port: Number(u.port), noDelay: true,
                             onread: { buffer: READ_BUF, callback: (n, b) => { onData(b.subarray(0, n)); } } });
  let state = "handshake"; // handshake | open | closing | closed
  let buf = null; // unparsed bytes
  let frags = null; // payloads of a fragmented message
  let closeCode = 1006;

  sock.on("connect", () => {
    sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
               `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
  function onData(chunk) {
    buf = buf ? Buffer.concat([buf, chunk]) : chunk;
    if (state === "handshake") {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) { buf = Buffer.from(buf); return; }
      const head = buf.toString("latin1", 0, end);
      const status = Number(head.split(" ", 2)[1]);
      if (status !== 101 || !head.toLowerCase().includes(accept.toLowerCase())) {
        state = "closed";
        h.fail(status === 101 ? "bad Sec-WebSocket-Accept" : `http ${status}`);
        sock.destroy();
        return;
      }
      state = "open";
      buf = buf.length > end + 4 ? buf.subarray(end + 4) : null;
      h.open();
      if (!buf) return;
    }
    parse();
  }
  sock.on("error", (e) => { if (state === "handshake") { state = "closed"; h.fail(e.code || e.message); } });
  sock.on("close", () => {
    const was = state;
    state = "closed";
    if (was === "open" || was === "closing") h.close(closeCode);
    else if (was === "handshake") h.fail("closed during handshake");
  });

  function parse() {
    let off = 0;
    const b = buf;
    while (b.length - off >= 2) {
      const b0 = b[off], b1 = b[off + 1];
      let len = b1 & 0x7f, p = off + 2;
      if (len === 126) { if (b.length - off < 4) break; len = b.readUInt16BE(off + 2); p += 2; }
      else if (len === 127) { if (b.length - off < 10) break; len = Number(b.readBigUInt64BE(off + 2)); p += 8; }
      if (b1 & 0x80) { h.fail?.("masked frame from the server"); sock.destroy(); return; }
      if (b.length - p < len) break;
      const payload = b.subarray(p, p + len);
      off = p + len;
      const op = b0 & 0x0f, fin = b0 & 0x80;
      if (op === 0x1 || op === 0x2 || op === 0x0) {
        if (!fin) { (frags ??= []).push(Buffer.from(payload)); continue; }
        if (frags) { frags.push(payload); const all = Buffer.concat(frags); frags = null; h.message(all); }
        else h.message(payload);
      } else if (op === 0x8) {
        closeCode = len >= 2 ? payload.readUInt16BE(0) : 1005;
        if (state === "open") sock.write(frame(0x8, payload.subarray(0, 2)));
        state = "closing";
        sock.end();
      } else if (op === 0x9) {
        if (state === "open") sock.write(frame(0xa, payload));
      }
    }
    buf = off < b.length ? Buffer.from(b.subarray(off)) : null; // a copy: b may be READ_BUF
  }

  return {
    send(s) { if (state === "open") sock.write(frame(0x1, Buffer.from(s))); },
    close(code = 1000) {
      if (state !== "open") { if (state === "handshake") sock.destroy(); return; }
      const p = Buffer.alloc(2);
      p.writeUInt16BE(code);
      sock.write(frame(0x8, p));
      state = "closing";
      closeCode = code;
      setTimeout(() => sock.destroy(), 5000).unref();
    },
    terminate() { sock.destroy(); },
  };
}
