// The Tandem web client: plain ES modules, no build step. It renders with DOM calls and
// textContent only (nothing from the server is ever parsed as HTML), and keeps its
// state in the few maps below. REST through api.js, live frames through live.js.

import { Session, path } from './api.js';
import { Live } from './live.js';

const $ = id => document.getElementById(id);
const session = new Session();
const live = new Live(session);

const state = {
  me: null,                  // the own profile (UserPrivate)
  names: new Map(),          // user id -> "First Last"
  friends: new Map(),        // user id -> their page: null offline, a blank url when private
  requests: new Map(),       // user id -> the GET /friendship/requests item
  conversations: new Map(),  // id -> {id, title, isGroup, participantId, unread, latest}
  messages: new Map(),       // conversation id -> Map(seq -> message), once loaded
  lastSeq: new Map(),        // conversation id -> the highest seq seen (the replay cursor)
  seen: new Map(),           // conversation id -> Map(user id -> seq read up to)
  open: null,                // the conversation shown
  myPage: null,              // {url, title} the user is on, sent again on every reconnect
};

// -- helpers -----------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'data') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

/** A link to a page a user visited or shared: only http(s), opened without a referrer. */
function pageLink(url, title) {
  const safe = /^https?:\/\//i.test(url || '');
  if (!safe) return el('span', { textContent: title || url || '(private page)' });
  return el('a', { href: url, textContent: title || url, target: '_blank', rel: 'noopener noreferrer' });
}

function nameOf(id) {
  return state.names.get(id) || 'someone';
}

function remember(card) {
  if (card && card.user_id) state.names.set(card.user_id, `${card.first_name} ${card.last_name}`);
}

function notice(text) {
  $('notice').textContent = text;
  $('notice').hidden = !text;
}

