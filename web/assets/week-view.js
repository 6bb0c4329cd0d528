// "Your week": the next 7 days (today first) from GET /agenda, in the browser's time zone —
// overdue tasks first, then one section per day with its tasks, meetings and (today) the
// mentions and files changed by others. Filters by tool and by kind; a search box that asks
// GET /items?q=… and shows its results instead of the week until it is cleared.
// Refreshed when a sync ends (the `sync:finished` event of sync-status.js), when a connection
// goes away (its items vanish at once, then the week is asked for again) and with the page's
// periodic refresh.

import { api } from './api.js';
import { h, render } from './dom.js';
import { empty, errorBox, loading } from './feedback.js';
import { icon, integrationIcon } from './icons.js';
import * as fmt from './format.js';
import { GROUPS, itemLine, toolName } from './week-item.js';
import { canSync, loadAgenda, on, state } from './store.js';

const SHOWN = 5; // items of a long group shown before "Show N more"
const SEARCH_DELAY_MS = 250;
const SEARCH_LIMIT = 50;
const WEEK_GROUPS = GROUPS.filter((g) => g.id !== 'pages'); // the agenda has no pages; search does

const view = {
  tool: 'all', // an integrationId
  kind: 'all', // a group id: tasks, meetings, mentions, files (pages while searching)
  expanded: new Set(), // "<date>:<group>" whose long list is shown whole
  search: null, // { query, status: 'loading'|'ready'|'error', items, nextCursor, error, loadingMore }
};
let searchTicket = 0;
let searchTimer = null;
let knownConnections = null; // connectionIds the page knows, once the connections are loaded
const els = {};

const known = (item) => !knownConnections || knownConnections.has(item.connectionId);
const today = () => state.agenda.data?.days?.[0]?.date || fmt.ymdIn(new Date());
const kindGroups = () => (view.search ? GROUPS : WEEK_GROUPS);

function dayName(date, first) {
  const diff = fmt.daysBetween(first, date);
  return diff === 0 ? 'Today' : diff === 1 ? 'Tomorrow' : null;
}

/** The tools the user has connected (and that sync), for the tool filter; else those in the week. */
function tools() {
  const connections = state.connections.data;
  const ids = Array.isArray(connections)
    ? connections.filter(canSync).map((c) => c.integrationId)
    : weekItems().map(({ item }) => item.integrationId);
  return [...new Set(ids)].sort((a, b) => toolName(a).localeCompare(toolName(b)));
}

// ---------- Filters ----------

function chip(group, id, label, pressed, onPick, glyph = null) {
  return h('button', {
    type: 'button', class: 'chip chip--small', 'aria-pressed': String(pressed),
    'data-testid': `week-${group}-${id}`, 'data-key': `week-${group}:${id}`, onClick: onPick,
  }, glyph, label);
}

function pick(what, value) {
  if (view[what] === value) return;
  view[what] = value;
  view.expanded.clear();
  if (view.search) runSearch(view.search.query);
  else draw();
}

function drawFilters() {
  const toolIds = tools();
  if (view.tool !== 'all' && !toolIds.includes(view.tool)) view.tool = 'all';
  if (!kindGroups().some((g) => g.id === view.kind)) view.kind = 'all';
  const toolGroup = toolIds.length > 1 || view.tool !== 'all'
    ? h('div', { class: 'week__filter', role: 'group', 'aria-labelledby': 'week-filter-tool' },
      h('span', { class: 'week__filter-label', id: 'week-filter-tool' }, 'Tool'),
      chip('tool', 'all', 'All tools', view.tool === 'all', () => pick('tool', 'all')),
      toolIds.map((id) => chip('tool', id, toolName(id), view.tool === id, () => pick('tool', id), integrationIcon(id, toolName(id), 20))))
    : null;
  const kindGroup = h('div', { class: 'week__filter', role: 'group', 'aria-labelledby': 'week-filter-kind' },
    h('span', { class: 'week__filter-label', id: 'week-filter-kind' }, 'Show'),
    chip('kind', 'all', 'Everything', view.kind === 'all', () => pick('kind', 'all')),
    kindGroups().map((g) => chip('kind', g.id, g.label, view.kind === g.id, () => pick('kind', g.id))));
  render(els.filters, toolGroup, kindGroup);
}

