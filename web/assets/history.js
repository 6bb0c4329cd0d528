// "Sync history" disclosure of a connection: past runs, newest first, loaded when first
// opened, ten at a time ("Show older syncs" follows nextCursor).

import { api } from './api.js';
import { h } from './dom.js';
import { errorBox } from './feedback.js';
import { icon } from './icons.js';
import * as fmt from './format.js';
import { countsText, runItems, syncErrorText } from './sync-status.js';

const STATUS_WORDS = { succeeded: 'Done', failed: 'Failed', running: 'Running', queued: 'Queued' };

function runRow(run) {
  const at = run.finishedAt || run.startedAt || run.queuedAt;
  const facts = run.status === 'succeeded'
    ? [fmt.items(runItems(run)), `saved ${fmt.duration(run.minutesSaved)}`, countsText(run.counts), run.durationMs != null ? `took ${fmt.elapsed(run.durationMs)}` : null]
    : run.status === 'failed'
      ? [syncErrorText(run.error) || 'Did not finish']
      : [`${fmt.items(runItems(run))} so far`];
  return h('li', { class: ['run', `run--${run.status}`], 'data-testid': 'history-run' },
    h('span', { class: 'run__icon' }, icon(run.status === 'succeeded' ? 'check' : run.status === 'failed' ? 'alert' : 'sync', { size: 15 })),
    h('div', { class: 'run__body' },
      h('p', { class: 'run__head' },
        h('span', { class: 'run__status' }, STATUS_WORDS[run.status] || run.status),
        h('time', { datetime: at }, fmt.when(at)),
        h('span', { class: 'run__meta' }, [run.trigger === 'schedule' ? 'Scheduled' : 'Manual', run.mode === 'full' ? 'full sync' : null].filter(Boolean).join(', '))),
      h('p', { class: 'run__facts' }, facts.filter(Boolean).join(' · '))));
}

/**
 * The disclosure of one connection (data-testid history-<connectionId>). getConnection() is read
 * at load time. Returns { el, refresh() }.
 */
export function createHistory(getConnection) {
  const list = h('ol', { class: 'runs' });
  const footer = h('div', { class: 'runs__footer' });
  const status = h('div', { class: 'runs__status' });
  const summary = h('summary', {}, icon('chevron', { size: 16, className: 'disclosure-icon' }), 'Sync history');
  const el = h('details', { class: 'history', 'data-testid': `history-${getConnection().connectionId}` },
    summary, h('div', { class: 'history__body' }, status, list, footer));
  let loaded = false;
  let cursor = null;

  async function load(more = false) {
    status.replaceChildren(h('p', { class: 'placeholder', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading sync history…'));
    footer.replaceChildren();
    try {
      const page = await api.syncs(getConnection().connectionId, more ? cursor : null);
      if (!more) list.replaceChildren();
      list.append(...(page.syncs || []).map(runRow));
      cursor = page.nextCursor || null;
      loaded = true;
      status.replaceChildren(list.children.length ? '' : h('p', { class: 'runs__empty' }, 'No syncs yet. Press “Sync now” to run the first one.'));
      if (cursor) {
        footer.append(h('button', { type: 'button', class: 'btn btn--small btn--ghost', onClick: () => load(true) }, 'Show older syncs'));
      }
    } catch (error) {
      status.replaceChildren(errorBox(error, 'We could not load the sync history', () => load(more), 'history-error'));
      if (cursor && more) footer.append(h('button', { type: 'button', class: 'btn btn--small btn--ghost', onClick: () => load(true) }, 'Show older syncs'));
    }
  }

  el.addEventListener('toggle', () => { if (el.open && !loaded) load(); });

  return {
    el,
    refresh() {
      if (el.open) load();
      else loaded = false;
    },
  };
}
