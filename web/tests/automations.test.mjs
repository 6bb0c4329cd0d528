// Browser tests of the Automations section against the real local stack (emulator, fake
// providers, dev server with its sync worker and automations runner). What the automations made
// is read from the fakes' own provider APIs (the demo accounts' calendar and boards).
// Run: cd web && npm ci && node --test tests/

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStack } from './stack.mjs';
import {
  TRELLO_DEMO, apiFromPage, connectGoogleCalendar, connectTrello, fakeJson, launchBrowser, pageTests, screenshot,
} from './browser.mjs';
import * as fmt from '../assets/format.js';

/** The fakes' demo Google user's token (infra/fakes/src/demo: GOOGLE_TOKEN). */
const GOOGLE_DEMO_TOKEN = 'ya29.fake-google-demo';
const TRELLO_AUTH = `key=${TRELLO_DEMO.apiKey}&token=${TRELLO_DEMO.token}`;

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

const pageTest = pageTests(test, () => ({ browser, stack }), { timeout: 180_000 });


// ---------- The fakes' data, through their provider APIs ----------


/** Open cards of the demo member's boards (as the Trello connector reads them). */
async function trelloCards() {
  const boards = await fakeJson(stack, `/trello/1/members/me/boards?filter=open&fields=id,name&${TRELLO_AUTH}`);
  const cards = [];
  for (const board of boards) {
    cards.push(...await fakeJson(stack, `/trello/1/boards/${board.id}/cards?filter=all&fields=name,due,dueComplete,closed,idList&limit=1000&${TRELLO_AUTH}`));
  }
  return cards;
}

/** The cards "Block focus time" is for now: open, not done, due within the next 7 days. */
async function cardsDueThisWeek() {
  const now = Date.now();
  return (await trelloCards())
    .filter((c) => c.due && !c.dueComplete && !c.closed)
    .filter((c) => Date.parse(c.due) > now && Date.parse(c.due) <= now + 7 * 86_400_000)
    .map((c) => c.name);
}

/** A new card in the demo member's first list, due in two days, made through Trello's API. */
async function addCardDueSoon(name) {
  const [board] = await fakeJson(stack, `/trello/1/members/me/boards?filter=open&fields=id,name&${TRELLO_AUTH}`);
  const [list] = await fakeJson(stack, `/trello/1/boards/${board.id}/lists?${TRELLO_AUTH}`);
  const due = new Date(Date.now() + 2 * 86_400_000).toISOString();
  return fakeJson(stack, `/trello/1/cards?idList=${list.id}&name=${encodeURIComponent(name)}&due=${encodeURIComponent(due)}&${TRELLO_AUTH}`, { method: 'POST' });
}

/** The demo Google user's calendar events titled "Focus: …", by title. */
async function focusEvents() {
  const { items } = await fakeJson(stack, '/google/calendar/v3/calendars/primary/events?maxResults=2500&singleEvents=true',
    { headers: { Authorization: `Bearer ${GOOGLE_DEMO_TOKEN}` } });
  const byTitle = new Map();
  for (const e of items.filter((x) => x.status !== 'cancelled' && x.summary?.startsWith('Focus: '))) {
    byTitle.set(e.summary, [...(byTitle.get(e.summary) || []), e]);
  }
  return byTitle;
}

async function waitUntil(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  assert.fail(`${what} within ${timeoutMs / 1000}s`);
}

// ---------- The page ----------