const filtering = () => view.tool !== 'all' || view.kind !== 'all';
const passes = (item, groupId) => known(item)
  && (view.tool === 'all' || item.integrationId === view.tool)
  && (view.kind === 'all' || view.kind === groupId);

function filterWords() {
  return [
    view.tool !== 'all' ? toolName(view.tool) : null,
    view.kind !== 'all' ? GROUPS.find((g) => g.id === view.kind)?.label.toLowerCase() : null,
  ].filter(Boolean).join(', ');
}

function resetFilters() {
  view.tool = 'all';
  view.kind = 'all';
  if (view.search) runSearch(view.search.query);
  else draw();
  els.filters.querySelector('[data-key="week-kind:all"]')?.focus();
}

// ---------- The week ----------

const at = (value) => {
  if (!value) return Number.POSITIVE_INFINITY;
  const t = Date.parse(fmt.isDateOnly(value) ? `${value}T00:00:00` : value);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
};
const SORTS = {
  // Timed tasks by their time, then those due some time that day.
  tasks: (a, b) => (fmt.isDateOnly(a.dueAt) - fmt.isDateOnly(b.dueAt)) || at(a.dueAt) - at(b.dueAt),
  // All-day meetings first, then by start.
  meetings: (a, b) => {
    const allDay = (i) => Boolean(i.event?.allDay || fmt.isDateOnly(i.event?.start || i.startAt));
    return (allDay(b) - allDay(a)) || at(a.event?.start || a.startAt) - at(b.event?.start || b.startAt);
  },
  // Newest first.
  mentions: (a, b) => at(b.updatedAt) - at(a.updatedAt),
  files: (a, b) => at(b.updatedAt) - at(a.updatedAt),
  pages: (a, b) => at(b.updatedAt) - at(a.updatedAt),
};

/** Every item of the week with its group: [{ item, group, date|null }] (overdue ones have no date). */
function weekItems() {
  const data = state.agenda.data;
  if (!data) return [];
  const out = (data.overdue || []).map((item) => ({ item, group: 'tasks', date: null }));
  for (const day of data.days || []) {
    for (const g of WEEK_GROUPS) for (const item of day[g.id] || []) out.push({ item, group: g.id, date: day.date });
  }
  return out;
}

function groupBlock(key, group, items, ctx) {
  const open = view.expanded.has(key);
  const visible = open ? items : items.slice(0, SHOWN);
  const rest = items.length - visible.length;
  const id = `week-group-${key}`;
  return h('div', { class: 'day__group', 'data-group': group.id },
    h('h4', { class: 'day__group-title', id }, group.label, h('span', { class: 'day__group-count' }, ` (${fmt.count(items.length)})`)),
    h('ul', { class: 'witems', 'aria-labelledby': id }, visible.map((item) => itemLine(item, ctx))),
    rest > 0
      ? h('button', {
        type: 'button', class: 'btn btn--ghost btn--small week__more', 'data-key': `week-more:${key}`,
        'data-testid': `week-more-${key}`,
        onClick: () => {
          view.expanded.add(key);
          draw();
          // Focus moves to the first item that was hidden (the button is gone).
          els.body.querySelector(`[id="${id}"] + ul > li:nth-child(${SHOWN + 1}) .witem__title`)?.focus();
        },
      }, `Show ${fmt.count(rest)} more ${rest === 1 ? group.one : group.many}`)
      : null);
}

