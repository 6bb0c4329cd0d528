// Browser tests of the Integrations page against the real local stack (emulator, fake
// providers, dev server with its sync worker and scheduler). Run: cd web && npm ci && node --test tests/
// Each test signs in as its own user and saves web/test-output/<test-name>.png.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStack } from './stack.mjs';
import {
  TRELLO_DEMO, apiFromPage, connectTrelloThroughForm, countRunPolls, launchBrowser, pageTests, part, pressSync, rowOf,
  screenshot, setVisibility,
} from './browser.mjs';
import * as fmt from '../assets/format.js';

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const pageTest = pageTests(test, () => ({ browser, stack }));


const cards = (page) => page.locator('[data-testid="catalog"] article[data-testid^="card-"]');

/** The rows of one tool (rows carry data-integration). */
const rowsOf = (page, integrationId) => page.locator(`[data-testid^="connection-"][data-integration="${integrationId}"]`);

async function connectTrelloThroughApi(page, extra = {}) {
  const answer = await apiFromPage(page, 'POST', '/connect', { integrationId: 'trello', credentials: TRELLO_DEMO, ...extra });
  assert.equal(answer.status, 201, `connecting Trello through the API: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** Delays the fake Trello API: the next `times` requests whose path starts with `pathPrefix` wait `millis`. */
function slowTrello(pathPrefix, millis, times) {
  return stack.fakes('POST', '/_fake/trello/faults', { pathPrefix, fault: 'timeout', millis, times });
}

const text = async (locator) => (await locator.innerText()).replace(/\s+/g, ' ').trim();

/**
 * After a run ended: the page shows what GET …/syncs/{id} says (items, time saved, counts),
 * the progress bar is gone, and the page stops asking for the run. Resolves to the run.
 */
async function expectFinishedRun(page, connectionId, syncId, polls) {
  const result = part(page, 'sync-result', connectionId);
  await result.getByText(/^Synced /).waitFor();
  const { status, body: run } = await apiFromPage(page, 'GET', `/${connectionId}/syncs/${syncId}`);
  assert.equal(status, 200);
  assert.equal(run.status, 'succeeded', `the run: ${JSON.stringify(run)}`);
  assert.ok(run.progress.items > 0, 'the run processed items');
  assert.ok(run.minutesSaved > 0, 'the run saved time');
  const shown = await text(result);
  assert.ok(shown.includes(`Synced ${fmt.items(run.progress.items)} — saved ${fmt.duration(run.minutesSaved)}`), shown);
  const counts = [['created', 'new'], ['updated', 'updated'], ['unchanged', 'unchanged'], ['deleted', 'removed']]
    .filter(([key]) => run.counts[key] > 0).map(([key, word]) => `${fmt.count(run.counts[key])} ${word}`).join(', ');
  assert.ok(shown.includes(counts), `"${shown}" shows the counts "${counts}"`);
  assert.ok(shown.includes(`took ${fmt.elapsed(run.durationMs)}`), shown);
  assert.equal(await part(page, 'sync-progress', connectionId).isVisible(), false, 'the progress bar is gone');
  assert.match(await text(part(page, 'status', connectionId)), /Active/);
  // Polling ended with the run.
  const asked = polls.length;
  await page.waitForTimeout(1300); // longer than the page's 1 s between polls
  assert.equal(polls.length, asked, 'the page stopped asking for the run once it ended');
  return run;
}

/** The stats band and the 30-day chart show what GET /stats says, with time saved today. */
async function expectStatsWithToday(page) {
  const { body: stats } = await apiFromPage(page, 'GET', '/stats');
  assert.ok(stats.itemsProcessed > 0 && stats.minutesSaved > 0, `stats: ${JSON.stringify(stats)}`);
  await page.getByTestId('stat-items').getByText(fmt.count(stats.itemsProcessed), { exact: true }).waitFor();
  const saved = (await page.getByTestId('stat-time-saved').locator('.stat__value').textContent()).replace(/\s+/g, ' ').trim();
  assert.equal(saved, fmt.duration(stats.minutesSaved));
  const today = stats.timeSavedByDay[stats.timeSavedByDay.length - 1];
  assert.ok(today.minutesSaved > 0, 'the API counts time saved today');
  const bars = page.locator('[data-testid="time-saved-chart"] svg .chart__bar-group');
  await bars.first().waitFor();
  assert.equal(await bars.count(), 30);
  const last = bars.last();
  assert.equal(await last.locator('path').getAttribute('class'), 'chart__bar', "today's bar is not the zero line");
  assert.ok(Number(await last.locator('path').evaluate((p) => p.getBBox().height)) > 2, "today's bar has a height");
  assert.match(await last.locator('title').textContent(), new RegExp(`${fmt.duration(today.minutesSaved)} saved, ${fmt.items(today.items)}$`));
  assert.equal(await page.getByTestId('chart-empty').count(), 0);
  return stats;
}

/**
 * In the open connect dialog, presses "Sign in with …" and follows the browser to the fake
 * authorization server and back. Resolves to { connect, callback, hops }: the POST /connect
 * response, the callback's response, and the main frame's navigation requests.
 * Fails with the cookie state if the callback refused the sign-in (binding cookie missing).
 */
async function signInThroughProvider(page, context) {
  const hops = [];
  const onRequest = (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) hops.push(request);
  };
  page.on('request', onRequest);
  try {
    const connectAnswer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/integrations/connect' && r.request().method() === 'POST');
    const callbackAnswer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/integrations/oauth/callback');
    await page.getByTestId('oauth-signin').click();
    const connect = await connectAnswer;
    assert.equal(connect.status(), 200, `POST /connect: ${await connect.text().catch(() => '')}`);
    const callback = await callbackAnswer;
    if (callback.status() !== 303) {
      const stored = (await context.cookies()).filter((c) => c.name.startsWith('doo_oauth_'));
      const sent = (await callback.request().allHeaders()).cookie || 'none';
      const said = (await callback.text().catch(() => '')).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
      assert.fail(`the OAuth callback answered ${callback.status()} instead of sending the browser back: "${said}". `
        + `Set-Cookie of POST /connect: ${await connect.headerValue('set-cookie')}. `
        + `Cookies Chromium stored for the flow: ${stored.length ? JSON.stringify(stored) : 'none (did it refuse the Secure cookie on http://127.0.0.1?)'}. `
        + `Cookie header sent to the callback: ${sent}.`);
    }
    await page.getByTestId('notice-oauth').waitFor();
    return { connect, callback, hops };
  } finally {
    page.off('request', onRequest);
  }
}

/** The sign-in went through the fake Google authorization server and came back via the callback. */
async function expectGoogleRoundTrip({ connect, callback, hops }, { connectionId = null } = {}) {
  const body = connect.request().postDataJSON();
  assert.deepEqual(body, { integrationId: 'google-calendar', returnUrl: '/integrations', ...(connectionId ? { connectionId } : {}) });
  // (The answer's body is gone once the page has left; the browser's first hop is its authorizationUrl.)
  const urls = hops.map((r) => r.url());
  const authorizationUrl = urls.find((u) => u.startsWith(`${stack.fakesUrl}/`));
  assert.ok(authorizationUrl, `the browser went to the fake authorization server: ${urls.join(' → ')}`);
  const authorize = new URL(authorizationUrl);
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${stack.fakesUrl}/oauth/google/authorize`);
  assert.equal(authorize.searchParams.get('client_id'), 'fake-google-client-id');
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authorize.searchParams.get('redirect_uri'), `${stack.baseUrl}/api/v1/integrations/oauth/callback`);

  // The binding cookie: set by the page's fetch, sent back by the browser to the callback only.
  const setCookie = await connect.headerValue('set-cookie');
  assert.match(setCookie, /^doo_oauth_[^=]+=[^;]+;/);
  for (const attribute of ['Path=/api/v1/integrations/oauth/callback', 'HttpOnly', 'Secure', 'SameSite=Lax']) {
    assert.ok(setCookie.includes(attribute), `the binding cookie has ${attribute}: ${setCookie}`);
  }
  const pair = setCookie.split(';')[0];
  const sent = (await callback.request().allHeaders()).cookie || '';
  assert.ok(sent.split(/;\s*/).includes(pair), `the callback request carried ${pair} (Cookie: ${sent || 'none'})`);

  const at = (prefix) => urls.findIndex((u) => u.startsWith(prefix));
  assert.ok(at(`${stack.baseUrl}/api/v1/integrations/oauth/callback?`) > at(authorizationUrl), 'and came back to the callback');
  return new URL(callback.headers().location, stack.baseUrl);
}