/** Presses Sync now and waits for the result; a connection synced moments ago is pressed again when it may. */
async function syncNow(page, connectionId) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const queued = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/integrations/${connectionId}/sync`
      && r.request().method() === 'POST');
    await page.getByTestId(`sync-${connectionId}`).click();
    const response = await queued;
    if (response.status() === 409) {
      // The fake Trello notified the change and a sync it started is running: wait for that one.
      const { syncId, type } = await response.json();
      assert.equal(type, '/problems/sync-in-progress');
      await waitUntil('the running sync to finish', async () => {
        const { body } = await apiFromPage(page, 'GET', `/${connectionId}/syncs/${syncId}`);
        return ['succeeded', 'failed'].includes(body.status) ? body : null;
      });
      return;
    }
    if (response.status() === 429 && attempt === 0) {
      const { retryAfterSeconds } = await response.json();
      await page.waitForTimeout((retryAfterSeconds + 1) * 1000);
      continue;
    }
    assert.equal(response.status(), 202, `POST …/sync: ${await response.text()}`);
    await page.getByTestId(`sync-result-${connectionId}`).getByText(/^Synced /).waitFor({ timeout: 45_000 });
    return;
  }
}

const text = async (locator) => (await locator.textContent()).replace(/\s+/g, ' ').trim();

/** The titles the dry run lists. */
const dryRunTitles = (page) => page.getByTestId('dry-run-item').evaluateAll((els) => els.map((e) => e.querySelector('a')?.textContent || e.textContent));

async function receiptCount(page, id) {
  return page.getByTestId(`automation-runs-${id}`).getByTestId('receipt').count();
}

// ---------- Tests ----------

pageTest('block-focus-time-from-template', async ({ page }) => {
  const trello = await connectTrello(page);
  await syncNow(page, trello.connectionId);
  const google = await connectGoogleCalendar(page);
  const due = await cardsDueThisWeek();
  assert.ok(due.length > 0, 'the demo has cards due this week');
  const before = await focusEvents();

  // The gallery: the template says what it needs; with both connected, two clicks switch it on.
  const card = page.getByTestId('template-block-focus-time');
  await page.waitForFunction(() => /Needs: Trello \(connected\), Google Calendar \(connected\)/
    .test(document.querySelector('[data-testid="template-block-focus-time"]')?.textContent || ''));
  await card.getByTestId('template-use-block-focus-time').click();
  const builder = page.getByTestId('builder');
  await builder.waitFor();
  assert.equal(await builder.getByTestId('step-connection-1').inputValue(), google.connectionId, "the template chose the user's calendar");

  // The dry run, before switching on: exactly the cards due this week, and what step 1 would send.
  await page.getByTestId('dry-run-count').getByText(new RegExp(`^${due.length} items? match`)).waitFor();
  assert.deepEqual((await dryRunTitles(page)).sort(), [...due].sort().slice(0, 8));
  assert.match(await text(page.getByTestId('dry-run-step-1')), /Focus: /);
  assert.match(await text(page.getByTestId('dry-run-calls')), new RegExp(`Google Calendar ${due.length * 2}\\b`));
  assert.equal((await focusEvents()).size, before.size, 'the dry run made nothing');
  await screenshot(builder, 'block-focus-time-dry-run');

  // The calendar was connected for reading: switching on asks for the write scope first
  // (incremental consent), and the same connection comes back able to create events.
  const saving = () => page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/integrations/automations' && r.request().method() === 'POST');
  const refused = saving();
  await builder.getByTestId('builder-switch-on').click();
  assert.equal((await refused).status(), 409, 'scope-missing before consent');
  const consent = page.getByTestId('scope-consent');
  await consent.waitFor();
  assert.match(await text(consent), /^Allow Director of One to create events/);
  assert.match(await consent.getAttribute('href'), /include_granted_scopes=true/);
  assert.match(decodeURIComponent(await consent.getAttribute('href')), /auth\/calendar\.events/);
  await consent.click();
  await page.getByTestId('notice-oauth').waitFor({ timeout: 30_000 });
  const { body: afterConsent } = await apiFromPage(page, 'GET', '/connected');
  assert.ok(afterConsent.connections.some((c) => c.connectionId === google.connectionId), 'the same connection, now allowed to write');
  await page.getByTestId('template-block-focus-time').getByTestId('template-use-block-focus-time').click();
  await builder.waitFor();
  await page.getByTestId('dry-run-count').getByText(new RegExp(`^${due.length} items? match`)).waitFor();

  const created = saving();
  await builder.getByTestId('builder-switch-on').click();
  const answer = await created;
  assert.equal(answer.status(), 201, `switch on after consent: ${await answer.text()}`);
  const automation = await answer.json();
  const id = automation.automationId;
  assert.equal(automation.enabled, true);
  const row = page.getByTestId(`automation-${id}`);
  await row.waitFor();
  assert.equal(await row.getByTestId(`automation-switch-${id}`).isChecked(), true);
  await page.getByTestId('notice-automation-saved').waitFor();
  await row.getByTestId(`automation-history-${id}`).locator('summary').click();
  await page.getByTestId(`automation-no-runs-${id}`).waitFor();

  // Run now: an event for each card due this week, with receipts and links on the page.
  await row.getByTestId(`automation-run-${id}`).click();
  await row.getByTestId(`automation-status-${id}`).getByText(/^Done: \d+ new runs?/).waitFor({ timeout: 40_000 });
  const afterRun = await waitUntil('an event for every due card', async () => {
    const events = await focusEvents();
    return due.every((name) => events.has(`Focus: ${name}`)) ? events : null;
  });
  for (const name of due) assert.equal(afterRun.get(`Focus: ${name}`).length, 1, `one event for ${name}`);
  const runs = page.getByTestId(`automation-runs-${id}`);
  await runs.getByTestId('receipt').first().getByText('Created an event in Google Calendar').waitFor();
  assert.equal(await receiptCount(page, id), due.length);
  // Each run names the card it was for.
  await page.waitForFunction(([testid, n]) => [...document.querySelectorAll(`[data-testid="${testid}"] [data-testid="automation-run-item"]`)]
    .filter((e) => e.textContent).length === n, [`automation-runs-${id}`, due.length]);
  const named = await runs.getByTestId('automation-run-item').allTextContents();
  assert.deepEqual(named.sort(), due.map((name) => `for “${name}”`).sort());
  const link = runs.getByTestId('receipt-link').first();
  assert.match(await link.getAttribute('href'), /^https?:\/\//);
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.match(await text(page.getByTestId(`automation-total-${id}`)), new RegExp(`^${due.length} runs? · .* saved · Created an event in Google Calendar`));
  await screenshot(row, 'block-focus-time-receipts');

  // A new card comes in with a sync: the automation blocks time for it too.
  const fresh = `Prepare the board review ${Date.now().toString(36)}`;
  await addCardDueSoon(fresh);
  await syncNow(page, trello.connectionId);
  await waitUntil('an event for the new card', async () => (await focusEvents()).has(`Focus: ${fresh}`));
  await page.waitForFunction(([testid, n]) => document.querySelectorAll(`[data-testid="${testid}"] [data-testid="receipt"]`).length === n,
    [`automation-runs-${id}`, due.length + 1], { timeout: 30_000 });

  // Stats: time saved by automations, apart from the syncs', in the tile and in the chart.
  // (Read before the run below: the emulator restores a whole-table snapshot when a
  // transaction is refused, so concurrent refused ones can undo others' counters there.)
  const { body: stats } = await apiFromPage(page, 'GET', '/stats');
  assert.equal(stats.automations.actions, due.length + 1);
  assert.ok(stats.automations.minutesSaved > 0);
  assert.equal(stats.timeSavedByDay.at(-1).automationMinutesSaved, stats.automations.minutesSaved,
    `today's point counts every run: ${JSON.stringify({ automations: stats.automations, days: stats.timeSavedByDay.slice(-2) })}`);
  await page.reload();
  const tile = page.getByTestId('stat-automations');
  await tile.getByText(`${fmt.count(due.length + 1)} actions done`, { exact: false }).waitFor();
  assert.equal((await text(tile.locator('.stat__value'))), fmt.duration(stats.automations.minutesSaved));
  await page.getByTestId('chart-legend').waitFor();
  const today = page.locator('[data-testid="time-saved-chart"] svg .chart__bar-group').last();
  assert.equal(await today.locator('path.chart__bar-automation').count(), 1, "today's bar has an automations part");
  assert.match(await today.locator('title').textContent(), new RegExp(`${fmt.duration(stats.automations.minutesSaved)} saved by automations`));

  // Run again: nothing is made twice (the runner claims each card's version once).
  const made = await focusEvents();
  await row.getByTestId(`automation-history-${id}`).locator('summary').click();
  await page.waitForFunction(([testid, n]) => document.querySelectorAll(`[data-testid="${testid}"] [data-testid="receipt"]`).length === n,
    [`automation-runs-${id}`, due.length + 1]);
  await row.getByTestId(`automation-run-${id}`).click();
  await row.getByTestId(`automation-status-${id}`).getByText('Nothing new was created: everything it matched had already been done.').waitFor({ timeout: 40_000 });
  const again = await focusEvents();
  assert.equal(again.size, made.size, 'no new titles');
  for (const [title, events] of again) assert.equal(events.length, made.get(title).length, `no second event for ${title}`);
  for (const name of [...due, fresh]) assert.equal(again.get(`Focus: ${name}`).length, 1, `exactly one event for ${name}`);
  assert.equal(await receiptCount(page, id), due.length + 1, 'the page shows no new receipt');
});