function daySection(day, first) {
  const ctx = { today: first, inDay: true };
  const rel = dayName(day.date, first);
  const titleId = `week-day-title-${day.date}`;
  const groups = WEEK_GROUPS
    .map((g) => ({ g, items: (day[g.id] || []).filter((item) => passes(item, g.id)).sort(SORTS[g.id]) }))
    .filter(({ items }) => items.length);
  return h('section', {
    class: ['day', rel === 'Today' && 'day--today', !groups.length && 'day--free'],
    'aria-labelledby': titleId, 'data-testid': `week-day-${day.date}`, 'data-date': day.date,
  },
  h('h3', { class: 'day__title', id: titleId },
    rel ? h('span', { class: 'day__rel' }, rel) : null,
    rel ? h('span', { class: 'visually-hidden' }, ', ') : null,
    h('span', { class: 'day__date' }, fmt.dayLong(day.date))),
  h('div', { class: 'day__body' },
    groups.length
      ? groups.map(({ g, items }) => groupBlock(`${day.date}:${g.id}`, g, items, ctx))
      : h('p', { class: 'day__none' }, filtering() ? 'Nothing that matches the filters.' : 'Nothing scheduled.')));
}

function overdueSection(items, first) {
  const key = 'overdue';
  const open = view.expanded.has(key);
  const visible = open ? items : items.slice(0, SHOWN);
  const rest = items.length - visible.length;
  return h('section', { class: 'day day--overdue', 'aria-labelledby': 'week-overdue-title', 'data-testid': 'week-overdue' },
    h('h3', { class: 'day__title', id: 'week-overdue-title' },
      h('span', { class: 'day__rel day__rel--late' }, icon('alert', { size: 15 }), 'Overdue'),
      h('span', { class: 'day__date' }, `${fmt.count(items.length)} open ${items.length === 1 ? 'task' : 'tasks'}`)),
    h('div', { class: 'day__body' },
      h('ul', { class: 'witems', 'aria-labelledby': 'week-overdue-title' }, visible.map((item) => itemLine(item, { today: first, inDay: true }))),
      rest > 0
        ? h('button', {
          type: 'button', class: 'btn btn--ghost btn--small week__more', 'data-key': 'week-more:overdue',
          'data-testid': 'week-more-overdue',
          onClick: () => {
            view.expanded.add(key);
            draw();
            els.body.querySelector(`[data-testid="week-overdue"] li:nth-child(${SHOWN + 1}) .witem__title`)?.focus();
          },
        }, `Show ${fmt.count(rest)} more overdue`)
        : null));
}

function noSyncingTools() {
  const connections = state.connections.data;
  return Array.isArray(connections) && !connections.some(canSync);
}

function drawWeek() {
  const { status, data, error } = state.agenda;
  els.body.setAttribute('aria-busy', String(status === 'loading'));
  els.range.textContent = data?.from && data?.to ? `${fmt.day(data.from)} – ${fmt.day(data.to)}` : '';
  if (!data) {
    say('');
    render(els.body, status === 'error'
      ? errorBox(error, 'We could not load your week', loadAgenda, 'week-error')
      : loading('Loading your week…'));
    return;
  }
  const first = today();
  const all = weekItems().filter(({ item }) => known(item));
  const shown = all.filter(({ item, group }) => passes(item, group));
  const overdue = (data.overdue || []).filter((item) => passes(item, 'tasks'));
  const count = (list) => list.filter((e) => e.date !== null).length;
  const lateText = (n) => (n ? `, ${fmt.count(n)} overdue` : '');
  const stale = status === 'error' ? errorBox(error, 'We could not refresh your week', loadAgenda, 'week-error') : null;

  if (!all.length) {
    say(noSyncingTools() ? '' : 'Nothing this week.');
    render(els.body, stale, noSyncingTools()
      ? empty({
        title: 'Your week shows up here',
        text: 'Connect your task list or calendar below. After the first sync you will see what is due, your meetings, mentions and changed files, day by day.',
        iconName: 'clock',
        testid: 'week-empty',
        action: h('a', { class: 'btn btn--secondary btn--small', href: '#catalog' }, 'Browse integrations'),
      })
      : empty({
        title: 'A clear week',
        text: 'No open tasks due, meetings, unanswered mentions or files changed by others in the next 7 days. New ones appear here after your tools sync.',
        iconName: 'check',
        testid: 'week-empty',
      }));
    return;
  }
  if (!shown.length) {
    say(`Nothing matches the filters (${filterWords()}).`);
    render(els.body, stale, empty({
      title: 'Nothing matches these filters',
      text: `There is nothing from ${filterWords()} this week.`,
      iconName: 'info',
      testid: 'week-empty-filtered',
      action: h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'data-key': 'week-reset', onClick: resetFilters }, 'Show everything'),
    }));
    return;
  }
  say(filtering()
    ? `${fmt.items(count(shown))} this week${lateText(overdue.length)} — showing ${filterWords()}.`
    : `${fmt.items(count(all))} this week${lateText(overdue.length)}.`);
  render(els.body, stale,
    overdue.length ? overdueSection(overdue, first) : null,
    h('div', { class: 'days' }, (data.days || []).map((day) => daySection(day, first))));
}