pageTest('catalog-renders-8-cards', async ({ page }) => {
  await cards(page).first().waitFor();
  assert.equal(await cards(page).count(), 8);
  for (const id of ['slack', 'microsoft-teams', 'trello', 'asana', 'google-calendar', 'google-drive', 'notion', 'zapier']) {
    await page.getByTestId(`card-${id}`).waitFor();
  }
  // Chips: "All" plus one per category the API lists, none hard-coded.
  const api = await apiFromPage(page, 'GET', '/available');
  const chips = page.locator('[data-testid="catalog-filters"] [data-testid^="filter-"]');
  assert.equal(await chips.count(), api.body.categories.length + 1);
  assert.equal(await page.getByTestId('filter-all').getAttribute('aria-pressed'), 'true');
  // A coming-soon card cannot be connected and says so; a premium card says Premium is needed.
  const asana = page.getByTestId('card-asana');
  assert.equal(await asana.getByRole('button', { name: /connect/i }).count(), 0);
  assert.match(await asana.innerText(), /coming soon/i);
  assert.match(await page.getByTestId('card-zapier').innerText(), /premium/i);
  assert.match(await page.getByTestId('card-trello').innerText(), /API key/);
  assert.match(await page.getByTestId('card-google-calendar').innerText(), /Sign in with Google Calendar/);
});

pageTest('filter-by-category', async ({ page }) => {
  await cards(page).first().waitFor();
  await page.getByTestId('filter-task-management').click();
  assert.equal(await page.getByTestId('filter-task-management').getAttribute('aria-pressed'), 'true');
  assert.equal(await page.getByTestId('filter-all').getAttribute('aria-pressed'), 'false');
  const categories = await cards(page).evaluateAll((els) => els.map((el) => el.dataset.category));
  assert.ok(categories.length > 0, 'some cards are shown');
  assert.deepEqual([...new Set(categories)], ['task-management']);
  await page.getByTestId('card-trello').waitFor();
  assert.equal(await page.getByTestId('card-slack').count(), 0);
  await page.getByTestId('filter-all').click();
  assert.equal(await cards(page).count(), 8);
  await page.getByTestId('filter-calendar').click();
  assert.equal(await cards(page).count(), 1);
});

pageTest('connect-trello', async ({ page }) => {
  await page.getByTestId('connections-empty').waitFor();
  await page.getByTestId('connect-trello').click();
  const dialog = page.getByTestId('connect-dialog');
  await dialog.waitFor();
  assert.equal(await page.getByTestId('field-token').getAttribute('type'), 'password');
  assert.equal(await page.getByTestId('field-token').getAttribute('autocomplete'), 'off');
  await page.getByLabel('API key').fill(TRELLO_DEMO.apiKey);
  await page.getByTestId('field-token').fill(TRELLO_DEMO.token);
  await page.getByTestId('toggle-token').click();
  assert.equal(await page.getByTestId('field-token').getAttribute('type'), 'text');
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/integrations/connect') && r.request().method() === 'POST');
  await page.getByTestId('connect-submit').click();
  const { connectionId } = await (await created).json();

  const row = rowOf(page, connectionId);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-integration'), 'trello');
  assert.equal(await dialog.isVisible(), false, 'the dialog closed');
  assert.match(await row.innerText(), /Trello/);
  assert.match(await part(page, 'status', connectionId).innerText(), /Active/);
  await page.getByTestId('notice-connected').waitFor();
  await page.getByTestId('card-connected-trello').waitFor();
  await page.getByTestId('stat-connected').getByText('1', { exact: true }).waitFor();
  const connected = await apiFromPage(page, 'GET', '/connected');
  assert.equal(connected.body.connections.length, 1);
  assert.equal(connected.body.connections[0].integrationId, 'trello');
  assert.equal(connected.body.connections[0].connectionId, connectionId);
  // The card links to the row, by the connection's id.
  await page.getByTestId(`manage-${connectionId}`).click();
  await page.waitForFunction((id) => document.activeElement?.id === `connection-${id}`, connectionId);
});