/** Runs a UI action; shows its failure instead of throwing it away. */
function guarded(action) {
  return async event => {
    if (event) event.preventDefault();
    try {
      notice('');
      await action(event);
    } catch (err) {
      notice(err.message || String(err));
    }
  };
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

async function learnNames(ids) {
  const unknown = [...new Set(ids)].filter(id => id && !state.names.has(id));
  if (!unknown.length) return;
  for (const card of await session.call('GET', path(['users', 'ids', unknown.join(',')]))) remember(card);
}

// -- signing in and out ------------------------------------------------------------------

async function signUp(form) {
  const { email, password, first_name, last_name } = formValues(form);
  await session.register(email, password);
  await session.call('POST', '/users/me', { first_name, last_name });
  form.reset();
  await enter();
}

async function signIn(form) {
  const { email, password } = formValues(form);
  await session.login(email, password);
  form.reset();
  await enter();
}

/** Shows the signed-in view and loads everything, then goes live. */
async function enter() {
  state.me = await session.call('GET', '/users/me');
  remember(state.me);
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('sign-out').hidden = false;
  $('whoami').textContent = `${state.me.first_name} ${state.me.last_name}`;
  fillProfile();
  await Promise.all([loadPresence(), loadRequests(), loadShares(), loadConversations()]);
  live.start();
}

function leave(reason) {
  live.stop();
  for (const value of Object.values(state)) if (value instanceof Map) value.clear();
  state.me = state.open = null;
  $('signed-in').hidden = true;
  $('sign-out').hidden = true;
  $('signed-out').hidden = false;
  $('whoami').textContent = '';
  for (const id of ['search-results', 'requests', 'friends', 'shares', 'conversations', 'messages'])
    $(id).replaceChildren();
  $('conversation').hidden = true;
  notice(reason || '');
}

session.onTokens = token => live.authenticate(token);
session.onEnded = reason => leave(reason);

// -- profile and own page ----------------------------------------------------------------

const PROFILE_FIELDS = ['first_name', 'last_name', 'description', 'share_mode', 'domain_allow_array',
  'domain_deny_array', 'gender', 'school', 'work', 'location', 'email_public', 'gender_public',
  'school_public', 'work_public', 'location_public'];

function fillProfile() {
  const form = $('profile-form');
  for (const name of ['first_name', 'last_name', 'description', 'share_mode'])
    form.elements[name].value = state.me[name] || '';
}

async function saveProfile(form) {
  // PUT /users/me replaces the whole profile: the fields this form has no input for go back as they are.
  const body = Object.fromEntries(PROFILE_FIELDS.map(key => [key, state.me[key]]));
  Object.assign(body, formValues(form));
  state.me = await session.call('PUT', '/users/me', body);
  remember(state.me);
  $('whoami').textContent = `${state.me.first_name} ${state.me.last_name}`;
  notice('');
  $('profile-form').dataset.saved = String(Date.now());
}

function setMyPage(form) {
  const { url, title } = formValues(form);
  state.myPage = { url, title };
  if (!live.send({ action: 'update-presence', ...state.myPage })) throw new Error('Not connected: try again in a moment.');
}

// -- people: search, requests, friends with their pages ------------------------------------

async function search(form) {
  const q = formValues(form).q.trim();
  const kind = q.includes('@') ? 'email' : 'name';
  const found = await session.call('GET', path(['users', 'search', kind, q]));
  $('search-results').replaceChildren(...found.map(user => {
    remember(user);
    const item = el('li', { data: { userId: user.user_id } }, el('span', { textContent: nameOf(user.user_id) }));
    if (user.friendship_state === 0) {
      item.append(el('button', {
        textContent: 'Add friend',
        onclick: guarded(async () => {
          await session.call('POST', '/friendship/requests', { user_id2: user.user_id });
          item.lastChild.replaceWith(el('span', { class: 'page', textContent: 'request sent' }));
        }),
      }));
    } else {
      item.append(el('span', { class: 'page', textContent: user.friendship_state === 2 ? 'friend' : 'request pending' }));
    }
    return item;
  }));
}

async function loadRequests() {
  state.requests.clear();
  for (const request of await session.call('GET', '/friendship/requests')) {
    remember(request);
    state.requests.set(request.user_id, request);
  }
  renderRequests();
}

function renderRequests() {
  $('requests').replaceChildren(...[...state.requests.values()].map(request => el('li',
    { data: { userId: request.user_id } },
    el('span', { textContent: nameOf(request.user_id) }),
    el('button', { textContent: 'Accept', onclick: guarded(() => answerRequest(request.user_id, true)) }),
    el('button', { textContent: 'Decline', onclick: guarded(() => answerRequest(request.user_id, false)) }))));
}

async function answerRequest(userId, accept) {
  if (accept) await session.call('POST', '/friendship/accept', { user_id1: userId });
  else await session.call('DELETE', path(['friendship', 'requests', userId]));
  state.requests.delete(userId);
  renderRequests();
  if (accept) await loadPresence();
}

async function loadPresence() {
  const reply = await session.call('GET', '/presence');
  for (const card of Object.values(reply.userInfoMap || {})) remember(card);
  state.friends.clear();
  for (const p of reply.presenceArr) state.friends.set(p.userId, p.page);
  showMyPage(reply.userPresence && reply.userPresence.page);
  renderFriends();
}

function showMyPage(page) {
  $('my-page').replaceChildren(page ? pageLink(page.url, page.title) : 'nothing');
}

/** Where a friend is: a link to the page, "a private page" (the friend's privacy rule
 * blanked it) or offline. */
function whereabouts(page) {
  if (!page) return el('span', { class: 'page offline', textContent: 'offline' });
  if (!page.url) return el('span', { class: 'page', textContent: 'on a private page' });
  return el('span', { class: 'page' }, 'on ', pageLink(page.url, page.title));
}

function renderFriends() {
  const ids = [...state.friends.keys()].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  $('friends').replaceChildren(...ids.map(id => {
    const page = state.friends.get(id);
    return el('li', { data: { userId: id, online: String(!!page) } },
      el('span', { textContent: nameOf(id) }), whereabouts(page),
      el('button', { textContent: 'Chat', onclick: guarded(() => openDirect(id)) }));
  }));
  // The share and group choices are rebuilt with the list, keeping what was chosen.
  const shareTo = $('share-to').value;
  const checked = new Set([...$('group-members').querySelectorAll('input:checked')].map(box => box.value));
  $('share-to').replaceChildren(el('option', { value: '', textContent: 'all friends' }),
    ...ids.map(id => el('option', { value: id, textContent: nameOf(id), selected: id === shareTo })));
  $('group-members').replaceChildren(el('legend', { textContent: 'members (two or more friends)' }),
    ...ids.map(id => el('label', {},
      el('input', { type: 'checkbox', name: 'member', value: id, checked: checked.has(id) }), nameOf(id))));
}

/** update-presence (`page` given) or presence-timeout (null: offline). */
function onPresence(userId, page) {
  if (userId === session.userId) return showMyPage(page && page.url ? page : null);
  if (!state.friends.has(userId)) return;
  state.friends.set(userId, page);
  renderFriends();
}

// -- shared pages ----------------------------------------------------------------------------

async function share(form) {
  const { url, title, to } = formValues(form);
  if (to) await session.call('POST', '/notifications/share/personal', { sent_to: to, url, title });
  else await session.call('POST', '/notifications/share', { url, title });
  form.reset();
  notice('');
  form.dataset.shared = String(Date.now());
}

let shares = [];

async function loadShares() {
  shares = await session.call('GET', '/notifications/share?limit=50&offset=0');
  renderShares();
}

function renderShares() {
  $('shares').replaceChildren(...shares.map(item => el('li',
    { data: { eventId: item.event_id, seen: String(!!item.seen_at) } },
    el('span', { class: 'from', textContent: `${item.first_name} ${item.last_name}` }),
    pageLink(item.url, item.title),
    item.seen_at ? '' : el('span', { class: 'unread', textContent: 'new' }))));
}

async function markSharesRead() {
  const unseen = shares.filter(item => !item.seen_at);
  if (!unseen.length) return;
  await session.call('POST', '/notifications/share/read', unseen.map(item => ({ event_id: item.event_id })));
  const now = new Date().toISOString();
  for (const item of unseen) item.seen_at = now;
  renderShares();
}

// -- chat -----------------------------------------------------------------------------------

function conversation(id) {
  if (!state.conversations.has(id))
    state.conversations.set(id, { id, title: '', isGroup: false, participantId: null, unread: 0, latest: '' });
  return state.conversations.get(id);
}

async function loadConversations() {
  const list = await session.call('GET', '/conversations');
  for (const item of list) {
    Object.assign(conversation(item.conversationId), {
      title: item.title, isGroup: item.isGroup, participantId: item.participantId,
      unread: item.unreadCount, latest: item.latestContent,
    });
  }
  await learnNames(list.map(item => item.participantId).concat(list.map(item => item.senderId)));
  renderConversations();
}

function titleOf(c) {
  return c.isGroup ? c.title : nameOf(c.participantId);
}

function renderConversations() {
  $('conversations').replaceChildren(...[...state.conversations.values()].map(c => el('li', {
    class: c.id === state.open ? 'open' : '',
    data: { conversationId: c.id, unread: String(c.unread) },
    onclick: guarded(() => openConversation(c.id)),
  }, el('span', { class: 'from', textContent: titleOf(c) }),
  el('span', { textContent: c.latest || '' }),
  c.unread ? el('span', { class: 'unread', title: 'unread messages', textContent: String(c.unread) }) : '')));
}

async function openDirect(userId) {
  const reply = await session.call('POST', '/conversation', { recipientIdArr: [userId], isGroup: false, title: '' });
  Object.assign(conversation(reply.conversationId), { participantId: userId });
  await openConversation(reply.conversationId);
}

async function createGroup(form) {
  const members = [...form.querySelectorAll('input[name=member]:checked')].map(box => box.value);
  const { title } = formValues(form);
  const reply = await session.call('POST', '/conversation', { recipientIdArr: members, isGroup: true, title });
  Object.assign(conversation(reply.conversationId), { isGroup: true, title });
  form.reset();
  await openConversation(reply.conversationId);
}

/** A conversation known only by its id (a message of a new one): C4 tells what it is. */
async function describe(c) {
  if (c.participantId || c.title) return;
  const info = await session.call('GET', path(['conversations', c.id]));
  Object.assign(c, { title: info.title, isGroup: info.isGroup, participantId: info.participantId });
  await learnNames([info.participantId]);
}

async function openConversation(id) {
  state.open = id;
  const c = conversation(id);
  await describe(c);
  if (!state.messages.has(id)) {
    const page = await session.call('GET', path(['conversations', id, 'messages'], { limit: 100, offset: 0 }));
    await learnNames(page.map(m => m.senderId));
    state.messages.set(id, new Map());
    for (const message of page) addMessage(message);
  }
  $('conversation').hidden = false;
  $('conversation').dataset.conversationId = id;
  $('conversation-title').textContent = titleOf(c);
  $('typing').hidden = true;
  markRead(id);
  renderConversations();
  renderMessages();
}

/** Adds a message once (live frames and replays may both bring it); true if it is new. */
function addMessage(message) {
  const id = message.conversationId;
  state.lastSeq.set(id, Math.max(state.lastSeq.get(id) || 0, message.seq));
  const messages = state.messages.get(id);
  if (!messages || messages.has(message.seq)) return !messages;
  messages.set(message.seq, message);
  return true;
}

function markRead(id) {
  const c = conversation(id);
  if (!c.unread) return;
  c.unread = 0;
  live.send({ action: 'read-messages', conversationId: id });
}

function renderMessages() {
  const id = state.open;
  const messages = [...state.messages.get(id).values()].sort((a, b) => a.seq - b.seq);
  const seen = state.seen.get(id) || new Map();
  const box = $('messages');
  box.replaceChildren(...messages.map(m => {
    const mine = m.senderId === session.userId;
    const item = el('li', { class: mine ? 'mine' : '', data: { seq: String(m.seq), messageId: m.messageId } },
      el('span', { class: 'from', textContent: mine ? 'me' : nameOf(m.senderId) }),
      el('span', { class: 'content', textContent: m.content }),
      el('span', { class: 'time', textContent: new Date(m.sentAt).toLocaleTimeString() }));
    // A receipt covers every message up to its seq: show it under the newest it covers.
    const readers = [...seen].filter(([reader, seq]) => reader !== m.senderId && seq >= m.seq
      && !messages.some(later => later.seq > m.seq && later.seq <= seq && later.senderId === m.senderId));
    if (mine && readers.length)
      item.append(el('span', { class: 'seen', textContent: 'Seen by ' + readers.map(([r]) => nameOf(r)).join(', ') }));
    return item;
  }));
  box.scrollTop = box.scrollHeight;
}

let tempCounter = 0;

function sendMessage(form) {
  const content = formValues(form).content.trim();
  if (!content) return;
  const frame = { action: 'send-message', conversationId: state.open, content,
    tempMessageId: `${Date.now().toString(36)}-${(tempCounter += 1)}` };
  if (!live.send(frame)) throw new Error('Not connected: the message was not sent.');
  form.reset();
}

/** A message from a new-message frame (`counted`: it adds to the unread count) or from a
 * replay (not counted: the conversation list the replay reloaded first has the count). */
async function onNewMessage(message, counted = true) {
  const c = conversation(message.conversationId);
  await learnNames([message.senderId]);
  await describe(c);
  if (!addMessage(message)) return;
  c.latest = message.content;
  if (counted && message.senderId !== session.userId) c.unread += 1;
  if (state.open === message.conversationId && document.visibilityState === 'visible')
    markRead(message.conversationId);
  renderConversations();
  if (state.open === message.conversationId) renderMessages();
}

/** After a reconnect: what was missed while the socket was down, by after_seq pages. */
async function replay() {
  await Promise.all([loadPresence(), loadRequests(), loadShares(), loadConversations()]);
  // The node took the user offline with the socket: the page the user is on goes again
  // (after the presence load, so that its answer cannot hide the echo).
  if (state.myPage) live.send({ action: 'update-presence', ...state.myPage });
  for (const [id, after] of state.lastSeq) {
    let cursor = after;
    for (;;) {
      const page = await session.call('GET', path(['conversations', id, 'messages'], { after_seq: cursor, limit: 100 }));
      for (const message of page) await onNewMessage(message, false);
      if (page.length < 100) break;
      cursor = page[page.length - 1].seq;
    }
  }
}

function onReceipt(frame) {
  if (!state.seen.has(frame.conversationId)) state.seen.set(frame.conversationId, new Map());
  state.seen.get(frame.conversationId).set(frame.userId, frame.seq);
  if (state.open === frame.conversationId) renderMessages();
}

function onReadElsewhere(frame) {
  // The user read it on another socket (another tab or device).
  if (frame.userId !== session.userId) return;
  conversation(frame.conversationId).unread = 0;
  renderConversations();
}

let typingTimer = null;
const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 3000;

function onTyping(frame) {
  if (state.open !== frame.conversationId) return;
  $('typing').textContent = `${nameOf(frame.userId)} is typing…`;
  $('typing').hidden = false;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => { $('typing').hidden = true; }, TYPING_SHOWN_MS);
}