// ---------- Search ----------

function searchParams() {
  const group = GROUPS.find((g) => g.id === view.kind);
  return {
    integrationId: view.tool !== 'all' ? view.tool : undefined,
    kind: group?.kind,
    mentionsMe: group?.id === 'mentions' ? 'true' : undefined,
  };
}

/** Asks GET /items for `query` with the filters; `more` goes on from the last answer's cursor. */
async function runSearch(query, { more = false, quiet = false } = {}) {
  clearTimeout(searchTimer);
  const ticket = ++searchTicket;
  const before = view.search;
  const params = { q: query, limit: SEARCH_LIMIT, ...searchParams() };
  if (more && before?.nextCursor) params.cursor = before.nextCursor;
  else more = false;
  if (more) view.search = { ...before, loadingMore: true };
  else if (quiet && before?.query === query && before.status === 'ready') view.search = { ...before, status: 'ready', refreshing: true };
  else view.search = { query, status: 'loading', items: [], nextCursor: null, error: null };
  draw();
  try {
    const answer = await api.items(params);
    if (ticket !== searchTicket) return;
    const seen = new Set(more ? before.items.map((i) => i.itemId) : []);
    const fresh = (answer?.items || []).filter((i) => !seen.has(i.itemId));
    view.search = {
      query, status: 'ready', items: more ? [...before.items, ...fresh] : fresh, nextCursor: answer?.nextCursor || null, error: null,
    };
  } catch (error) {
    if (ticket !== searchTicket) return;
    view.search = { ...view.search, status: 'error', error, loadingMore: false, refreshing: false };
  }
  draw();
  if (more) els.body.querySelector(`[data-testid="week-results"] li:nth-child(${before.items.length + 1}) .witem__title`)?.focus();
}

function endSearch() {
  clearTimeout(searchTimer);
  searchTicket += 1;
  view.search = null;
  draw();
}

function clearSearch() {
  els.input.value = '';
  els.clear.hidden = true;
  endSearch();
  els.input.focus();
}