pageTest('rejected-token', async ({ page }) => {
  await page.getByTestId('connect-trello').click();
  await page.getByTestId('field-apiKey').fill(TRELLO_DEMO.apiKey);

  // A malformed token is caught before anything is sent, with the field's help as the message.
  await page.getByTestId('field-token').fill('not a token!');
  await page.getByTestId('connect-submit').click();
  const error = page.getByTestId('error-token');
  await error.waitFor();
  assert.match(await error.innerText(), /A token you authorised for that key/);

  // A well-formed token the provider does not know: its rejection shows next to the field.
  await page.getByTestId('field-token').fill('unknown-token-0123456789');
  await page.getByTestId('connect-submit').click();
  await page.waitForFunction(() => /rejected/i.test(document.querySelector('[data-testid="error-token"]')?.textContent || ''));
  assert.equal(await page.getByTestId('field-token').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByTestId('error-apiKey').isVisible(), false);
  assert.equal(await page.getByTestId('connect-dialog').isVisible(), true, 'the dialog stays open');
  await page.getByTestId('connect-error').waitFor();
  await screenshot(page, 'rejected-token-dialog', { fullPage: false });

  await page.keyboard.press('Escape');
  await page.getByTestId('connections-empty').waitFor();
  const connected = await apiFromPage(page, 'GET', '/connected');
  assert.deepEqual(connected.body.connections, []);
});

pageTest('disconnect', async ({ page }) => {
  const { connectionId } = await connectTrelloThroughApi(page);
  await page.reload();
  const row = rowOf(page, connectionId);
  await row.waitFor();

  // Cancelling keeps it.
  await part(page, 'disconnect', connectionId).click();
  await page.getByTestId('confirm-disconnect-cancel').click();
  assert.equal(await row.isVisible(), true);

  await part(page, 'disconnect', connectionId).click();
  await page.getByTestId('confirm-disconnect').click();
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('notice-disconnected').waitFor();
  await page.getByTestId('connections-empty').waitFor();
  await page.getByTestId('connect-trello').waitFor();
  const connected = await apiFromPage(page, 'GET', '/connected');
  assert.deepEqual(connected.body.connections, []);
});

pageTest('phone-width', async ({ page }) => {
  const { connectionId } = await connectTrelloThroughApi(page);
  await page.reload();
  await rowOf(page, connectionId).waitFor();
  await cards(page).first().waitFor();
  const overflow = () => page.evaluate(() => ({
    scroll: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
    viewport: window.innerWidth,
  }));
  let { scroll, viewport } = await overflow();
  assert.equal(viewport, 375);
  assert.ok(scroll <= viewport, `page is ${scroll}px wide at ${viewport}px`);

  await page.getByTestId('connect-slack').click();
  await page.getByTestId('mode-key').check();
  ({ scroll, viewport } = await overflow());
  assert.ok(scroll <= viewport, `with the connect dialog open the page is ${scroll}px wide`);
  await screenshot(page, 'phone-width-dialog', { fullPage: false });
  await page.keyboard.press('Escape');
}, { width: 375, height: 812 });


pageTest('sync-trello', async ({ page }) => {
  // Before: nothing saved yet.
  await page.getByTestId('chart-empty').waitFor();
  await page.getByTestId('stat-items').getByText('0', { exact: true }).waitFor();
  const connection = await connectTrelloThroughForm(page);
  const id = connection.connectionId;
  await page.getByTestId('notice-connected').waitFor();
  assert.match(await text(part(page, 'last-sync', id)), /Not synced yet/);
  // Connecting subscribed it to the fake Trello's webhooks.
  assert.equal(await text(part(page, 'realtime', id)), 'Live: changes arrive as they happen.');

  // The demo account syncs in well under a second: slow four Trello pages down so the run
  // can be seen while it runs.
  await slowTrello('/1/boards/', 700, 4);
  let syncId = null;
  const polls = countRunPolls(page, () => syncId);
  try {
    const queued = await pressSync(page, id);
    syncId = queued.syncId;
    assert.equal(queued.status, 'queued');

    // While it runs: the progress bar, "N items so far", the row's status says Syncing.
    const progress = part(page, 'sync-progress', id);
    await progress.waitFor();
    assert.match(await text(part(page, 'status', id)), /Syncing/);
    assert.equal(await part(page, 'sync', id).isDisabled(), true, 'Sync now is disabled while it runs');
    await page.waitForFunction((cid) => Number(document.querySelector(`[data-testid="sync-progress-${cid}"] [role=progressbar]`)?.getAttribute('aria-valuenow')) > 0, id);
    assert.match(await text(progress), /^Syncing — \d+ items so far$/);
    assert.match(await progress.getByRole('progressbar').getAttribute('aria-valuetext'), /\d+ items so far/);
    await screenshot(rowOf(page, id), 'sync-trello-running');

    // Finished: the numbers of GET …/syncs/{id}; polling has stopped.
    const run = await expectFinishedRun(page, id, syncId, polls);
    assert.ok(polls.length >= 2, `the page followed the run (${polls.length} polls)`);
    assert.match(await text(part(page, 'last-sync', id)),
      new RegExp(`^Last synced just now: ${fmt.items(run.progress.items)}, saved ${fmt.duration(run.minutesSaved)}$`));
    await page.waitForFunction((cid) => /Up to date as of just now/.test(document.querySelector(`[data-testid="realtime-${cid}"]`)?.textContent), id);

    // History: the run, newest first.
    const history = part(page, 'history', id);
    await history.locator('summary').click();
    const rows = history.getByTestId('history-run');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    const row = await text(rows.first());
    for (const part of ['Done', 'Manual', fmt.items(run.progress.items), `saved ${fmt.duration(run.minutesSaved)}`, `took ${fmt.elapsed(run.durationMs)}`]) {
      assert.ok(row.includes(part), `the history row "${row}" shows "${part}"`);
    }
    const listed = await apiFromPage(page, 'GET', `/${connection.connectionId}/syncs?limit=10`);
    assert.deepEqual(listed.body.syncs.map((r) => r.syncId), [syncId]);

    // The stats band and the chart: items processed and time saved, a bar for today.
    const stats = await expectStatsWithToday(page);
    assert.equal(stats.itemsProcessed, run.progress.items);

    // A second sync right away is refused for a minute: the page says when it can run again.
    await part(page, 'sync', id).click();
    await part(page, 'sync-result', id).getByText('Trello was synced moments ago').waitFor();
    assert.match(await text(part(page, 'sync-result', id)), /You can sync again in (\d+ seconds|1 minute)/);
    assert.equal(await part(page, 'sync', id).isDisabled(), true);
  } finally {
    await stack.fakes('DELETE', '/_fake/trello/faults');
  }
});

