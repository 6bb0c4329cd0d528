// Browser helpers for the page tests: Debian's Chromium through playwright-core, one fresh
// context (and so one fresh sessionStorage) per test, a distinct user per test, screenshots.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { WEB_DIR } from './stack.mjs';

export const OUTPUT_DIR = path.join(WEB_DIR, 'test-output');

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

let counter = 0;
/** A user id of its own for each test, so tests never see each other's connections. */
export function uniqueUser(name) {
  counter += 1;
  return `web-${name}-${Date.now().toString(36)}-${counter}`.slice(0, 100);
}

/**
 * Opens /integrations signed in as a new user (the page honours ?user= in dev mode).
 * `contextOptions` go to the browser context (e.g. { timezoneId, locale }); `beforeLoad(context, page)`
 * runs before the page loads (e.g. to add an init script).
 * Returns { page, context, user, errors } — errors collects uncaught page errors.
 */
export async function openPage(browser, stack, { name, width = 1280, height = 900, contextOptions = {}, beforeLoad }) {
  const context = await browser.newContext({ viewport: { width, height }, ...contextOptions });
  const page = await context.newPage();
  if (beforeLoad) await beforeLoad(context, page);
  page.setDefaultTimeout(15_000);
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const user = uniqueUser(name);
  await page.goto(`${stack.baseUrl}/integrations?user=${encodeURIComponent(user)}`);
  await page.getByTestId('user-name').waitFor();
  return { page, context, user, errors };
}

/**
 * The `pageTest(name, body, { width, height, timeout })` of a test file: `body({ page, context, user })`
 * runs on a fresh page of the browser and stack that `env()` gives (set in the file's `before`),
 * fails on any uncaught page error, and always saves the screenshot and closes the page.
 * `contextOptions` go to every page's browser context (e.g. { timezoneId, locale }).
 */
export function pageTests(test, env, { timeout: defaultTimeout = 60_000, contextOptions } = {}) {
  return (name, body, { width, height, timeout = defaultTimeout } = {}) => {
    test(name, { timeout }, async () => {
      const { browser, stack } = env();
      const { page, context, user, errors } = await openPage(browser, stack, { name, width, height, contextOptions });
      try {
        await body({ page, context, user });
        assert.deepEqual(errors, [], 'the page threw no uncaught errors');
      } finally {
        await screenshot(page, name).catch(() => {});
        await context.close();
      }
    });
  };
}

/** Calls a fake provider's API (or the fakes' control API) directly; its JSON answer, which must be a 200. */
export async function fakeJson(stack, path, { method = 'GET', headers = {} } = {}) {
  const response = await fetch(`${stack.fakesUrl}${path}`, { method, headers });
  const text = await response.text();
  assert.equal(response.status, 200, `fakes ${method} ${path}: ${text}`);
  return JSON.parse(text);
}

/** Saves web/test-output/<name>.png: the whole page, just the viewport, or one element (a locator). */
export async function screenshot(target, name, { fullPage = true } = {}) {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, `${name}.png`);
  if (typeof target.mainFrame === 'function') await target.screenshot({ path: file, fullPage });
  else await target.screenshot({ path: file });
}

/** Calls the API from inside the page, as the page's signed-in user. */
export function apiFromPage(page, method, apiPath, body) {
  return page.evaluate(async ({ method, apiPath, body }) => {
    const { token } = JSON.parse(sessionStorage.getItem('doo.session'));
    const response = await fetch(`/api/v1/integrations${apiPath}`, {
      method,
      // X-Test-Probe tells these apart from the page's own requests (see countRunPolls).
      headers: { Authorization: `Bearer ${token}`, 'X-Test-Probe': '1', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }, { method, apiPath, body });
}

/**
 * Makes the page look hidden (or visible again) to its scripts, as when the user switches tabs:
 * document.visibilityState / document.hidden report `state` and a visibilitychange event fires.
 * (Headless Chromium keeps every page visible, so this is how a test hides one.)
 */
export function setVisibility(page, state) {
  return page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

/**
 * The times at which the page itself asked for a sync run (GET …/syncs/{syncId}, not the
 * test's apiFromPage calls). syncIdOf() gives the run's id once it is known.
 */
export function countRunPolls(page, syncIdOf) {
  const seen = [];
  page.on('request', (request) => {
    const id = syncIdOf();
    if (!id || request.method() !== 'GET' || request.headers()['x-test-probe']) return;
    if (new URL(request.url()).pathname.endsWith(`/syncs/${id}`)) seen.push(Date.now());
  });
  return seen;
}

/** The fake providers' demo Trello credentials. */
export const TRELLO_DEMO = { apiKey: 'fake-trello-key', token: 'fake-trello-token' };

/**
 * The row of one connection and its parts: every element of a row is keyed by the connection's
 * id (`connection-<id>`, `sync-<id>`, …), so two connections of one tool never collide.
 */
export const part = (page, what, connectionId) => page.getByTestId(`${what}-${connectionId}`);
export const rowOf = (page, connectionId) => part(page, 'connection', connectionId);
/** Connects Trello with the demo key and token through the connect dialog; resolves to the new connection. */
export async function connectTrelloThroughForm(page) {
  await page.getByTestId('connect-trello').click();
  await page.getByTestId('connect-dialog').waitFor();
  await page.getByTestId('field-apiKey').fill(TRELLO_DEMO.apiKey);
  await page.getByTestId('field-token').fill(TRELLO_DEMO.token);
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/integrations/connect') && r.request().method() === 'POST');
  await page.getByTestId('connect-submit').click();
  const response = await created;
  assert.equal(response.status(), 201, `connecting Trello through the form: ${await response.text()}`);
  const connection = await response.json();
  await rowOf(page, connection.connectionId).waitFor();
  return connection;
}

/** Connects Trello with the demo key and token through the API, then waits for the page to show its row. */
export async function connectTrello(page) {
  const answer = await apiFromPage(page, 'POST', '/connect', { integrationId: 'trello', credentials: TRELLO_DEMO });
  assert.equal(answer.status, 201, `connecting Trello: ${JSON.stringify(answer.body)}`);
  await page.reload();
  await rowOf(page, answer.body.connectionId).waitFor();
  return answer.body;
}

/** "Sign in with Google Calendar" through the fake authorization server and back; resolves to the connection. */
export async function connectGoogleCalendar(page) {
  await page.getByTestId('connect-google-calendar').click();
  await page.getByTestId('connect-dialog').waitFor();
  await page.getByTestId('oauth-signin').click();
  await page.getByTestId('notice-oauth').waitFor({ timeout: 30_000 });
  const { body } = await apiFromPage(page, 'GET', '/connected');
  const connection = body.connections.find((c) => c.integrationId === 'google-calendar');
  assert.ok(connection, `Google Calendar is connected: ${JSON.stringify(body)}`);
  await rowOf(page, connection.connectionId).waitFor();
  return connection;
}

/** Presses "Sync now" and resolves to the run the API queued (the 202 answer). */
export async function pressSync(page, connectionId) {
  const queued = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/integrations/${connectionId}/sync` && r.request().method() === 'POST');
  await part(page, 'sync', connectionId).click();
  const response = await queued;
  assert.equal(response.status(), 202, `POST …/sync: ${await response.text()}`);
  return response.json();
}