function drawSearch() {
  const { query, status, items: found, nextCursor, error, loadingMore, refreshing } = view.search;
  els.body.setAttribute('aria-busy', String(status === 'loading' || Boolean(loadingMore) || Boolean(refreshing)));
  const list = (found || []).filter(known);
  const quoted = `“${query}”`;
  const head = h('div', { class: 'results__head' },
    h('h3', { class: 'results__title', id: 'week-results-title' }, `Results for ${quoted}`),
    h('button', {
      type: 'button', class: 'btn btn--ghost btn--small', 'data-key': 'week-search-back', 'data-testid': 'week-search-back', onClick: clearSearch,
    }, icon('close', { size: 15 }), 'Clear search'));
  if (status === 'loading') {
    say('Searching…');
    render(els.body, h('section', { class: 'results', 'aria-labelledby': 'week-results-title', 'data-testid': 'week-results' },
      head, loading(`Searching for ${quoted}…`)));
    return;
  }
  if (status === 'error' && !list.length) {
    say('');
    render(els.body, h('section', { class: 'results', 'aria-labelledby': 'week-results-title', 'data-testid': 'week-results' },
      head, errorBox(error, 'We could not search your items', () => runSearch(query), 'week-search-error')));
    return;
  }
  const filtered = filtering() ? ` (${filterWords()})` : '';
  say(list.length
    ? `${fmt.count(list.length)}${nextCursor ? '+' : ''} ${list.length === 1 ? 'result' : 'results'} for ${quoted}${filtered}.`
    : `No results for ${quoted}${filtered}.`);
  render(els.body, h('section', { class: 'results', 'aria-labelledby': 'week-results-title', 'data-testid': 'week-results' },
    head,
    status === 'error' ? errorBox(error, 'We could not search your items', () => runSearch(query), 'week-search-error') : null,
    list.length
      ? h('ul', { class: 'witems witems--results', 'aria-labelledby': 'week-results-title' },
        list.map((item) => itemLine(item, { today: today(), inDay: false })))
      : empty({
        title: `Nothing matches ${quoted}`,
        text: `Search looks in the titles of your synced tasks, meetings, messages, files and pages${filtered ? ', with the filters above' : ''}. Try another word.`,
        iconName: 'info',
        testid: 'week-search-empty',
        action: filtering()
          ? h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'data-key': 'week-reset', onClick: resetFilters }, 'Search everything')
          : null,
      }),
    nextCursor
      ? h('button', {
        type: 'button', class: 'btn btn--secondary btn--small results__more', 'data-key': 'week-search-more',
        'data-testid': 'week-search-more', disabled: Boolean(loadingMore), onClick: () => runSearch(query, { more: true }),
      }, loadingMore ? 'Loading…' : 'Show more results')
      : null));
}

// ---------- Wiring ----------

/** Says the result count once (aria-live), only when it changed. */
function say(text) {
  if (els.count.textContent !== text) els.count.textContent = text;
}

function draw() {
  drawFilters();
  if (view.search) drawSearch();
  else drawWeek();
}

/** Asks for the week again, and for the search results if a search is shown. */
export function refreshWeek() {
  loadAgenda();
  if (view.search?.query) runSearch(view.search.query, { quiet: true });
}

export function mountWeek() {
  els.body = document.getElementById('week-body');
  els.filters = document.getElementById('week-filters');
  els.count = document.getElementById('week-count');
  els.range = document.getElementById('week-range');
  els.input = document.getElementById('week-search');
  els.clear = document.getElementById('week-search-clear');
  const form = document.getElementById('week-search-form');

  els.input.addEventListener('input', () => {
    const query = els.input.value.trim();
    els.clear.hidden = !els.input.value;
    clearTimeout(searchTimer);
    if (!query) {
      if (view.search) endSearch();
      return;
    }
    searchTimer = setTimeout(() => runSearch(query), SEARCH_DELAY_MS);
  });
  els.input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && els.input.value) {
      event.preventDefault();
      clearSearch();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = els.input.value.trim();
    if (query) runSearch(query);
  });
  els.clear.addEventListener('click', clearSearch);

  on('agenda', () => { if (!view.search) draw(); else drawFilters(); });
  on('catalog', draw);
  on('connections', ({ data }) => {
    if (Array.isArray(data)) {
      const ids = new Set(data.map((c) => c.connectionId));
      const gone = knownConnections && [...knownConnections].some((id) => !ids.has(id));
      knownConnections = ids;
      // A disconnected tool's items vanish at once (known() hides them), then the API is asked.
      if (gone) refreshWeek();
    }
    draw();
  });
  // A sync ended: what is due and what changed may be different now.
  document.addEventListener('sync:finished', () => refreshWeek());
}