pageTest('builder-live-validation-and-switch', async ({ page }) => {
  const trello = await connectTrello(page);
  await page.getByTestId('automation-new').click();
  const builder = page.getByTestId('builder');
  await builder.waitFor();
  await builder.getByTestId('automation-name').fill('Cards for new tasks');

  // Trello's "Create a card" through the Trello connection, its list left empty: said at the field.
  await builder.getByTestId('step-action-1').selectOption('trello.createCard');
  await builder.getByTestId('step-connection-1').selectOption(trello.connectionId);
  const listId = builder.getByTestId('step-1-param-listId');
  const listError = builder.getByTestId('error-steps.1.params.listId');
  await listError.getByText('Is required').waitFor();
  assert.equal(await listId.getAttribute('aria-invalid'), 'true');
  assert.match(await text(builder.getByTestId('builder-invalid')), /Step 1, List id: Is required/);
  assert.equal(await builder.getByTestId('dry-run-count').count(), 0, 'no preview while it cannot be saved');

  // A template naming something the item does not have: said at that field, in words.
  await listId.fill('list-1');
  await builder.getByTestId('step-1-param-name').fill('{{ item.nope }}');
  const nameError = builder.getByTestId('error-steps.1.params.name');
  await nameError.waitFor({ state: 'visible' });
  assert.match(await text(nameError), /nope/);
  assert.equal(await listError.isVisible(), false, 'the fixed field is no longer marked');
  assert.equal(await listId.getAttribute('aria-invalid'), null);

  // Fixed: the preview replaces the error; a condition narrows it.
  await builder.getByTestId('step-1-param-name').fill('Follow up: {{ item.title }}');
  await builder.getByTestId('dry-run-count').waitFor();
  assert.equal(await builder.getByTestId('builder-invalid').count(), 0);
  await builder.getByTestId('rule-add').click();
  await builder.getByTestId('rule-field-1').selectOption('title');
  await builder.getByTestId('rule-op-1').selectOption('contains');
  await builder.getByTestId('rule-value-1').fill('zzz-nothing-has-this');
  await builder.getByTestId('dry-run-count').getByText('Nothing matches right now').waitFor();

  // Saved switched off; the switch turns it on and off (PATCH), as the API then says.
  const created = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/integrations/automations' && r.request().method() === 'POST');
  await builder.getByTestId('builder-save').click();
  const { automationId: id } = await (await created).json();
  const toggle = page.getByTestId(`automation-switch-${id}`);
  await toggle.waitFor({ state: 'attached' });
  assert.equal(await toggle.isChecked(), false);
  const enabled = async () => (await apiFromPage(page, 'GET', `/automations/${id}`)).body.enabled;
  assert.equal(await enabled(), false);
  await toggle.focus();
  await page.keyboard.press('Space');
  await page.getByTestId(`automation-status-${id}`).getByText('Switched on.').waitFor();
  assert.equal(await enabled(), true);
  assert.equal(await toggle.isChecked(), true);
  // Edited while on: renamed, still on.
  await page.getByTestId(`automation-edit-${id}`).click();
  await builder.getByTestId('automation-name').fill('Follow-up cards');
  await builder.getByTestId('dry-run-count').waitFor();
  assert.equal(await builder.getByTestId('builder-save').isVisible(), false, 'an edit has one way to save');
  await builder.getByTestId('builder-switch-on').click();
  await page.getByTestId(`automation-${id}`).getByRole('heading', { name: 'Follow-up cards' }).waitFor();
  const edited = (await apiFromPage(page, 'GET', `/automations/${id}`)).body;
  assert.deepEqual([edited.name, edited.enabled, edited.version > 1], ['Follow-up cards', true, true]);

  await page.getByTestId(`automation-switch-${id}`).click({ force: true });
  await page.getByTestId(`automation-status-${id}`).getByText('Switched off.').waitFor();
  assert.equal(await enabled(), false);

  // Removed elsewhere: the switch says so in words and goes back.
  assert.equal((await apiFromPage(page, 'DELETE', `/automations/${id}`)).status, 204);
  await page.getByTestId(`automation-switch-${id}`).click({ force: true });
  await page.getByTestId(`automation-error-${id}`).getByText(/no such automation/i).waitFor();
  assert.equal(await page.getByTestId(`automation-switch-${id}`).isChecked(), false);
});