pageTest('sync-polling-pauses-while-hidden', async ({ page }) => {
  const connection = await connectTrelloThroughApi(page);
  const id = connection.connectionId;
  await page.reload();
  await rowOf(page, id).waitFor();
  // Trello answers the first request of the run after 2.5 s: the run is still going when the page is hidden.
  await slowTrello('/1/members/me/boards', 2500, 1);
  let syncId = null;
  const polls = countRunPolls(page, () => syncId);
  try {
    syncId = (await pressSync(page, id)).syncId;
    await page.waitForFunction((cid) => /Syncing/.test(document.querySelector(`[data-testid="sync-progress-${cid}"]`)?.textContent || ''), id);
    while (polls.length === 0) await page.waitForTimeout(50); // the page has asked for the run

    await setVisibility(page, 'hidden');
    const before = polls.length;
    await page.waitForTimeout(2200); // two of the page's poll intervals
    // The run ends while nobody looks (the test asks the API itself, which the count leaves out).
    let meanwhile;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await page.waitForTimeout(150)) {
      meanwhile = (await apiFromPage(page, 'GET', `/${connection.connectionId}/syncs/${syncId}`)).body;
      if (meanwhile.status === 'succeeded') break;
    }
    assert.equal(meanwhile.status, 'succeeded', 'the run ended while the page was hidden');
    assert.equal(polls.length, before, 'no polling while the page is hidden');
    assert.equal(await part(page, 'sync-progress', id).isVisible(), true, 'the page has not seen the end yet');

    const shownAt = Date.now();
    await setVisibility(page, 'visible');
    await part(page, 'sync-result', id).getByText(/^Synced /).waitFor({ timeout: 3000 });
    assert.ok(polls.length > before && polls[before] - shownAt < 1200, 'polling went on as soon as the page was visible');
    await expectFinishedRun(page, id, syncId, polls);
  } finally {
    await stack.fakes('DELETE', '/_fake/trello/faults');
  }
});

pageTest('oauth-connect-google-calendar', async ({ page, context }) => {
  await page.getByTestId('connections-empty').waitFor();
  await page.getByTestId('connect-google-calendar').click();
  await page.getByTestId('connect-dialog').waitFor();
  assert.match(await text(page.getByTestId('oauth-signin')), /^Sign in with Google Calendar$/);

  const trip = await signInThroughProvider(page, context);
  const back = await expectGoogleRoundTrip(trip);
  assert.equal(back.pathname, '/integrations');
  assert.equal(back.searchParams.get('integration'), 'google-calendar');
  const connectionId = back.searchParams.get('connected');
  assert.ok(connectionId, `the callback sent the browser back with ?connected=… (${back})`);

  // The notice, the query gone from the address bar, the new row with the Google account.
  assert.match(await text(page.getByTestId('notice-oauth')), /^Google Calendar is connected/);
  assert.equal(new URL(page.url()).search, '', 'the query is removed from the URL');
  const row = rowOf(page, connectionId);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-integration'), 'google-calendar');
  const { body: { connections } } = await apiFromPage(page, 'GET', '/connected');
  assert.equal(connections.length, 1);
  const [connection] = connections;
  assert.equal(connection.connectionId, connectionId);
  assert.equal(connection.authKind, 'oauth2');
  const google = await stack.fakes('GET', '/_fake/oauth/google/user');
  assert.ok([google.email, google.name].includes(connection.account.name), `the account is the fake Google user's: ${JSON.stringify(connection.account)}`);
  const shown = await text(row);
  assert.ok(shown.includes(connection.account.name), `the row shows the account "${connection.account.name}": ${shown}`);
  assert.match(shown, /signed in with Google Calendar/);
  assert.match(await text(part(page, 'status', connectionId)), /Active/);
  await page.getByTestId('card-connected-google-calendar').waitFor();
  assert.equal(await row.evaluate((el) => el.id), `connection-${connectionId}`);

  // Then sync it: the calendar's events come in.
  let syncId = null;
  const polls = countRunPolls(page, () => syncId);
  syncId = (await pressSync(page, connectionId)).syncId;
  const run = await expectFinishedRun(page, connectionId, syncId, polls);
  assert.equal(run.integrationId, 'google-calendar');
  await expectStatsWithToday(page);
});