// -- live frames ----------------------------------------------------------------------------

const handlers = {
  'update-presence': frame => onPresence(frame.userId, { url: frame.url, title: frame.title }),
  'presence-timeout': frame => onPresence(frame.userId, null),
  'friend-request': frame => { remember(frame); state.requests.set(frame.user_id, frame); renderRequests(); },
  'friend-accepted': () => loadPresence(),
  'share-notification': frame => { shares.unshift(frame); renderShares(); },
  'new-message': onNewMessage,
  'read-messages': onReadElsewhere,
  'read-receipt': onReceipt,
  'typing': onTyping,
  'participant-left': frame => {
    if (frame.userId !== session.userId) return;
    state.conversations.delete(frame.conversationId);
    renderConversations();
  },
  'error': frame => notice(frame.detail),
};

live.onFrame = frame => {
  const handler = handlers[frame.type];
  if (handler) Promise.resolve(handler(frame)).catch(err => notice(err.message));
};
live.onState = value => {
  $('status').dataset.state = value;
  $('status').textContent = value;
};
live.onResumed = () => replay().catch(err => notice(err.message));

// -- wiring -----------------------------------------------------------------------------------

$('sign-up-form').addEventListener('submit', guarded(event => signUp(event.target)));
$('sign-in-form').addEventListener('submit', guarded(event => signIn(event.target)));
$('sign-out').addEventListener('click', guarded(async () => { await session.logout(); leave(); }));
$('profile-form').addEventListener('submit', guarded(event => saveProfile(event.target)));
$('page-form').addEventListener('submit', guarded(event => setMyPage(event.target)));
$('search-form').addEventListener('submit', guarded(event => search(event.target)));
$('share-form').addEventListener('submit', guarded(event => share(event.target)));
$('mark-shares-read').addEventListener('click', guarded(markSharesRead));
$('group-form').addEventListener('submit', guarded(event => createGroup(event.target)));
$('message-form').addEventListener('submit', guarded(event => sendMessage(event.target)));
let typingSentAt = 0;
$('message-form').elements.content.addEventListener('input', () => {
  // At most one typing frame every TYPING_EVERY_MS: the node sheds a faster stream.
  if (!state.open || Date.now() - typingSentAt < TYPING_EVERY_MS) return;
  typingSentAt = Date.now();
  live.send({ action: 'typing', conversationId: state.open });
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.open) {
    markRead(state.open);
    renderConversations();
  }
});

session.resume().then(resumed => resumed && enter()).catch(err => notice(err.message));
