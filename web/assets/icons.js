// Icons, drawn here as simple original glyphs (no brand logos): one tile per integration,
// plus a few interface symbols. All decorative (aria-hidden); the text next to them says it.

import { s } from './dom.js';
import { initials } from './format.js';

// Each glyph: SVG children in a 24×24 box, drawn in white on the tile colour.
const GLYPHS = {
  // Channels: a hash sign.
  slack: { color: '#6b3a8f', draw: () => [
    s('path', { d: 'M10 4 8 20M16 4l-2 16M5 9h15M4 15h15' }),
  ] },
  // Two people in a conversation.
  'microsoft-teams': { color: '#4a51b0', draw: () => [
    s('circle', { cx: 9, cy: 8.5, r: 3 }),
    s('path', { d: 'M3.5 19c.4-3.2 2.6-5 5.5-5s5.1 1.8 5.5 5' }),
    s('circle', { cx: 16.5, cy: 9.5, r: 2.3 }),
    s('path', { d: 'M16 14.2c2.5 0 4.2 1.5 4.5 4.3' }),
  ] },
  // A board with two columns of cards.
  trello: { color: '#1c67a8', draw: () => [
    s('rect', { x: 4, y: 4, width: 16, height: 16, rx: 2.5 }),
    s('rect', { x: 7.5, y: 7.5, width: 3.5, height: 8.5, rx: 0.8, fill: '#fff', stroke: 'none' }),
    s('rect', { x: 13, y: 7.5, width: 3.5, height: 5, rx: 0.8, fill: '#fff', stroke: 'none' }),
  ] },
  // A checklist.
  asana: { color: '#b83a4b', draw: () => [
    s('path', { d: 'm4.5 7.5 1.8 1.8 3-3.3M4.5 15.5l1.8 1.8 3-3.3M12.5 8h7M12.5 16h7' }),
  ] },
  // A calendar page.
  'google-calendar': { color: '#17704f', draw: () => [
    s('rect', { x: 4, y: 5.5, width: 16, height: 14.5, rx: 2.5 }),
    s('path', { d: 'M4 10.5h16M8.5 3.5v4M15.5 3.5v4' }),
    s('rect', { x: 7.5, y: 13.5, width: 3.5, height: 3.5, rx: 0.6, fill: '#fff', stroke: 'none' }),
  ] },
  // A folder.
  'google-drive': { color: '#9a5b0f', draw: () => [
    s('path', { d: 'M3.5 8a2 2 0 0 1 2-2h4l2 2h7a2 2 0 0 1 2 2v7.5a2 2 0 0 1-2 2h-13a2 2 0 0 1-2-2z' }),
    s('path', { d: 'M3.5 11h17' }),
  ] },
  // A page with a folded corner.
  notion: { color: '#33383d', draw: () => [
    s('path', { d: 'M6.5 3.5h8l4 4v13h-12z' }),
    s('path', { d: 'M14.5 3.5v4h4M9.5 12h6M9.5 15.5h4' }),
  ] },
  // A lightning bolt: automation.
  zapier: { color: '#c2410c', draw: () => [
    s('path', { d: 'M13.5 3 5.5 13.5h6l-1 7.5 8-10.5h-6z', fill: '#fff', 'stroke-linejoin': 'round' }),
  ] },
};

/** The tile for an integration (its glyph, or a monogram for ones without a glyph). */
export function integrationIcon(id, name, size = 44) {
  const glyph = GLYPHS[id];
  const tile = s('svg', {
    class: 'tile-icon', width: size, height: size, viewBox: '0 0 40 40', 'aria-hidden': 'true', focusable: 'false',
  });
  tile.append(s('rect', { width: 40, height: 40, rx: 10, fill: glyph?.color || '#4b5563' }));
  if (glyph) {
    tile.append(s('g', {
      transform: 'translate(8 8)', fill: 'none', stroke: '#fff', 'stroke-width': 1.9,
      'stroke-linecap': 'round', 'stroke-linejoin': 'round',
    }, glyph.draw()));
  } else {
    tile.append(s('text', {
      x: 20, y: 25.5, 'text-anchor': 'middle', fill: '#fff', 'font-size': 15, 'font-weight': 700,
      'font-family': 'system-ui, sans-serif',
    }, initials(name || id)));
  }
  return tile;
}

const UI = {
  check: 'M5 12.5l4.2 4.2L19 7',
  plus: 'M12 5v14M5 12h14',
  close: 'M6 6l12 12M18 6 6 18',
  sync: 'M19.5 12a7.5 7.5 0 0 1-12.9 5.2M4.5 12a7.5 7.5 0 0 1 12.9-5.2M17.5 3.5v3.5H14M6.5 20.5V17H10',
  alert: 'M12 4 2.8 19.5h18.4zM12 10v4.5M12 17.2v.1',
  info: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 11v5.5M12 7.8v.1',
  clock: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 7v5l3.5 2',
  lock: 'M6.5 11h11v9h-11zM8.5 11V8a3.5 3.5 0 0 1 7 0v3',
  star: 'm12 3.8 2.5 5.2 5.7.7-4.2 3.9 1.1 5.6L12 16.4l-5.1 2.8L8 13.6 3.8 9.7l5.7-.7z',
  eye: 'M2.5 12S6 5.5 12 5.5 21.5 12 21.5 12 18 18.5 12 18.5 2.5 12 2.5 12zM12 14.8a2.8 2.8 0 1 0 0-5.6 2.8 2.8 0 0 0 0 5.6z',
  eyeOff: 'M3.5 3.5l17 17M10 5.7A9.7 9.7 0 0 1 12 5.5c6 0 9.5 6.5 9.5 6.5a16 16 0 0 1-2.6 3.4M6.4 7.3C3.9 9 2.5 12 2.5 12S6 18.5 12 18.5c1.6 0 3-.4 4.3-1.1M10 10.1a2.8 2.8 0 0 0 3.9 3.9',
  arrowRight: 'M5 12h14M13 6l6 6-6 6',
  chevron: 'm9 6 6 6-6 6',
  unplug: 'M9 3v4M15 3v4M7 7h10v4a5 5 0 0 1-10 0zM12 16v5',
  sparkle: 'M12 3.5l1.8 5.2 5.2 1.8-5.2 1.8L12 17.5l-1.8-5.2L5 10.5l5.2-1.8zM18.5 16v4M16.5 18h4',
};

/** A 1em interface icon that inherits the text colour. */
export function icon(name, { size = 18, className = '' } = {}) {
  return s('svg', {
    class: ['ui-icon', className], width: size, height: size, viewBox: '0 0 24 24', 'aria-hidden': 'true',
    focusable: 'false', fill: 'none', stroke: 'currentColor', 'stroke-width': 2,
    'stroke-linecap': 'round', 'stroke-linejoin': 'round',
  }, s('path', { d: UI[name] || UI.info }));
}