pageTest('oauth-declined', async ({ page, context }) => {
  await page.getByTestId('connections-empty').waitFor();
  await stack.fakes('POST', '/_fake/oauth/google/deny-next');
  await page.getByTestId('connect-google-calendar').click();
  const trip = await signInThroughProvider(page, context).catch(async (error) => {
    await stack.fakes('POST', '/_fake/seed-demo'); // an unused refusal would hit the next test
    throw error;
  });
  const back = await expectGoogleRoundTrip(trip);
  assert.equal(back.searchParams.get('oauthError'), 'access_denied');
  assert.equal(back.searchParams.get('integration'), 'google-calendar');
  assert.equal(back.searchParams.get('connected'), null);

  const notice = page.getByTestId('notice-oauth');
  assert.match(await text(notice), /You declined access to Google Calendar — nothing was connected/);
  assert.equal(new URL(page.url()).search, '', 'the query is removed from the URL');
  await page.getByTestId('connections-empty').waitFor();
  await page.getByTestId('connect-google-calendar').waitFor();
  const connected = await apiFromPage(page, 'GET', '/connected');
  assert.deepEqual(connected.body.connections, []);
  await screenshot(page, 'oauth-declined-notice', { fullPage: false });
  await notice.getByTestId('notice-dismiss').click();
  await notice.waitFor({ state: 'detached' });
});

pageTest('reconnect-google-calendar', async ({ page, context, user }) => {
  await page.getByTestId('connect-google-calendar').click();
  const first = await expectGoogleRoundTrip(await signInThroughProvider(page, context));
  const connectionId = first.searchParams.get('connected');
  await rowOf(page, connectionId).waitFor();

  // Google refuses the stored sign-in (as when the user removed the app's access).
  const reason = 'Google Calendar refused the stored sign-in (invalid_grant: Token has been expired or revoked)';
  await stack.markNeedsReauth(user, connectionId, reason);
  await page.reload();
  await part(page, 'reconnect', connectionId).waitFor();
  assert.match(await text(part(page, 'status', connectionId)), /Needs you/);
  assert.equal(await text(part(page, 'reason', connectionId)),
    'Google Calendar refused the stored sign-in (invalid_grant: Token has been expired or revoked). Press Reconnect and sign in again to keep it syncing.');
  assert.equal(await part(page, 'sync', connectionId).isDisabled(), true, 'Sync now waits for the reconnect');
  assert.match(await text(page.getByTestId('stat-connected')), /1 needs your attention/);
  await screenshot(rowOf(page, connectionId), 'reconnect-google-calendar-needed');

  await part(page, 'reconnect', connectionId).click();
  const dialog = page.getByTestId('connect-dialog');
  await dialog.waitFor();
  assert.match(await text(dialog.locator('.dialog__title')), /^Reconnect Google Calendar$/);
  assert.ok((await text(dialog)).includes(`${reason}.`), 'the dialog says why');
  assert.equal(await dialog.getByTestId('mode-key').count(), 0);
  assert.match(await text(page.getByTestId('oauth-signin')), /^Sign in with Google Calendar again$/);

  const back = await expectGoogleRoundTrip(await signInThroughProvider(page, context), { connectionId });
  assert.equal(back.searchParams.get('connected'), connectionId, 'the same connection came back');
  assert.match(await text(page.getByTestId('notice-oauth')), /^Google Calendar is reconnected/);
  await rowOf(page, connectionId).waitFor();
  assert.match(await text(part(page, 'status', connectionId)), /Active/);
  assert.equal(await part(page, 'reconnect', connectionId).isVisible(), false);
  assert.equal(await part(page, 'reason', connectionId).isVisible(), false);
  const { body: { connections } } = await apiFromPage(page, 'GET', '/connected');
  assert.equal(connections.length, 1);
  assert.equal(connections[0].connectionId, connectionId);
  assert.equal(connections[0].status, 'active');
  assert.equal(connections[0].statusReason, undefined);
  assert.equal(await part(page, 'sync', connectionId).isDisabled(), false);
});

pageTest('reconnect-trello-key', async ({ page, user }) => {
  const connection = await connectTrelloThroughApi(page);
  const reason = 'Trello refused the credential (invalid token); connect it again.';
  await stack.markNeedsReauth(user, connection.connectionId, reason);
  const id = connection.connectionId;
  await page.reload();
  await part(page, 'reconnect', id).waitFor();
  assert.match(await text(part(page, 'status', id)), /Needs you/);
  assert.equal(await text(part(page, 'reason', id)), `${reason} Press Reconnect and enter a new key to keep it syncing.`);

  await part(page, 'reconnect', id).click();
  const dialog = page.getByTestId('connect-dialog');
  await dialog.waitFor();
  assert.match(await text(dialog.locator('.dialog__title')), /^Reconnect Trello$/);
  assert.equal(await dialog.getByText('Name and sync options').count(), 0, 'settings stay as they are');
  assert.equal(await page.getByTestId('oauth-signin').count(), 0);
  await page.getByTestId('field-apiKey').fill(TRELLO_DEMO.apiKey);
  await page.getByTestId('field-token').fill(TRELLO_DEMO.token);
  const sent = page.waitForRequest((r) => r.url().endsWith('/api/v1/integrations/connect') && r.method() === 'POST');
  await page.getByTestId('connect-submit').click();
  assert.deepEqual((await sent).postDataJSON(), { integrationId: 'trello', credentials: TRELLO_DEMO, connectionId: connection.connectionId });

  await page.getByTestId('notice-reconnected').waitFor();
  assert.match(await text(page.getByTestId('notice-reconnected')), /^Trello is reconnected/);
  assert.equal(await dialog.isVisible(), false);
  assert.match(await text(part(page, 'status', id)), /Active/);
  assert.equal(await part(page, 'reconnect', id).isVisible(), false);
  const { body: { connections } } = await apiFromPage(page, 'GET', '/connected');
  assert.equal(connections.length, 1);
  assert.equal(connections[0].connectionId, connection.connectionId);
  assert.equal(connections[0].status, 'active');
});

