// The 30-day time-saved bar chart, drawn as SVG from GET /stats → timeSavedByDay: each day's
// bar is the time its syncs saved, with the time automations saved (from their receipts)
// stacked on top in a colour of its own, and a legend when there is any.
// Sized to its container (redrawn on resize) so the labels stay readable on a phone.
// Screen readers get a title/summary and a visually hidden table of the same numbers.

import { h, render, s, uniqueId } from './dom.js';
import { empty } from './feedback.js';
import * as fmt from './format.js';

const HEIGHT = 210;
const M = { top: 14, right: 6, bottom: 28, left: 50 };
const observed = new WeakMap();

function niceStep(max, ticks) {
  const raw = max / ticks;
  const unit = max >= 90 ? 60 : 1;
  const candidates = unit === 60 ? [30, 60, 120, 180, 240, 360, 600, 1200, 3000, 6000] : [1, 2, 5, 10, 15, 20, 30];
  return candidates.find((c) => c >= raw) || Math.ceil(raw / 6000) * 6000;
}

const tickLabel = (minutes) => (minutes === 0 ? '0' : fmt.duration(minutes));
const synced = (d) => Number(d.minutesSaved) || 0;
const automated = (d) => Number(d.automationMinutesSaved) || 0;
const total = (d) => synced(d) + automated(d);

function summary(days) {
  const sum = days.reduce((acc, d) => acc + total(d), 0);
  const auto = days.reduce((acc, d) => acc + automated(d), 0);
  const actions = days.reduce((acc, d) => acc + (Number(d.automationActions) || 0), 0);
  const items = days.reduce((acc, d) => acc + (Number(d.items) || 0), 0);
  const best = days.reduce((a, b) => (total(b) > total(a) ? b : a), days[0]);
  return `From ${fmt.dayLong(days[0].date)} to ${fmt.dayLong(days[days.length - 1].date)} you saved ${fmt.duration(sum)} `
    + `across ${fmt.items(items)}`
    + (auto > 0 ? `, ${fmt.duration(auto)} of it by automations (${fmt.count(actions)} actions)` : '')
    + `. Your best day was ${fmt.dayLong(best.date)} with ${fmt.duration(total(best))} saved.`;
}

function table(days) {
  return h('div', { class: 'visually-hidden' }, h('table', {},
    h('caption', {}, 'Time saved per day, last 30 days'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col' }, 'Saved by syncs'), h('th', { scope: 'col' }, 'Items'),
      h('th', { scope: 'col' }, 'Saved by automations'), h('th', { scope: 'col' }, 'Actions'))),
    h('tbody', {}, days.map((d) => h('tr', {},
      h('th', { scope: 'row' }, fmt.dayLong(d.date)),
      h('td', {}, fmt.duration(d.minutesSaved)),
      h('td', {}, fmt.count(d.items)),
      h('td', {}, fmt.duration(automated(d))),
      h('td', {}, fmt.count(d.automationActions)))))));
}

/** A bar from `bottom` up `height` px, its top corners rounded by `r`. */
const barPath = (x, bottom, w, height, r) => `M${x},${bottom}v${-(height - r)}q0,${-r} ${r},${-r}h${w - 2 * r}q${r},0 ${r},${r}v${height - r}z`;

function legend() {
  return h('p', { class: 'chart__legend', 'data-testid': 'chart-legend' },
    h('span', { class: 'chart__key chart__key--sync', 'aria-hidden': 'true' }), 'Syncs',
    h('span', { class: 'chart__key chart__key--automation', 'aria-hidden': 'true' }), 'Automations');
}

