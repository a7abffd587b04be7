// Two people in two browser contexts use the web client at TANDEM_URL: sign up, befriend,
// see each other's page live, share a page, chat both ways with unread markers and read
// receipts, get what was sent while one of them was offline after the reconnect, and
// chat in a group with a third person (who uses the REST routes only), and keep their sockets
// live through access-token refreshes.
// Every wait is for something on the page (no fixed sleeps); a step that does not come
// fails with its name. Screenshots of each step go to TANDEM_ARTIFACTS.
//
// node two_users.mjs (env: TANDEM_URL, TANDEM_ARTIFACTS, TANDEM_CHROMIUM)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

const url = required('TANDEM_URL');
const artifacts = required('TANDEM_ARTIFACTS');
const STEP_MS = 15000;     // what one step may take on a loaded machine

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

let stepName = 'launch';
let shot = 0;
const people = [];

async function step(name, body) {
  stepName = name;
  console.log(`step: ${name}`);
  await body();
  shot += 1;
  for (const p of people)
    await p.page.screenshot({ path: join(artifacts, `${String(shot).padStart(2, '0')}-${p.first.toLowerCase()}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true });
}

async function person(browser, first, last) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const p = { first, last, name: `${first} ${last}`, context, page, logs: [],
    email: `${first.toLowerCase()}-${randomUUID()}@example.com` };
  page.on('console', msg => p.logs.push(`${msg.type()}: ${msg.text().slice(0, 300)}`));
  page.on('pageerror', err => p.logs.push(`pageerror: ${err.message}`));
  // The CSP refuses anything inline: a violation is a bug of the client.
  page.on('console', msg => { if (/Content Security Policy/.test(msg.text())) p.logs.push('CSP VIOLATION'); });
  people.push(p);
  return p;
}

const friendRow = (p, other) => p.page.locator(`#friends li[data-user-id="${other.id}"]`);
const conversationRow = p => p.page.locator('#conversations li');
const message = (p, text) => p.page.locator('#messages li', { hasText: text });

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.TANDEM_CHROMIUM || '/usr/lib/chromium/chromium' });
  try {
    const ann = await person(browser, 'Ann', 'Archer');
    const bob = await person(browser, 'Bob', 'Baker');

    await step('sign up', async () => {
      for (const p of [ann, bob]) {
        await p.page.goto(url);
        const form = p.page.locator('#sign-up-form');
        await form.getByLabel('E-mail').fill(p.email);
        await form.getByLabel('Password').fill('correct horse battery');
        await form.getByLabel('First name').fill(p.first);
        await form.getByLabel('Last name').fill(p.last);
        await form.getByRole('button', { name: 'Sign up' }).click();
        await p.page.locator('#whoami', { hasText: p.name }).waitFor();
        await p.page.locator('#status[data-state="live"]').waitFor();
        p.id = await p.page.evaluate(() => JSON.parse(localStorage.getItem('tandem.session')).user_id);
      }
    });

    await step('edit profile', async () => {
      for (const p of [ann, bob]) {
        const form = p.page.locator('#profile-form');
        await form.getByLabel('Description').fill(`${p.first} tests the web client`);
        // Friends see every page but denied ones (the default shares allowed domains only).
        await form.getByLabel('Share my page').selectOption('default_all');
        await form.getByRole('button', { name: 'Save profile' }).click();
        await p.page.locator('#profile-form[data-saved]').waitFor();
      }
      // The saved profile is the node's: a reload shows it.
      await ann.page.reload();
      await ann.page.locator('#status[data-state="live"]').waitFor();
      const description = await ann.page.locator('#profile-form').getByLabel('Description').inputValue();
      if (description !== 'Ann tests the web client') throw new Error(`description after reload: '${description}'`);
    });

    await step('befriend', async () => {
      const search = ann.page.locator('#search-form');
      await search.getByLabel(/Search/).fill('Baker');
      await search.getByRole('button', { name: 'Search' }).click();
      const result = ann.page.locator(`#search-results li[data-user-id="${bob.id}"]`);
      await result.getByRole('button', { name: 'Add friend' }).click();
      await result.getByText('request sent').waitFor();
      // The request reaches Bob live (no reload).
      const request = bob.page.locator(`#requests li[data-user-id="${ann.id}"]`);
      await request.getByRole('button', { name: 'Accept' }).click();
      await request.waitFor({ state: 'detached' });
      await friendRow(bob, ann).waitFor();
      await friendRow(ann, bob).waitFor();   // friend-accepted, live
    });

    await step('pages live', async () => {
      for (const [p, other, title] of [[ann, bob, 'Ann reads this'], [bob, ann, 'Bob reads that']]) {
        const form = p.page.locator('#page-form');
        await form.getByLabel('URL').fill(`https://www.example.org/${p.first.toLowerCase()}`);
        await form.getByLabel('Title').fill(title);
        await form.getByRole('button', { name: 'Set my page' }).click();
        await p.page.locator('#my-page').getByRole('link', { name: title }).waitFor();
        await friendRow(other, p).getByRole('link', { name: title }).waitFor();
      }
    });

    await step('share', async () => {
      const form = ann.page.locator('#share-form');
      await form.getByLabel('URL').fill('https://www.example.org/worth-reading');
      await form.getByLabel('Title').fill('Worth reading');
      await form.getByLabel('With').selectOption(bob.id);
      await form.getByRole('button', { name: 'Share' }).click();
      await ann.page.locator('#share-form[data-shared]').waitFor();
      const item = bob.page.locator('#shares li', { hasText: 'Worth reading' });
      await item.locator('.unread').waitFor();
      await bob.page.getByRole('button', { name: 'Mark all seen' }).click();
      await bob.page.locator('#shares li[data-seen="true"]', { hasText: 'Worth reading' }).waitFor();
    });

    await step('chat unread', async () => {
      await friendRow(ann, bob).getByRole('button', { name: 'Chat' }).click();
      await ann.page.locator('#conversation-title', { hasText: bob.name }).waitFor();
      await send(ann, 'Hello Bob');
      await message(ann, 'Hello Bob').waitFor();
      // Bob has not opened it: the conversation comes live, marked unread.
      await conversationRow(bob).filter({ hasText: ann.name }).locator('.unread', { hasText: '1' }).waitFor();
    });

    await step('chat read receipt', async () => {
      await conversationRow(bob).filter({ hasText: ann.name }).click();
      await message(bob, 'Hello Bob').waitFor();
      await conversationRow(bob).filter({ hasText: ann.name }).locator('.unread').waitFor({ state: 'detached' });
      await message(ann, 'Hello Bob').locator('.seen', { hasText: `Seen by ${bob.name}` }).waitFor();
      await send(bob, 'Hi Ann');
      await message(ann, 'Hi Ann').waitFor();     // Ann has it open: delivered and read live
      await message(bob, 'Hi Ann').locator('.seen', { hasText: `Seen by ${ann.name}` }).waitFor();
    });

    await step('reconnect replay', async () => {
      await ann.context.setOffline(true);
      await ann.page.locator('#status[data-state="reconnecting"]').waitFor();
      await send(bob, 'While you were away');
      await message(bob, 'While you were away').waitFor();
      await ann.context.setOffline(false);
      await ann.page.locator('#status[data-state="live"]').waitFor();
      // The page Ann is on goes out again with the new socket.
      await friendRow(bob, ann).getByRole('link', { name: 'Ann reads this' }).waitFor();
      await ann.page.locator('#my-page').getByRole('link', { name: 'Ann reads this' }).waitFor();
      // Not delivered live (Ann's socket was closed): only the replay by after_seq brings it.
      await message(ann, 'While you were away').waitFor();
      await message(bob, 'While you were away').locator('.seen', { hasText: `Seen by ${ann.name}` }).waitFor();
      const ids = await ann.page.locator('#messages li').evaluateAll(items => items.map(i => i.dataset.seq));
      if (new Set(ids).size !== ids.length || ids.length !== 3) throw new Error(`Ann's messages after the replay: seqs ${ids}`);
    });

    await step('group chat', async () => {
      // A third person, by REST only, asks Ann to be friends: a group needs two others.
      const cy = await restUser('Cy', 'Cole');
      await cy.call('POST', '/friendship/requests', { user_id2: ann.id });
      await ann.page.locator(`#requests li[data-user-id="${cy.id}"]`).getByRole('button', { name: 'Accept' }).click();
      await friendRow(ann, cy).waitFor();
      const form = ann.page.locator('#group-form');
      await form.getByLabel('New group').fill('Weekend plans');
      await form.getByLabel(bob.name).check();
      await form.getByLabel(cy.name).check();
      await form.getByRole('button', { name: 'Create group' }).click();
      await ann.page.locator('#conversation-title', { hasText: 'Weekend plans' }).waitFor();
      await send(ann, 'Group hello');
      const row = conversationRow(bob).filter({ hasText: 'Weekend plans' });
      await row.locator('.unread', { hasText: '1' }).waitFor();
      await row.click();
      await message(bob, 'Group hello').waitFor();
      await send(bob, 'Count me in');
      await message(ann, 'Count me in').waitFor();
      const cyMessages = await cy.call('GET', `/conversations/${await ann.page.locator('#conversation').getAttribute('data-conversation-id')}/messages?after_seq=0&limit=10`);
      if (cyMessages.map(m => m.content).join('|') !== 'Group hello|Count me in')
        throw new Error(`Cy's history of the group: ${JSON.stringify(cyMessages)}`);
    });

    await step('token refresh', async () => {
      // Tokens live 20 s here: each client refreshes at 80% of that and hands the fresh
      // token to its socket, which stays live and keeps delivering.
      for (const p of people) {
        const old = await p.page.evaluate(() => JSON.parse(localStorage.getItem('tandem.session')).access_token);
        await p.page.waitForFunction(
          before => JSON.parse(localStorage.getItem('tandem.session')).access_token !== before,
          old, { timeout: 30000 });
      }
      await send(ann, 'After the refresh');
      await message(bob, 'After the refresh').waitFor();
      await ann.page.locator('#status[data-state="live"]').waitFor();
    });

    for (const p of people) {
      const bad = p.logs.filter(line => /CSP VIOLATION|pageerror/.test(line));
      if (bad.length) throw new Error(`${p.first}'s page reported: ${bad.join('; ')}`);
    }
    console.log(`passed: screenshots in ${artifacts}`);
  } catch (err) {
    console.error(`FAILED at step '${stepName}': ${err.message}`);
    for (const p of people) {
      console.error(`--- ${p.first}'s console:\n${p.logs.join('\n')}`);
      await p.page.screenshot({ path: join(artifacts, `failed-${p.first.toLowerCase()}.png`), fullPage: true }).catch(() => {});
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

/** A signed-up user driven over REST (no browser), with a call(method, path, body). */
async function restUser(first, last) {
  const call = async (method, route, body, token) => {
    const res = await fetch(new URL(route, url), {
      method, body: body && JSON.stringify(body),
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${first}: ${method} ${route}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const tokens = await call('POST', '/auth/register',
    { email: `${first.toLowerCase()}-${randomUUID()}@example.com`, password: 'correct horse battery' });
  await call('POST', '/users/me', { first_name: first, last_name: last }, tokens.access_token);
  return { id: tokens.user_id, name: `${first} ${last}`,
    call: (method, route, body) => call(method, route, body, tokens.access_token) };
}

async function send(p, text) {
  const form = p.page.locator('#message-form');
  await form.getByLabel('Message').fill(text);
  await form.getByRole('button', { name: 'Send' }).click();
  await message(p, text).waitFor();
}

await main();