// A real failed sync: the fake Trello stops accepting the demo token, the run fails, the service
// marks the connection as needing a reconnect. The page shows the run's error and the
// statusReason in words. The token is shared with the other tests, so the fakes' demo data is
// seeded again (a fresh, accepted token) at the end.
pageTest('sync-failure-in-words', async ({ page }) => {
  const connection = await connectTrelloThroughApi(page);
  const id = connection.connectionId;
  await page.reload();
  await rowOf(page, id).waitFor();
  try {
    await stack.fakes('POST', '/_fake/trello/revoke', { token: TRELLO_DEMO.token });
    const syncId = (await pressSync(page, id)).syncId;
    const result = part(page, 'sync-result', id);
    await result.getByText('The sync did not finish').waitFor();
    await part(page, 'reconnect', id).waitFor();

    const { body: run } = await apiFromPage(page, 'GET', `/${connection.connectionId}/syncs/${syncId}`);
    assert.equal(run.status, 'failed');
    assert.equal(typeof run.error, 'string');
    const { body: now } = await apiFromPage(page, 'GET', `/${connection.connectionId}`);
    assert.equal(now.status, 'needs_reauth');
    assert.equal(now.lastSync.error, run.error);

    await page.waitForFunction((cid) => /press Reconnect to sync Trello again/.test(document.querySelector(`[data-testid="sync-result-${cid}"]`)?.textContent || ''), id);
    assert.ok((await text(result)).includes(fmt.sentence(run.error)), `the result shows the run's error: ${await text(result)}`);
    assert.match(await text(part(page, 'status', id)), /Needs you/);
    assert.ok((await text(part(page, 'reason', id))).startsWith(fmt.sentence(now.statusReason)), 'the reason is the statusReason');
    assert.match(await text(part(page, 'last-sync', id)), /^Last sync failed just now/);
    assert.equal(await part(page, 'sync', id).isDisabled(), true);

    const history = part(page, 'history', id);
    await history.locator('summary').click();
    await history.getByTestId('history-run').first().waitFor();
    const row = await text(history.getByTestId('history-run').first());
    assert.ok(row.startsWith('Failed') && row.includes(fmt.sentence(run.error)), row);
    assert.match(await text(page.getByTestId('stat-connected')), /1 needs your attention/);
  } finally {
    await stack.fakes('POST', '/_fake/seed-demo');
  }
});

// ---- Two accounts of one tool, webhooks that only receive posts, the API's sync intervals ----

/**
 * Seeds the fakes' demo data again and resolves to the demo Trello member's id. Each seeding
 * gives the demo token a new member (a new account for the service) unless it happens within
 * the same second as the previous one; `other` makes it wait for an id other than that one.
 */
async function reseedTrello(other = null) {
  for (const deadline = Date.now() + 10_000; ; await new Promise((resolve) => setTimeout(resolve, 250))) {
    const { demo } = await stack.fakes('POST', '/_fake/seed-demo');
    if (demo.trelloMemberId !== other || Date.now() > deadline) return demo.trelloMemberId;
  }
}

/** The values of a <select>'s options, as numbers. */
const optionValues = (select) => select.locator('option').evaluateAll((options) => options.map((o) => Number(o.value)));

pageTest('two-trello-accounts', async ({ page }) => {
  // Account one: the demo member. Seeding the demo data again gives the same demo token another
  // member, which the service sees as a second Trello account.
  const memberOne = await reseedTrello();
  const one = await connectTrelloThroughApi(page);
  const memberTwo = await reseedTrello(memberOne);
  assert.notEqual(memberTwo, memberOne, 'the fake Trello has a second member for the demo token');
  await page.reload();
  await rowOf(page, one.connectionId).waitFor();

  // Account two, through the card's "Add another", with a name of its own.
  await page.getByTestId('card-connected-trello').waitFor();
  await page.getByTestId('connect-another-trello').click();
  await page.getByTestId('connect-dialog').waitFor();
  await page.getByTestId('field-apiKey').fill(TRELLO_DEMO.apiKey);
  await page.getByTestId('field-token').fill(TRELLO_DEMO.token);
  await page.getByTestId('connect-options').locator('summary').click();
  await page.getByTestId('field-displayName').fill('Trello (work)');
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/integrations/connect') && r.request().method() === 'POST');
  await page.getByTestId('connect-submit').click();
  const answer = await created;
  assert.equal(answer.status(), 201, `connecting the second Trello account: ${await answer.text()}`);
  const two = await answer.json();
  assert.notEqual(two.connectionId, one.connectionId);

  // Both rows, each keyed by its connection.
  await rowOf(page, two.connectionId).waitFor();
  assert.equal(await rowsOf(page, 'trello').count(), 2);
  assert.deepEqual((await rowsOf(page, 'trello').evaluateAll((rows) => rows.map((r) => r.dataset.connectionId))).sort(),
    [one.connectionId, two.connectionId].sort());
  assert.match(await text(rowOf(page, one.connectionId).locator('.conn__name')), /^Trello$/);
  assert.match(await text(rowOf(page, two.connectionId).locator('.conn__name')), /^Trello \(work\)$/);
  const ids = await page.locator('[id]').evaluateAll((els) => els.map((el) => el.id));
  assert.equal(new Set(ids).size, ids.length, 'no two elements share an id');

  // The card: two connected, one Manage link per connection, each reaching its own row.
  assert.match(await text(page.getByTestId('card-connected-trello')), /^2 connected$/);
  for (const { connectionId } of [two, one]) {
    await page.getByTestId(`manage-${connectionId}`).click();
    await page.waitForFunction((id) => document.activeElement?.id === `connection-${id}`, connectionId);
  }
  assert.match(await text(page.getByTestId(`manage-${two.connectionId}`)), /^Manage Trello \(work\)/);
  await screenshot(page, 'two-trello-accounts-both', { fullPage: true });

  // Each "Sync now" syncs its own connection, and only that row shows the run.
  const runs = {};
  for (const { connectionId } of [two, one]) {
    let syncId = null;
    const polls = countRunPolls(page, () => syncId);
    syncId = (await pressSync(page, connectionId)).syncId;
    const run = await expectFinishedRun(page, connectionId, syncId, polls);
    assert.equal(run.connectionId, connectionId);
    runs[connectionId] = syncId;
    if (connectionId === two.connectionId) {
      assert.equal(await text(part(page, 'sync-result', one.connectionId)), '', 'the other row shows no run');
      assert.match(await text(part(page, 'last-sync', one.connectionId)), /Not synced yet/);
    }
  }
  for (const { connectionId } of [one, two]) {
    const { body } = await apiFromPage(page, 'GET', `/${connectionId}/syncs?limit=10`);
    assert.deepEqual(body.syncs.map((r) => r.syncId), [runs[connectionId]], `${connectionId} has only its own run`);
    const history = part(page, 'history', connectionId);
    await history.locator('summary').click();
    await history.getByTestId('history-run').first().waitFor();
    assert.equal(await history.getByTestId('history-run').count(), 1);
  }

  // Disconnecting one leaves the other.
  await part(page, 'disconnect', one.connectionId).click();
  await page.getByTestId('confirm-disconnect').click();
  await rowOf(page, one.connectionId).waitFor({ state: 'detached' });
  await page.getByTestId('notice-disconnected').waitFor();
  assert.equal(await rowOf(page, two.connectionId).isVisible(), true);
  assert.equal(await rowsOf(page, 'trello').count(), 1);
  assert.match(await text(page.getByTestId('card-connected-trello')), /^Connected$/);
  assert.equal(await page.getByTestId(`manage-${one.connectionId}`).count(), 0);
  await page.getByTestId(`manage-${two.connectionId}`).click();
  await page.waitForFunction((id) => document.activeElement?.id === `connection-${id}`, two.connectionId);
  const { body: { connections } } = await apiFromPage(page, 'GET', '/connected');
  assert.deepEqual(connections.map((c) => c.connectionId), [two.connectionId]);
});

