// The 30-day time-saved bar chart, drawn as SVG from GET /stats → timeSavedByDay.
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

function summary(days) {
  const total = days.reduce((acc, d) => acc + (Number(d.minutesSaved) || 0), 0);
  const items = days.reduce((acc, d) => acc + (Number(d.items) || 0), 0);
  const best = days.reduce((a, b) => ((Number(b.minutesSaved) || 0) > (Number(a.minutesSaved) || 0) ? b : a), days[0]);
  return `From ${fmt.dayLong(days[0].date)} to ${fmt.dayLong(days[days.length - 1].date)} you saved ${fmt.duration(total)} `
    + `across ${fmt.items(items)}. Your best day was ${fmt.dayLong(best.date)} with ${fmt.duration(best.minutesSaved)} saved.`;
}

function table(days) {
  return h('div', { class: 'visually-hidden' }, h('table', {},
    h('caption', {}, 'Time saved per day, last 30 days'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col' }, 'Time saved'), h('th', { scope: 'col' }, 'Items'))),
    h('tbody', {}, days.map((d) => h('tr', {},
      h('th', { scope: 'row' }, fmt.dayLong(d.date)),
      h('td', {}, fmt.duration(d.minutesSaved)),
      h('td', {}, fmt.count(d.items)))))));
}

function svgChart(days, width) {
  const plotW = width - M.left - M.right;
  const plotH = HEIGHT - M.top - M.bottom;
  const max = Math.max(...days.map((d) => Number(d.minutesSaved) || 0));
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
    const value = Number(d.minutesSaved) || 0;
    const x = M.left + i * slot + (slot - barW) / 2;
    const height = value > 0 ? Math.max(2, y(0) - y(value)) : 0;
    const r = Math.min(4, barW / 2, height);
    const path = height > 0
      ? `M${x},${y(0)}v${-(height - r)}q0,${-r} ${r},${-r}h${barW - 2 * r}q${r},0 ${r},${r}v${height - r}z`
      : `M${x},${y(0) - 2}h${barW}v2h${-barW}z`;
    return s('g', { class: 'chart__bar-group' },
      s('title', {}, `${fmt.dayLong(d.date)}: ${fmt.duration(value)} saved, ${fmt.items(d.items)}`),
      s('rect', { class: 'chart__hit', x: M.left + i * slot, y: M.top, width: slot, height: plotH, fill: 'transparent' }),
      s('path', { class: height > 0 ? 'chart__bar' : 'chart__bar chart__bar--zero', d: path }));
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
  const hasData = days.some((d) => (Number(d.minutesSaved) || 0) > 0 || (Number(d.items) || 0) > 0);
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
  render(container, svgChart(days, width), table(days));
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
