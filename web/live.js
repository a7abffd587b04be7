// The live connection: one WebSocket to /ws (every kind of event), opened with the
// session's access token, re-authenticated when the token is refreshed, kept alive by
// heartbeats, and reopened after a loss with exponential backoff and full jitter
// (a random wait up to the current cap, so that clients cut off together do not
// come back together). Each reopen after the first calls onResumed, for the replay.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;
const HEARTBEAT_MS = 30000;      // well inside the node's presence timeout
const CLOSE_TOKEN_EXPIRED = 4001;
const CLOSE_SIGNED_OUT = 4002;

export class Live {
  constructor(session) {
    this.session = session;
    this.socket = null;
    this.attempt = 0;            // failed opens since the last successful one
    this.everOpened = false;
    this.retryTimer = null;
    this.heartbeatTimer = null;
    this.stopped = true;
    this.onFrame = () => {};
    this.onState = () => {};     // 'live', 'reconnecting' or 'offline'
    this.onResumed = () => {};
    // A browser notices a dead socket late: follow what it knows about the network.
    addEventListener('offline', () => this.socket && this.lost(this.socket, 1006));
    addEventListener('online', () => this.reconnectNow());
  }

  start() {
    this.stopped = false;
    this.everOpened = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
    this.onState('offline');
  }

  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** A fresh access token for the open socket (the same session's). */
  authenticate(token) {
    this.send({ action: 'authenticate', token });
  }

  reconnectNow() {
    if (this.stopped || (this.socket && this.socket.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.open();
  }

  open() {
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = encodeURIComponent(this.session.accessToken);
    const socket = new WebSocket(`${scheme}//${location.host}/ws?Authorization=${token}`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.onState('live');
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = setInterval(() => this.send({ action: 'heartbeat' }), HEARTBEAT_MS);
      if (this.everOpened) this.onResumed();
      this.everOpened = true;
    };
    socket.onmessage = event => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (err) { return; }
      if (frame.type === 'token-expiring') {
        this.session.refreshIfLate();
        return;
      }
      this.onFrame(frame);
    };
    socket.onclose = event => this.lost(socket, event.code);
  }

  /** The socket is gone (closed, or cut off by the network): reopen it later. */
  lost(socket, code) {
    if (this.socket !== socket) return;
    this.socket = null;
    clearInterval(this.heartbeatTimer);
    // Nothing more is taken from it: what it might still deliver comes with the replay.
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.close();
    if (this.stopped) return;
    if (code === CLOSE_SIGNED_OUT) {
      this.session.end('You were signed out.');
      return;
    }
    this.onState('reconnecting');
    const retry = () => {
      const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
      this.attempt += 1;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.open(), Math.random() * cap);
    };
    // The token ran out (the tab slept through its refresh): refresh, then reopen.
    if (code === CLOSE_TOKEN_EXPIRED) this.session.refresh().then(retry, retry);
    else retry();
  }
}