/** A Microsoft Teams incoming webhook URL of the form the catalog's pattern accepts (a dummy). */
const TEAMS_WEBHOOK = 'https://contoso.webhook.office.com/webhookb2/x/IncomingWebhook/y/z';

pageTest('teams-webhook-receives-posts', async ({ page }) => {
  const { body: catalog } = await apiFromPage(page, 'GET', '/available');
  const teams = catalog.integrations.find((i) => i.id === 'microsoft-teams');
  assert.deepEqual(teams.capabilities?.sync, ['oauth2'], 'only Teams sign-ins have something to sync');

  // The connect form for the webhook: no auto-sync options, and it says why.
  await page.getByTestId('connect-microsoft-teams').click();
  await page.getByTestId('connect-dialog').waitFor();
  await page.getByTestId('mode-key').check();
  assert.equal(await text(page.getByTestId('connect-receives')), fmt.RECEIVES_POSTS);
  await page.getByTestId('connect-options').locator('summary').click();
  assert.equal(await page.getByTestId('field-autoSync').count(), 0, 'no auto-sync option');
  assert.equal(await page.getByTestId('field-syncInterval').count(), 0, 'no interval');
  await page.getByTestId('field-webhookUrl').fill(TEAMS_WEBHOOK);
  const sent = page.waitForRequest((r) => r.url().endsWith('/api/v1/integrations/connect') && r.method() === 'POST');
  const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/integrations/connect') && r.request().method() === 'POST');
  await page.getByTestId('connect-submit').click();
  assert.deepEqual((await sent).postDataJSON(), { integrationId: 'microsoft-teams', credentials: { webhookUrl: TEAMS_WEBHOOK } }, 'no sync settings are sent');
  const answer = await created;
  assert.equal(answer.status(), 201, `connecting the webhook: ${await answer.text()}`);
  const connection = await answer.json();
  assert.equal(connection.canSync, false);
  const id = connection.connectionId;

  // The row says what it does, and offers nothing about syncing.
  const row = rowOf(page, id);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-integration'), 'microsoft-teams');
  assert.match(await text(part(page, 'status', id)), /^Receives posts$/);
  assert.equal(await text(part(page, 'receives', id)), fmt.RECEIVES_POSTS);
  for (const what of ['sync', 'autosync', 'interval', 'history', 'last-sync', 'sync-progress']) {
    assert.equal(await part(page, what, id).isVisible(), false, `no ${what} on a webhook row`);
  }
  assert.equal(await row.getByRole('button', { name: /sync/i }).count(), 0, 'no sync button');
  assert.equal(await row.getByRole('switch').count(), 0, 'no auto-sync switch');
  assert.equal(await row.getByText(/Sync history|Not synced yet|Last synced/).filter({ visible: true }).count(), 0);
  assert.equal(await part(page, 'disconnect', id).isVisible(), true, 'it can still be disconnected');
  await screenshot(row, 'teams-webhook-row');

  // After a reload too (GET /connected).
  await page.reload();
  await part(page, 'receives', id).waitFor();
  assert.equal(await part(page, 'sync', id).isVisible(), false);
});

