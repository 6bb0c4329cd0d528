// Browser tests of "Your week" against the real local stack (emulator, fake providers, dev
// server with its sync worker). Run: cd web && npm ci && node --test tests/
// The browser runs in a time zone set here (not the machine's), and the expected days are
// computed from the fakes' own demo data in that zone. Each test signs in as its own user and
// saves web/test-output/<test-name>.png.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStack } from './stack.mjs';
import {
  TRELLO_DEMO, apiFromPage, connectGoogleCalendar, connectTrello, fakeJson, launchBrowser, pageTests, screenshot,
} from './browser.mjs';

/** Far from UTC, so a meeting at 09:00–16:00 UTC can fall on the next local day. */
const TIME_ZONE = 'Pacific/Auckland';
const LOCALE = 'en-US';
/** The fakes' demo Google user's token (infra/fakes/src/demo: GOOGLE_TOKEN). */
const GOOGLE_DEMO_TOKEN = 'ya29.fake-google-demo';

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

const pageTest = pageTests(test, () => ({ browser, stack }), {
  timeout: 90_000, contextOptions: { timezoneId: TIME_ZONE, locale: LOCALE },
});


// ---------- Days in the test's time zone ----------

const ymdFormat = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });
/** The day ("YYYY-MM-DD") of an instant in TIME_ZONE. */
function ymd(date) {
  const p = Object.fromEntries(ymdFormat.formatToParts(date).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const sorted = (list) => [...list].sort();

// ---------- The fakes' demo data, read from the fake provider APIs ----------


/** Every card of the demo member's open boards (as the Trello connector reads them). */
async function demoTrelloCards() {
  const auth = `key=${TRELLO_DEMO.apiKey}&token=${TRELLO_DEMO.token}`;
  const boards = await fakeJson(stack, `/trello/1/members/me/boards?filter=open&fields=id,name&${auth}`);
  const cards = [];
  for (const board of boards) {
    cards.push(...await fakeJson(stack, `/trello/1/boards/${board.id}/cards?filter=all&fields=name,due,dueComplete,closed,url&limit=1000&${auth}`));
  }
  return cards;
}

/** The demo Google user's events that are not cancelled. */
async function demoCalendarEvents() {
  const { items } = await fakeJson(stack, '/google/calendar/v3/calendars/primary/events?maxResults=250&singleEvents=true',
    { headers: { Authorization: `Bearer ${GOOGLE_DEMO_TOKEN}` } });
  return items.filter((e) => e.status !== 'cancelled');
}

/**
 * What the week should show in TIME_ZONE: { today, dates, tasks: {date: [names]}, meetings:
 * {date: [titles]}, overdue: [names], urls: {title: url} } — open cards (not done, not archived)
 * due today or in the next 6 days by their day here, the ones due before today as overdue;
 * meetings by the day they start here (an all-day event on its date).
 */
function expectedWeek(cards, events) {
  const today = ymd(new Date());
  const dates = Array.from({ length: 7 }, (_, i) => addDays(today, i));
  const last = dates[6];
  const tasks = Object.fromEntries(dates.map((d) => [d, []]));
  const meetings = Object.fromEntries(dates.map((d) => [d, []]));
  const overdue = [];
  const urls = {};
  for (const card of cards) {
    if (!card.due || card.dueComplete || card.closed) continue;
    const day = ymd(new Date(card.due));
    urls[card.name] = card.url;
    if (day < today) overdue.push(card.name);
    else if (day <= last) tasks[day].push(card.name);
  }
  for (const event of events) {
    const day = event.start.date || ymd(new Date(event.start.dateTime));
    urls[event.summary] = event.htmlLink;
    if (day >= today && day <= last) meetings[day].push(event.summary);
  }
  return { today, dates, tasks, meetings, overdue, urls };
}

// ---------- The page ----------



/** Presses Sync now and waits for the result. */
async function syncNow(page, connectionId) {
  const queued = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/integrations/${connectionId}/sync`
    && r.request().method() === 'POST');
  await page.getByTestId(`sync-${connectionId}`).click();
  const response = await queued;
  assert.equal(response.status(), 202, `POST …/sync: ${await response.text()}`);
  await page.getByTestId(`sync-result-${connectionId}`).getByText(/^Synced /).waitFor({ timeout: 45_000 });
}

/** Waits until the week is loaded (not busy) and has items of every tool in `tools`. */
function weekSettled(page, tools = []) {
  return page.waitForFunction((ids) => {
    const body = document.getElementById('week-body');
    return body?.getAttribute('aria-busy') === 'false'
      && ids.every((id) => body.querySelector(`[data-testid^="week-item-"][data-integration="${id}"]`));
  }, tools, { timeout: 20_000 });
}

/** Opens every "Show N more" of the week. */
async function expandAll(page) {
  const more = page.locator('#week-body [data-testid^="week-more-"]');
  for (let i = 0; i < 30 && await more.count(); i += 1) await more.first().click();
}

/** What the week shows: { overdue: [line], days: [{ date, heading, items: [line] }], overdueFirst }. */
function shownWeek(page) {
  return page.evaluate(() => {
    const line = (li) => {
      const title = li.querySelector('.witem__title');
      return {
        title: title.firstChild.textContent,
        label: title.textContent,
        kind: li.dataset.kind,
        integration: li.dataset.integration,
        href: title.tagName === 'A' ? title.getAttribute('href') : null,
        target: title.getAttribute('target'),
        rel: title.getAttribute('rel'),
        glyph: Boolean(li.querySelector('.witem__icon svg.tile-icon')),
        meta: (li.querySelector('.witem__meta')?.textContent || '').replace(/\s+/g, ' ').trim(),
        inList: li.parentElement.tagName === 'UL',
      };
    };
    const overdueEl = document.querySelector('[data-testid="week-overdue"]');
    const dayEls = [...document.querySelectorAll('#week-body [data-testid^="week-day-"]')];
    return {
      overdue: overdueEl ? [...overdueEl.querySelectorAll('li.witem')].map(line) : [],
      overdueFirst: !overdueEl || !dayEls.length
        || Boolean(overdueEl.compareDocumentPosition(dayEls[0]) & Node.DOCUMENT_POSITION_FOLLOWING),
      days: dayEls.map((el) => ({
        date: el.dataset.date,
        heading: el.querySelector('h3')?.textContent.replace(/\s+/g, ' ').trim(),
        labelledBy: document.getElementById(el.getAttribute('aria-labelledby'))?.tagName,
        items: [...el.querySelectorAll('li.witem')].map(line),
      })),
    };
  });
}

const visibleItems = (page) => page.locator('#week-body li.witem').evaluateAll((lis) => lis.map((li) => ({
  kind: li.dataset.kind, integration: li.dataset.integration,
})));

// ---------- Tests ----------

pageTest('week-cards-and-meetings-by-day', async ({ page }) => {
  // A new user: the week says how it fills up.
  await page.getByTestId('week-empty').waitFor();
  const trello = await connectTrello(page);
  const google = await connectGoogleCalendar(page);
  await syncNow(page, trello.connectionId);
  await syncNow(page, google.connectionId);
  await weekSettled(page, ['trello', 'google-calendar']);
  await expandAll(page);

  const expected = expectedWeek(await demoTrelloCards(), await demoCalendarEvents());
  const dueThisWeek = Object.values(expected.tasks).flat();
  const meetingsThisWeek = Object.values(expected.meetings).flat();
  assert.ok(dueThisWeek.length > 0, 'the demo data has a Trello card due this week');
  assert.ok(meetingsThisWeek.length > 0, 'the demo data has a meeting this week');

  const shown = await shownWeek(page);
  await screenshot(page.locator('#week'), 'week-cards-and-meetings-by-day-week');
  assert.deepEqual(shown.days.map((d) => d.date), expected.dates, `the 7 days from today in ${TIME_ZONE}`);
  assert.match(shown.days[0].heading, /^Today\b/);
  assert.match(shown.days[1].heading, /^Tomorrow\b/);
  for (const day of shown.days) {
    assert.equal(day.labelledBy, 'H3', `day ${day.date} is a section named by its heading`);
    const of = (kind) => sorted(day.items.filter((i) => i.kind === kind).map((i) => i.title));
    assert.deepEqual(of('task'), sorted(expected.tasks[day.date]), `cards due on ${day.date}`);
    assert.deepEqual(of('event'), sorted(expected.meetings[day.date]), `meetings on ${day.date}`);
  }
  // Overdue tasks first, each saying by how much.
  assert.ok(shown.overdueFirst, 'the overdue tasks come before the days');
  assert.deepEqual(sorted(shown.overdue.map((i) => i.title)), sorted(expected.overdue));
  for (const item of shown.overdue) assert.match(item.meta, /overdue \d+ days?/);

  // Each item: its tool's glyph, a link to it at the provider in a new tab, in a list.
  const all = [...shown.overdue, ...shown.days.flatMap((d) => d.items)];
  for (const item of all) {
    assert.equal(item.integration, item.kind === 'task' ? 'trello' : 'google-calendar', item.title);
    assert.ok(item.glyph, `${item.title} has its tool's glyph`);
    assert.ok(item.inList, `${item.title} is in a list`);
    assert.equal(item.href, expected.urls[item.title], `${item.title} links to the item at the provider`);
    assert.equal(item.target, '_blank');
    assert.match(item.rel, /\bnoopener\b/);
    assert.match(item.label, /opens in a new tab/);
  }
  // A timed meeting shows its start time as the browser says it in its zone.
  const timed = (await demoCalendarEvents()).find((e) => e.start.dateTime && meetingsThisWeek.includes(e.summary));
  if (timed) {
    const clock = await page.evaluate((iso) => new Intl.DateTimeFormat(undefined, { timeStyle: 'short' }).format(new Date(iso)), timed.start.dateTime);
    const line = all.find((i) => i.title === timed.summary);
    assert.ok(line.meta.replace(/\s+/g, ' ').startsWith(clock.replace(/\s+/g, ' ')), `"${line.meta}" starts with ${clock}`);
  }
  const count = await page.getByTestId('week-count').innerText();
  assert.match(count, new RegExp(`^${dueThisWeek.length + meetingsThisWeek.length} items this week`), count);
  assert.equal(await page.getByTestId('week-count').getAttribute('aria-live'), 'polite');

  // Filters: by kind, by tool, both (nothing), and back.
  await page.getByTestId('week-kind-meetings').click();
  assert.equal(await page.getByTestId('week-kind-meetings').getAttribute('aria-pressed'), 'true');
  let items = await visibleItems(page);
  assert.equal(items.length, meetingsThisWeek.length);
  assert.ok(items.every((i) => i.kind === 'event'), 'only meetings');
  await page.getByTestId('week-tool-trello').click();
  await page.getByTestId('week-empty-filtered').waitFor();
  assert.match(await page.getByTestId('week-count').innerText(), /Nothing matches/);
  await page.getByTestId('week-empty-filtered').getByRole('button', { name: 'Show everything' }).click();
  await page.getByTestId('week-tool-trello').click();
  await expandAll(page);
  items = await visibleItems(page);
  assert.equal(items.length, dueThisWeek.length + expected.overdue.length);
  assert.ok(items.every((i) => i.integration === 'trello'), 'only Trello');
  await page.getByTestId('week-tool-all').click();
  await page.locator('#week-body [data-kind="event"]').first().waitFor();
});

