// The stats band: connected tools, items processed, time saved by syncs and, apart, by
// automations (from their receipts), the last 7 days.

import { h, render } from './dom.js';
import { errorBox, loading } from './feedback.js';
import * as fmt from './format.js';
import { drawTimeSavedChart } from './chart.js';
import { loadStats, on, state } from './store.js';

function big(parts) {
  return h('span', { class: 'stat__value' },
    parts.map((p) => [h('span', { class: 'stat__number' }, p.value), h('span', { class: 'stat__unit' }, ` ${p.unit} `)]));
}

function tile({ label, value, note, tone, testid }) {
  return h('div', { class: ['stat', tone && `stat--${tone}`], 'data-testid': testid },
    h('dt', { class: 'stat__label' }, label),
    h('dd', { class: 'stat__body' }, value, note ? h('span', { class: 'stat__note' }, note) : null));
}

function tiles(stats) {
  const week = stats.last7Days || {};
  const auto = stats.automations || { minutesSaved: 0, actions: 0, last7Days: { minutesSaved: 0, actions: 0 } };
  const needs = Number(stats.needsAttention) || 0;
  const weekNote = [
    fmt.items(week.items),
    `${fmt.count(week.syncs)} sync${week.syncs === 1 ? '' : 's'}`,
    week.failures ? `${fmt.count(week.failures)} failed` : null,
  ].filter(Boolean).join(' · ');
  return h('dl', { class: 'stats__grid' },
    tile({
      label: 'Connected tools',
      value: h('span', { class: 'stat__value' }, h('span', { class: 'stat__number' }, fmt.count(stats.connected))),
      note: needs ? `${needs} need${needs === 1 ? 's' : ''} your attention` : `of ${fmt.count(stats.available)} available`,
      tone: needs ? 'warning' : null,
      testid: 'stat-connected',
    }),
    tile({
      label: 'Items processed',
      value: h('span', { class: 'stat__value' }, h('span', { class: 'stat__number' }, fmt.count(stats.itemsProcessed))),
      note: 'since you started',
      testid: 'stat-items',
    }),
    tile({
      label: 'Time saved by syncs',
      value: big(fmt.durationParts(stats.minutesSaved)),
      note: 'since you started',
      tone: 'accent',
      testid: 'stat-time-saved',
    }),
    tile({
      label: 'Saved by automations',
      value: big(fmt.durationParts(auto.minutesSaved)),
      note: `${fmt.count(auto.actions)} action${auto.actions === 1 ? '' : 's'} done · ${fmt.duration(auto.last7Days?.minutesSaved)} in 7 days`,
      tone: 'automation',
      testid: 'stat-automations',
    }),
    tile({
      label: 'Last 7 days',
      value: big(fmt.durationParts(week.minutesSaved)),
      note: weekNote,
      testid: 'stat-last-7-days',
    }));
}

export function mountStats() {
  const host = document.getElementById('stats');
  const chart = document.getElementById('chart');
  const total = document.getElementById('chart-total');
  const panel = document.getElementById('chart-panel');
  on('stats', ({ status, data, error }) => {
    host.setAttribute('aria-busy', String(status === 'loading'));
    panel.hidden = !data && status === 'error';
    if (data) {
      render(host, tiles(data));
      drawTimeSavedChart(chart, data.timeSavedByDay || []);
      const days = data.timeSavedByDay || [];
      const synced = days.reduce((acc, d) => acc + (Number(d.minutesSaved) || 0), 0);
      const automated = days.reduce((acc, d) => acc + (Number(d.automationMinutesSaved) || 0), 0);
      total.textContent = synced + automated > 0
        ? `${fmt.duration(synced + automated)} saved${automated > 0 ? ` (${fmt.duration(automated)} by automations)` : ''}`
        : '';
    } else if (status === 'loading') {
      render(host, loading('Loading your numbers…'));
    }
    if (status === 'error') {
      const box = errorBox(error, 'We could not load your numbers', loadStats, 'stats-error');
      if (data) host.append(box);
      else render(host, box);
    }
  });
}
