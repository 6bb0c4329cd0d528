// Browser tests of the Integrations page against the real local stack (emulator, fake
// providers, dev server). Run: cd web && npm ci && node --test tests/
// Each test signs in as its own user and saves web/test-output/<test-name>.png.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStack } from './stack.mjs';
import { TRELLO_DEMO, apiFromPage, launchBrowser, openPage, screenshot } from './browser.mjs';

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

/** Runs body({ page, user }) on a fresh page; always saves the screenshot and closes the page. */
function pageTest(name, body, { width, height, timeout = 60_000 } = {}) {
  test(name, { timeout }, async () => {
    const { page, context, user, errors } = await openPage(browser, stack, { name, width, height });
    try {
      await body({ page, user });
      assert.deepEqual(errors, [], 'the page threw no uncaught errors');
    } finally {
      await screenshot(page, name).catch(() => {});
      await context.close();
    }
  });
}

const cards = (page) => page.locator('[data-testid="catalog"] article[data-testid^="card-"]');

async function connectTrelloThroughApi(page) {
  const answer = await apiFromPage(page, 'POST', '/connect', { integrationId: 'trello', credentials: TRELLO_DEMO });
  assert.equal(answer.status, 201, `connecting Trello through the API: ${JSON.stringify(answer.body)}`);
  return answer.body;
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
  await page.getByTestId('connect-submit').click();

  const row = page.getByTestId('connection-trello');
  await row.waitFor();
  assert.equal(await dialog.isVisible(), false, 'the dialog closed');
  assert.match(await row.innerText(), /Trello/);
  assert.match(await page.getByTestId('status-trello').innerText(), /Active/);
  await page.getByTestId('notice-connected').waitFor();
  await page.getByTestId('card-connected-trello').waitFor();
  await page.getByTestId('stat-connected').getByText('1', { exact: true }).waitFor();
  const connected = await apiFromPage(page, 'GET', '/connected');
  assert.equal(connected.body.connections.length, 1);
  assert.equal(connected.body.connections[0].integrationId, 'trello');
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
  await connectTrelloThroughApi(page);
  await page.reload();
  const row = page.getByTestId('connection-trello');
  await row.waitFor();

  // Cancelling keeps it.
  await page.getByTestId('disconnect-trello').click();
  await page.getByTestId('confirm-disconnect-cancel').click();
  assert.equal(await row.isVisible(), true);

  await page.getByTestId('disconnect-trello').click();
  await page.getByTestId('confirm-disconnect').click();
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('notice-disconnected').waitFor();
  await page.getByTestId('connections-empty').waitFor();
  await page.getByTestId('connect-trello').waitFor();
  const connected = await apiFromPage(page, 'GET', '/connected');
  assert.deepEqual(connected.body.connections, []);
});

pageTest('phone-width', async ({ page }) => {
  await connectTrelloThroughApi(page);
  await page.reload();
  await page.getByTestId('connection-trello').waitFor();
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

pageTest('oauth-declined-notice', async ({ page, user }) => {
  // The API sends the browser back here after a provider sign-in; "access_denied" = declined.
  await page.goto(`${stack.baseUrl}/integrations?user=${user}&oauthError=access_denied&integration=google-calendar`);
  const notice = page.getByTestId('notice-oauth');
  await notice.waitFor();
  assert.match(await notice.innerText(), /You declined access to Google Calendar — nothing was connected/);
  assert.equal(new URL(page.url()).search, '', 'the query is removed from the URL');
  await notice.getByTestId('notice-dismiss').click();
  await notice.waitFor({ state: 'detached' });
});

// The sync endpoints are not in the backend yet: this drives the live sync UI with the
// contract's answers served by the browser. Replace the mocks once the backend has them.
pageTest('sync-progress-mocked-api', async ({ page }) => {
  const connection = await connectTrelloThroughApi(page);
  const run = (over) => ({
    syncId: 'sync-1', connectionId: connection.connectionId, integrationId: 'trello', status: 'queued', trigger: 'manual',
    mode: 'incremental', queuedAt: new Date().toISOString(), progress: { phase: 'cards', pages: 0, items: 0 }, minutesSaved: 0, attempts: 1, ...over,
  });
  let polls = 0;
  await page.route(`**/api/v1/integrations/${connection.connectionId}/sync`, (route) => route.fulfill({
    status: 202, contentType: 'application/json', body: JSON.stringify(run()),
  }));
  await page.route(`**/api/v1/integrations/${connection.connectionId}/syncs/sync-1`, (route) => {
    polls += 1;
    const body = polls < 3
      ? run({ status: 'running', progress: { phase: 'cards', pages: polls, items: polls * 20 } })
      : run({ status: 'succeeded', finishedAt: new Date().toISOString(), progress: { phase: 'done', pages: 3, items: 42 },
        counts: { created: 2, updated: 10, unchanged: 30, deleted: 0 }, durationMs: 2100, minutesSaved: 84 });
    route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
  });
  await page.reload();
  await page.getByTestId('sync-trello').click();
  const bar = page.getByTestId('sync-progress-trello').getByRole('progressbar');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="sync-progress-trello"] [role=progressbar]')?.getAttribute('aria-valuenow')) > 0);
  assert.match(await page.getByTestId('sync-progress-trello').innerText(), /items so far/);
  assert.match(await bar.getAttribute('aria-valuetext'), /items so far/);
  const result = page.getByTestId('sync-result-trello');
  await result.getByText(/Synced 42 items — saved 1 h 24 min/).waitFor();
  assert.match(await result.innerText(), /2 new, 10 updated, 30 unchanged/);
  assert.equal(await page.getByTestId('sync-progress-trello').isVisible(), false);
});