pageTest('week-search-finds-a-card', async ({ page }) => {
  const trello = await connectTrello(page);
  await syncNow(page, trello.connectionId);
  await weekSettled(page, ['trello']);

  // One word of a card's title, in other letter case.
  const search = page.getByLabel('Search your tasks, meetings, messages and files');
  await search.fill('sprint');
  const results = page.getByTestId('week-results');
  await results.waitFor();
  await page.waitForFunction(() => /result/.test(document.querySelector('[data-testid="week-count"]')?.textContent || ''));
  assert.equal(await page.locator('#week-body [data-testid^="week-day-"]').count(), 0, 'the results replace the week');
  const titles = await results.locator('li.witem .witem__title').evaluateAll((els) => els.map((a) => a.firstChild.textContent));
  const api = await apiFromPage(page, 'GET', '/items?q=sprint&limit=50');
  assert.equal(api.status, 200);
  assert.deepEqual(sorted(titles), sorted(api.body.items.map((i) => i.title)), 'the results are what GET /items?q= says');
  assert.ok(titles.includes('Sprint Board card 6'), `a card found by a word of its title: ${titles.join(', ')}`);
  assert.ok(titles.every((t) => /sprint/i.test(t)), 'every result has the word');
  const count = await page.getByTestId('week-count').innerText();
  assert.match(count, new RegExp(`^${titles.length}\\+? results? for “sprint”`), count);
  const link = results.locator('li.witem', { hasText: 'Sprint Board card 6' }).first().locator('a.witem__title');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.match(await link.getAttribute('rel'), /noopener/);
  await screenshot(page, 'week-search-results');

  // A word nothing has.
  await search.fill('zebra-nothing');
  await page.getByTestId('week-search-empty').waitFor();
  assert.match(await page.getByTestId('week-count').innerText(), /^No results for “zebra-nothing”/);

  // Clear: the week again, the box empty and focused.
  await page.getByTestId('week-search-clear').click();
  await page.locator('#week-body [data-testid^="week-day-"]').first().waitFor();
  assert.equal(await search.inputValue(), '');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'week-search');
  assert.equal(await results.count(), 0);
});