pageTest('scope-missing-offers-consent', async ({ page }) => {
  // The back end answers 409 scope-missing when a connection lacks a write scope; here a routed
  // answer in that contract's shape stands in for it.
  const reconsentUrl = `${stack.fakesUrl}/oauth/google/authorize?scope=calendar.events&include_granted_scopes=true`;
  await page.route('**/api/v1/integrations/automations', (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    return route.fulfill({
      status: 409,
      contentType: 'application/problem+json',
      body: JSON.stringify({
        type: '/problems/scope-missing',
        title: 'The connection cannot do this yet',
        status: 409,
        detail: 'Google Calendar was connected for reading only; creating events needs your consent.',
        connectionId: '01JD0000000000000000000000',
        scope: 'https://www.googleapis.com/auth/calendar.events',
        reconsentUrl,
        consent: 'Allow Director of One to create events',
      }),
    });
  });
  await connectTrello(page);
  await page.getByTestId('template-use-block-focus-time').click();
  await page.getByTestId('builder').waitFor();
  await page.getByTestId('builder-switch-on').click();
  const consent = page.getByTestId('scope-consent');
  await consent.waitFor();
  assert.equal(await text(consent), 'Allow Director of One to create events');
  assert.equal(await consent.getAttribute('href'), reconsentUrl);
  assert.match(await text(page.getByTestId('scope-missing')), /creating events needs your consent/);
});

pageTest('automations-phone-width', async ({ page }) => {
  await connectTrello(page);
  await page.getByTestId('template-use-block-focus-time').click();
  await page.getByTestId('builder').waitFor();
  await page.getByTestId('builder').getByTestId('rule-add').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="dry-run"]')?.childElementCount
    || document.querySelector('[data-testid="builder-problem"]')?.childElementCount);
  const { scroll, viewport } = await page.evaluate(() => ({
    scroll: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
    viewport: window.innerWidth,
  }));
  assert.equal(viewport, 375);
  assert.ok(scroll <= viewport, `with the builder open the page is ${scroll}px wide at ${viewport}px`);
  await screenshot(page.getByTestId('builder'), 'automations-phone-width-builder');
}, { width: 375, height: 812 });
