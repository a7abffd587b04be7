// The node's REST routes (docs/api.md) and the session behind them: tokens from
// /auth/register or /auth/login, refreshed before the access token expires (refresh
// tokens rotate on every use, so only the newest one is kept).

const SESSION_KEY = 'tandem.session';
const REFRESH_AHEAD = 0.8;       // refresh once 80% of the access token's life has passed

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export class Session {
  constructor() {
    this.tokens = null;           // {user_id, access_token, refresh_token, expires_at_ms}
    this.refreshTimer = null;
    this.refreshDueMs = 0;        // when the timer below refreshes
    this.refreshing = null;       // the refresh in flight, shared by every caller
    this.onTokens = () => {};     // called with each new access token
    this.onEnded = () => {};      // called when the session cannot go on
  }

  get userId() { return this.tokens && this.tokens.user_id; }
  get accessToken() { return this.tokens && this.tokens.access_token; }

  /** Resumes the session stored by an earlier page load, if any: refreshes it at once. */
  async resume() {
    const stored = localStorage.getItem(SESSION_KEY);
    if (!stored) return false;
    this.tokens = JSON.parse(stored);
    try {
      await this.refresh();
      return true;
    } catch (err) {
      this.clear();
      return false;
    }
  }

  async register(email, password) {
    this.adopt(await post('/auth/register', { email, password }));
  }

  async login(email, password) {
    this.adopt(await post('/auth/login', { email, password }));
  }

  async logout() {
    const refreshToken = this.tokens && this.tokens.refresh_token;
    this.clear();
    if (refreshToken) await post('/auth/logout', { refresh_token: refreshToken }).catch(() => {});
  }

  refresh() {
    if (!this.refreshing) {
      this.refreshing = post('/auth/refresh', { refresh_token: this.tokens.refresh_token })
        .then(reply => this.adopt(reply))
        .catch(err => {
          // 401: rotated, revoked or expired; the user signs in again.
          if (err.status === 401) this.end('Your session has ended: please sign in again.');
          throw err;
        })
        .finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  adopt(reply) {
    this.tokens = {
      user_id: reply.user_id,
      access_token: reply.access_token,
      refresh_token: reply.refresh_token,
      expires_at_ms: Date.now() + reply.expires_in * 1000,
    };
    localStorage.setItem(SESSION_KEY, JSON.stringify(this.tokens));
    clearTimeout(this.refreshTimer);
    const wait = Math.max(1000, reply.expires_in * 1000 * REFRESH_AHEAD);
    this.refreshDueMs = Date.now() + wait;
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), wait);
    this.onTokens(this.tokens.access_token);
  }

  /** The node warns that the token expires soon: refresh now unless the timer is
   * still ahead (it refreshes before the expiry; a warning can come earlier than it when
   * tokens live shorter than the node's notice). Late only when the tab slept. */
  refreshIfLate() {
    if (Date.now() >= this.refreshDueMs) this.refresh().catch(() => {});
  }

  end(reason) {
    this.clear();
    this.onEnded(reason);
  }

  clear() {
    clearTimeout(this.refreshTimer);
    this.tokens = null;
    localStorage.removeItem(SESSION_KEY);
  }

  /** A REST call with the access token; one refresh and retry after a 401. */
  async call(method, path, body) {
    if (this.tokens && Date.now() >= this.tokens.expires_at_ms) await this.refresh();
    try {
      return await request(method, path, body, this.accessToken);
    } catch (err) {
      if (err.status !== 401 || !this.tokens) throw err;
      await this.refresh();
      return request(method, path, body, this.accessToken);
    }
  }
}

function post(path, body) {
  return request('POST', path, body, null);
}

async function request(method, path, body, token) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (err) { data = text; }
  }
  if (!res.ok) throw new ApiError(res.status, data && data.detail);
  return data;
}

/** A path of segments, each percent-encoded, and an optional query. */
export function path(segments, query) {
  const base = '/' + segments.map(encodeURIComponent).join('/');
  return query ? base + '?' + new URLSearchParams(query) : base;
}