// The page never asks to sync a webhook; if it somehow does (here: it is told the webhook can
// sync), the API's 409 nothing-to-sync is shown in its words and the row drops its sync controls.
pageTest('nothing-to-sync-in-words', async ({ page }) => {
  const { status, body: connection } = await apiFromPage(page, 'POST', '/connect', { integrationId: 'microsoft-teams', credentials: { webhookUrl: TEAMS_WEBHOOK } });
  assert.equal(status, 201, JSON.stringify(connection));
  const id = connection.connectionId;
  const refused = await apiFromPage(page, 'POST', `/${id}/sync`, { mode: 'incremental' });
  assert.equal(refused.status, 409);
  assert.match(refused.body.type, /\/problems\/nothing-to-sync$/);

  // The page is told the connection can sync (only its list; GET /{id} tells the truth).
  await page.route('**/api/v1/integrations/connected', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    for (const c of body.connections) c.canSync = true;
    await route.fulfill({ response, json: body });
  });
  await page.reload();
  await part(page, 'sync', id).waitFor();
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/integrations/${id}/sync`);
  await part(page, 'sync', id).click();
  assert.equal((await answered).status(), 409);
  const result = part(page, 'sync-result', id);
  await result.getByText(fmt.sentence(refused.body.detail)).waitFor();
  assert.equal(await text(result), `${refused.body.title} ${fmt.sentence(refused.body.detail)}`, "the problem's words");
  // The row asked for the connection again and now shows what it is.
  await part(page, 'receives', id).waitFor();
  assert.equal(await part(page, 'sync', id).isVisible(), false);
  assert.equal(await result.isVisible(), true, 'the explanation stays');
});

pageTest('interval-choices-from-api', async ({ page }) => {
  const { body: catalog } = await apiFromPage(page, 'GET', '/available');
  const allowed = catalog.syncIntervals;
  assert.ok(Array.isArray(allowed?.choices) && allowed.choices.length > 0, `GET /available has syncIntervals: ${JSON.stringify(allowed)}`);

  // The connect form offers exactly the API's choices, its default selected.
  await page.getByTestId('connect-trello').click();
  await page.getByTestId('connect-options').locator('summary').click();
  const formSelect = page.getByTestId('field-syncInterval');
  assert.deepEqual(await optionValues(formSelect), allowed.choices);
  assert.equal(Number(await formSelect.inputValue()), allowed.defaultMinutes);
  assert.deepEqual(await formSelect.locator('option').allTextContents(), allowed.choices.map(fmt.interval));
  await page.keyboard.press('Escape');

  // The row offers exactly the API's choices, and saves the one picked.
  const connection = await connectTrelloThroughApi(page, { settings: { autoSync: true, syncIntervalMinutes: allowed.defaultMinutes } });
  const id = connection.connectionId;
  await page.reload();
  const select = part(page, 'interval', id);
  await select.waitFor();
  assert.deepEqual(await optionValues(select), allowed.choices);
  assert.equal(Number(await select.inputValue()), allowed.defaultMinutes);
  const pick = allowed.choices.find((m) => m !== allowed.defaultMinutes);
  const saved = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/integrations/${id}` && r.request().method() === 'PATCH');
  await select.selectOption(String(pick));
  const patch = await saved;
  assert.equal(patch.status(), 200, await patch.text());
  assert.deepEqual(patch.request().postDataJSON(), { syncIntervalMinutes: pick });
  const { body: now } = await apiFromPage(page, 'GET', `/${id}`);
  assert.equal(now.settings.syncIntervalMinutes, pick);

  // Other choices from the API are other options: the page has no list of its own.
  const other = [20, 45, 60, 90];
  await page.route('**/api/v1/integrations/available', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    body.syncIntervals = { ...body.syncIntervals, choices: other, defaultMinutes: 45 };
    await route.fulfill({ response, json: body });
  });
  await page.reload();
  await select.waitFor();
  await page.waitForFunction((cid) => document.querySelector(`[data-testid="interval-${cid}"]`)?.options.length !== undefined
    && [...document.querySelector(`[data-testid="interval-${cid}"]`).options].some((o) => o.value === '45'), id);
  // The connection's own value (not among these) is still shown, as itself.
  assert.deepEqual(await optionValues(select), [...new Set([...other, pick])].sort((a, b) => a - b));
  assert.equal(Number(await select.inputValue()), pick);
  await page.getByTestId('connect-another-trello').click();
  await page.getByTestId('connect-options').locator('summary').click();
  assert.deepEqual(await optionValues(page.getByTestId('field-syncInterval')), other);
  assert.equal(Number(await page.getByTestId('field-syncInterval').inputValue()), 45);
  await page.keyboard.press('Escape');
});

pageTest('needs-you-reconnect', async ({ page, context }) => {
  await page.getByTestId('connect-google-calendar').click();
  const first = await expectGoogleRoundTrip(await signInThroughProvider(page, context));
  const connectionId = first.searchParams.get('connected');
  await rowOf(page, connectionId).waitFor();
  const badge = part(page, 'health', connectionId);
  assert.equal(await badge.getAttribute('data-health'), 'ok');
  assert.equal(await page.getByTestId('needs-you').isVisible(), false, 'nothing needs the user yet');

  // Google refuses the grant (the user removed the app's access at Google): the next sync's
  // calls are refused, the refresh gets invalid_grant, and the connection needs the user at once.
  const revoked = await stack.fakes('POST', '/_fake/oauth/google/revoke-all');
  assert.ok(revoked.revoked >= 1, `the fake revoked the grant: ${JSON.stringify(revoked)}`);
  await pressSync(page, connectionId);
  const reconnect = page.getByTestId(`needs-you-reconnect-${connectionId}`);
  await reconnect.waitFor({ timeout: 30_000 });
  const item = page.getByTestId(`needs-you-item-${connectionId}`);
  assert.match(await text(item), /Reconnect: Google Calendar refused the token on \d{1,2} [A-Z][a-z]{2}/);
  assert.equal(await badge.getAttribute('data-health'), 'action-needed');
  const { body: shown } = await apiFromPage(page, 'GET', `/${connectionId}`);
  assert.equal(shown.health.status, 'action-needed');
  assert.equal(shown.health.action, 'reconnect');
  await screenshot(page.getByTestId('needs-you'), 'needs-you-reconnect-panel');

  // The one action: Reconnect, straight from the panel.
  await reconnect.click();
  await page.getByTestId('connect-dialog').waitFor();
  const back = await expectGoogleRoundTrip(await signInThroughProvider(page, context), { connectionId });
  assert.equal(back.searchParams.get('connected'), connectionId, 'the same connection came back');
  await rowOf(page, connectionId).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="needs-you"]')?.hidden === true);
  assert.equal(await badge.getAttribute('data-health'), 'ok');

  // The Activity view says what happened, newest first; the plan counts the connection.
  await page.getByTestId('activity-list').locator('[data-action="health_changed"]').first().waitFor();
  const activity = await text(page.getByTestId('activity-list'));
  assert.ok(activity.indexOf('action-needed → ok: reconnected') < activity.indexOf('ok → action-needed'), activity);
  assert.match(await text(page.getByTestId('plan-connections')), /1 of 3/);
});