pageTest('week-disconnect-removes-cards', async ({ page }) => {
  const trello = await connectTrello(page);
  await syncNow(page, trello.connectionId);
  await weekSettled(page, ['trello']);
  const trelloItems = page.locator('#week-body [data-testid^="week-item-"][data-integration="trello"]');
  assert.ok(await trelloItems.count() > 0, 'Trello cards are in the week');

  await page.getByTestId(`disconnect-${trello.connectionId}`).click();
  await page.getByTestId('confirm-disconnect').click();
  await page.getByTestId('notice-disconnected').waitFor();
  await trelloItems.first().waitFor({ state: 'detached' });
  await page.getByTestId('week-empty').waitFor();
  assert.equal(await trelloItems.count(), 0);

  // The API agrees (asked again by the page and here), also after a reload.
  const deadline = Date.now() + 15_000;
  let left;
  do {
    const tz = encodeURIComponent(TIME_ZONE);
    const { status, body } = await apiFromPage(page, 'GET', `/agenda?days=7&tz=${tz}`);
    assert.equal(status, 200);
    left = [...body.overdue, ...body.days.flatMap((d) => [...d.tasks, ...d.meetings, ...d.mentions, ...d.files])]
      .filter((i) => i.connectionId === trello.connectionId);
    if (left.length) await page.waitForTimeout(500);
  } while (left.length && Date.now() < deadline);
  assert.deepEqual(left, [], 'GET /agenda has no item of the disconnected connection');
  await page.reload();
  await page.getByTestId('week-empty').waitFor();
  assert.equal(await trelloItems.count(), 0);
});

pageTest('week-phone-width', async ({ page }) => {
  const overflow = () => page.evaluate(() => ({
    scroll: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
    viewport: window.innerWidth,
  }));
  await page.getByTestId('week-empty').waitFor();
  const trello = await connectTrello(page);
  await syncNow(page, trello.connectionId);
  await weekSettled(page, ['trello']);
  await expandAll(page);
  let { scroll, viewport } = await overflow();
  assert.equal(viewport, 390);
  assert.ok(scroll <= viewport, `the page with the week is ${scroll}px wide at ${viewport}px`);
  await screenshot(page.getByTestId('week'), 'week-phone-width-week');

  await page.getByTestId('week-search').fill('Product Roadmap card');
  await page.getByTestId('week-results').locator('li.witem').first().waitFor();
  ({ scroll, viewport } = await overflow());
  assert.ok(scroll <= viewport, `the page with search results is ${scroll}px wide at ${viewport}px`);
}, { width: 390, height: 844 });