function svgChart(days, width) {
  const plotW = width - M.left - M.right;
  const plotH = HEIGHT - M.top - M.bottom;
  const max = Math.max(...days.map(total));
  const step = niceStep(max, 4);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const y = (v) => M.top + plotH - (v / top) * plotH;
  const slot = plotW / days.length;
  const barW = Math.max(3, Math.min(22, slot * 0.62));
  const labelEvery = width < 480 ? 10 : 7;
  const titleId = uniqueId('chart-title');
  const descId = uniqueId('chart-desc');

  const grid = [];
  for (let v = 0; v <= top + 0.001; v += step) {
    grid.push(s('line', { class: v === 0 ? 'chart__axis' : 'chart__grid', x1: M.left, x2: width - M.right, y1: y(v), y2: y(v) }));
    grid.push(s('text', { class: 'chart__tick', x: M.left - 8, y: y(v) + 4, 'text-anchor': 'end' }, tickLabel(v)));
  }

  const bars = days.map((d, i) => {
    const value = synced(d);
    const auto = automated(d);
    const x = M.left + i * slot + (slot - barW) / 2;
    const height = value > 0 ? Math.max(2, y(0) - y(value)) : 0;
    const autoHeight = auto > 0 ? Math.max(2, y(0) - y(auto)) : 0;
    // The syncs' part is rounded on top unless the automations' part sits on it.
    const r = autoHeight > 0 ? 0 : Math.min(4, barW / 2, height);
    const path = height > 0 ? barPath(x, y(0), barW, height, r) : `M${x},${y(0) - 2}h${barW}v2h${-barW}z`;
    const title = `${fmt.dayLong(d.date)}: ${fmt.duration(value)} saved, ${fmt.items(d.items)}`
      + (auto > 0 ? `; ${fmt.duration(auto)} saved by automations, ${fmt.count(d.automationActions)} actions` : '');
    return s('g', { class: 'chart__bar-group' },
      s('title', {}, title),
      s('rect', { class: 'chart__hit', x: M.left + i * slot, y: M.top, width: slot, height: plotH, fill: 'transparent' }),
      s('path', { class: height > 0 || autoHeight > 0 ? 'chart__bar' : 'chart__bar chart__bar--zero', d: height > 0 || autoHeight === 0 ? path : `M${x},${y(0)}h${barW}z` }),
      autoHeight > 0
        ? s('path', { class: 'chart__bar-automation', d: barPath(x, y(0) - height, barW, autoHeight, Math.min(4, barW / 2, autoHeight)) })
        : null);
  });

  const labels = days.map((d, i) => {
    const last = i === days.length - 1;
    const show = last || (i % labelEvery === 0 && days.length - 1 - i >= labelEvery / 2);
    if (!show) return null;
    return s('text', {
      class: 'chart__tick', x: M.left + i * slot + slot / 2, y: HEIGHT - 8,
      'text-anchor': last ? 'end' : i === 0 ? 'start' : 'middle',
    }, last ? 'Today' : fmt.day(d.date));
  });

  return s('svg', {
    class: 'chart__svg', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
    role: 'img', 'aria-labelledby': `${titleId} ${descId}`,
  },
  s('title', { id: titleId }, 'Time saved per day, last 30 days'),
  s('desc', { id: descId }, summary(days)),
  grid, bars, labels);
}

function draw(container) {
  const days = observed.get(container) || [];
  const hasData = days.some((d) => total(d) > 0 || (Number(d.items) || 0) > 0);
  if (!hasData) {
    render(container, empty({
      title: 'No time saved yet',
      text: 'Connect a tool and run your first sync — the time you get back will show up here, day by day.',
      iconName: 'clock',
      testid: 'chart-empty',
    }));
    return;
  }
  const width = Math.max(280, Math.floor(container.clientWidth || 640));
  const anyAutomation = days.some((d) => automated(d) > 0);
  render(container, svgChart(days, width), anyAutomation ? legend() : null, table(days));
}

/** Draws (and keeps redrawing on resize) the chart for `days` into `container`. */
export function drawTimeSavedChart(container, days) {
  const first = !observed.has(container);
  observed.set(container, days);
  draw(container);
  if (first && 'ResizeObserver' in window) {
    let lastWidth = container.clientWidth;
    new ResizeObserver(() => {
      if (Math.abs(container.clientWidth - lastWidth) < 4) return;
      lastWidth = container.clientWidth;
      draw(container);
    }).observe(container);
  }
}
