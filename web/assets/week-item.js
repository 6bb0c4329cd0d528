// One synced item (a task, meeting, mention, changed file or page) as a line of "Your week":
// its tool's glyph, its title linking to the item at the provider (new tab, rel=noopener) and a
// short line that depends on its kind. In a day of the week the day is known, so times say only
// the time; in search results they say the day too.

import { h } from './dom.js';
import { integrationIcon } from './icons.js';
import * as fmt from './format.js';
import { integration } from './store.js';

/** The week's groups, in the order a day shows them, and the item kind of each. */
export const GROUPS = [
  { id: 'tasks', kind: 'task', label: 'Tasks', one: 'task', many: 'tasks' },
  { id: 'meetings', kind: 'event', label: 'Meetings', one: 'meeting', many: 'meetings' },
  { id: 'mentions', kind: 'message', label: 'Mentions', one: 'mention', many: 'mentions' },
  { id: 'files', kind: 'file', label: 'Changed files', one: 'changed file', many: 'changed files' },
  { id: 'pages', kind: 'page', label: 'Pages', one: 'page', many: 'pages' },
];

export const groupOfKind = (kind) => GROUPS.find((g) => g.kind === kind) || null;

/** The tool's name: the catalog's, or the id in words. */
export function toolName(integrationId) {
  const name = integration(integrationId)?.name;
  if (name) return name;
  const id = String(integrationId || '');
  return id ? id.charAt(0).toUpperCase() + id.slice(1).replace(/-/g, ' ') : 'Tool';
}

const RESPONSES = {
  declined: 'you declined',
  tentative: 'you said maybe',
  needsAction: 'not answered yet',
};

const time = (iso) => {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : fmt.clock(date);
};

/** When a task is due, in words, and whether it is late: { text, late }. */
function dueText(item, today, inDay) {
  const due = item.dueAt;
  if (!due) return null;
  if (item.task?.done) return { text: 'done', late: false };
  const day = fmt.dayOf(due);
  if (!day) return null;
  const late = fmt.daysBetween(day, today);
  if (late > 0) return { text: `overdue ${fmt.days(late)}`, late: true };
  const timed = !fmt.isDateOnly(due);
  if (late === 0 && timed && Date.parse(due) < Date.now()) return { text: `was due ${time(due)}`, late: true };
  if (inDay) return timed ? { text: `due ${time(due)}`, late: false } : null;
  const when = late === 0 ? 'today' : late === -1 ? 'tomorrow' : fmt.dayShort(day);
  return { text: `due ${when}${timed ? ` ${time(due)}` : ''}`, late: false };
}

/** "09:00–09:30", "all day" (with the day first in search results). */
function meetingTime(item, inDay) {
  const start = item.event?.start || item.startAt;
  if (!start) return null;
  const allDay = item.event?.allDay || fmt.isDateOnly(start);
  const end = item.event?.end;
  const day = fmt.dayOf(start);
  if (!day) return null;
  const prefix = inDay ? '' : `${fmt.dayShort(day)}, `;
  if (allDay) return `${prefix}all day`;
  const endText = end && !fmt.isDateOnly(end) && fmt.dayOf(end) === fmt.dayOf(start) ? `–${time(end)}` : '';
  return `${prefix}${time(start)}${endText}`;
}

/** The parts of an item's short line (strings or elements), by kind. */
function metaParts(item, { today, inDay }) {
  switch (item.kind) {
    case 'task': {
      const due = dueText(item, today, inDay);
      return [
        item.task?.list || item.container,
        due ? h('span', { class: ['witem__due', due.late && 'witem__due--late'] }, due.text) : null,
        ...(item.task?.labels || []).filter(Boolean).slice(0, 4).map((l) => h('span', { class: 'witem__label' }, l)),
      ];
    }
    case 'event': {
      const response = RESPONSES[item.event?.myResponse];
      return [
        meetingTime(item, inDay),
        item.event?.location,
        response ? h('span', { class: 'witem__response' }, response) : null,
      ];
    }
    case 'message':
      return [
        item.message?.channel || item.container,
        item.message?.author,
        inDay || !item.updatedAt ? null : fmt.fromNow(item.updatedAt),
      ];
    case 'file': {
      const by = item.file?.lastModifiedBy;
      const ago = item.updatedAt ? fmt.fromNow(item.updatedAt) : '';
      return [by ? `changed by ${by}` : 'changed', ago, inDay ? null : item.container];
    }
    case 'page':
      return [
        item.page?.parent || item.container,
        item.page?.lastEditedBy ? `edited by ${item.page.lastEditedBy}` : null,
        item.updatedAt ? fmt.fromNow(item.updatedAt) : null,
      ];
    default:
      return [item.container, item.status];
  }
}

/** Parts joined with " · " (labels stand on their own, without dots). */
function meta(parts) {
  const out = [];
  for (const part of parts) {
    if (part === null || part === undefined || part === '') continue;
    const label = part instanceof Element && part.classList.contains('witem__label');
    if (out.length && !label) out.push(h('span', { class: 'witem__sep', 'aria-hidden': 'true' }, ' · '));
    else if (out.length) out.push(' ');
    out.push(part);
  }
  return out;
}

/**
 * The line of one item: `<li data-testid="week-item-<itemId>">` with data-integration,
 * data-connection-id and data-kind. ctx: { today: "YYYY-MM-DD", inDay: bool }.
 */
export function itemLine(item, ctx) {
  const tool = toolName(item.integrationId);
  const hidden = h('span', { class: 'visually-hidden' }, ` (${tool}${item.url ? ', opens in a new tab' : ''})`);
  const title = item.title?.trim() || 'Untitled';
  const titleEl = item.url
    ? h('a', {
      class: 'witem__title', href: item.url, target: '_blank', rel: 'noopener',
      'data-key': `item:${item.itemId}`, 'data-testid': `week-link-${item.itemId}`,
    }, title, hidden)
    : h('span', { class: 'witem__title' }, title, hidden);
  const parts = meta(metaParts(item, ctx));
  return h('li', {
    class: ['witem', `witem--${item.kind}`], 'data-testid': `week-item-${item.itemId}`,
    'data-item-id': item.itemId, 'data-integration': item.integrationId, 'data-connection-id': item.connectionId,
    'data-kind': item.kind,
  },
  h('span', { class: 'witem__icon', title: tool }, integrationIcon(item.integrationId, tool, 30)),
  h('div', { class: 'witem__body' },
    titleEl,
    parts.length ? h('p', { class: 'witem__meta' }, parts) : null));
}
