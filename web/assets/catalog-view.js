// The catalog: filter chips built from the API's categories, and one card per integration,
// grouped by category. A connected integration's card links to each of its connections
// ("Manage"), so two accounts of one tool are both reachable.

import { h, render } from './dom.js';
import { errorBox, empty, loading } from './feedback.js';
import { icon, integrationIcon } from './icons.js';
import { openConnect } from './connect-dialog.js';
import { connectionsFor, loadCatalog, on, state } from './store.js';

let active = 'all';

const STATUS = {
  available: { label: 'Available', tone: 'ok' },
  'coming-soon': { label: 'Coming soon', tone: 'neutral' },
  premium: { label: 'Premium', tone: 'premium' },
};

/** "Sign in with Slack", "API key", or both. */
export function authLabel(integration) {
  const modes = integration.authModes || [];
  const parts = [];
  if (modes.includes('oauth2')) parts.push(`Sign in with ${integration.name}`);
  if (modes.includes('api_key')) parts.push(parts.length ? 'or API key' : 'API key');
  return parts.join(' ');
}

export function statusBadge(status) {
  const s = STATUS[status] || { label: status, tone: 'neutral' };
  return h('span', { class: ['badge', `badge--${s.tone}`] }, status === 'premium' ? icon('star', { size: 13 }) : null, s.label);
}

/**
 * How each connection of one integration is named on its card, distinct from the others: its own
 * name if the user gave it one, else the account, numbered when that still repeats.
 */
function connectionLabels(integration, connections) {
  const base = connections.map((c) => (c.displayName && c.displayName !== integration.name ? c.displayName : null)
    || c.account?.name || c.account?.workspace || c.displayName || integration.name);
  const seen = new Map();
  return base.map((label) => {
    const n = (seen.get(label) || 0) + 1;
    seen.set(label, n);
    return n === 1 && base.filter((b) => b === label).length === 1 ? label : `${label} (${n})`;
  });
}

function manageLink(connection, text, hiddenText) {
  return h('a', {
    class: 'btn btn--ghost btn--small', href: `#connection-${connection.connectionId}`,
    'data-testid': `manage-${connection.connectionId}`, 'data-key': `manage:${connection.connectionId}`,
  }, text, hiddenText ? h('span', { class: 'visually-hidden' }, hiddenText) : null);
}

function action(integration) {
  const connected = connectionsFor(integration.id);
  const name = h('span', { class: 'visually-hidden' }, ` ${integration.name}`);
  if (connected.length) {
    const one = connected.length === 1;
    const mark = h('span', { class: 'connected-mark', 'data-testid': `card-connected-${integration.id}` },
      icon('check', { size: 16 }), one ? 'Connected' : `${connected.length} connected`);
    const another = integration.status === 'coming-soon' ? null : h('button', {
      type: 'button', class: 'btn btn--ghost btn--small', 'data-testid': `connect-another-${integration.id}`,
      'data-key': `connect-another:${integration.id}`, onClick: () => openConnect(integration),
    }, icon('plus', { size: 15 }), 'Add another', h('span', { class: 'visually-hidden' }, ` ${integration.name} account`));
    if (one) return [mark, h('span', { class: 'card__actions' }, another, manageLink(connected[0], 'Manage', ` ${integration.name}`))];
    const labels = connectionLabels(integration, connected);
    return [
      mark,
      another,
      h('ul', { class: 'card__manage', 'aria-label': `Your ${integration.name} connections` },
        connected.map((c, i) => h('li', {}, manageLink(c, `Manage ${labels[i]}`, ` (${integration.name})`)))),
    ];
  }
  if (integration.status === 'coming-soon') {
    return h('p', { class: 'card__note' }, icon('clock', { size: 16 }), 'Coming soon — it can’t be connected yet.');
  }
  return h('button', {
    type: 'button', class: 'btn btn--primary btn--small', 'data-testid': `connect-${integration.id}`,
    'data-key': `connect:${integration.id}`, onClick: () => openConnect(integration),
  }, 'Connect', name);
}

function card(integration) {
  const isFreeUser = state.user?.plan !== 'premium';
  return h('article', {
    class: ['card', `card--${integration.status}`], 'data-testid': `card-${integration.id}`,
    'data-category': integration.category, 'aria-labelledby': `card-title-${integration.id}`,
  },
  h('div', { class: 'card__head' },
    integrationIcon(integration.id, integration.name),
    h('div', { class: 'card__titles' },
      h('div', { class: 'card__name-row' },
        h('h4', { class: 'card__name', id: `card-title-${integration.id}` }, integration.name),
        statusBadge(integration.status)),
      h('p', { class: 'card__auth' }, authLabel(integration)))),
  h('p', { class: 'card__desc' }, integration.description),
  integration.features?.length
    ? h('ul', { class: 'card__features', 'aria-label': `${integration.name} features` },
      integration.features.map((f) => h('li', {}, icon('check', { size: 15 }), f)))
    : null,
  integration.status === 'premium' && isFreeUser
    ? h('p', { class: 'card__premium' }, 'Part of the Premium plan — upgrade to connect it.')
    : null,
  h('div', { class: 'card__foot' }, action(integration)));
}

function chips(categories, integrations) {
  const chip = (id, label, n) => h('button', {
    type: 'button', class: 'chip', 'aria-pressed': String(active === id), 'data-testid': `filter-${id}`, 'data-key': `filter:${id}`,
    onClick: () => {
      active = id;
      draw();
      const shown = id === 'all' ? integrations.length : integrations.filter((i) => i.category === id).length;
      document.getElementById('catalog-status').textContent = `Showing ${shown} integration${shown === 1 ? '' : 's'}${id === 'all' ? '' : ` in ${label}`}.`;
    },
  }, label, h('span', { class: 'chip__count', 'aria-hidden': 'true' }, String(n)), h('span', { class: 'visually-hidden' }, ` (${n})`));
  return [
    chip('all', 'All', integrations.length),
    categories.map((c) => chip(c.id, c.name, integrations.filter((i) => i.category === c.id).length)),
  ];
}

function groups(categories, integrations) {
  const shown = categories.filter((c) => active === 'all' || c.id === active);
  const blocks = shown.map((c) => {
    const members = integrations.filter((i) => i.category === c.id);
    if (!members.length) return active === 'all' ? null : empty({ title: `Nothing in ${c.name} yet`, text: 'New integrations are added regularly.' });
    return h('section', { class: 'category', 'aria-labelledby': `cat-${c.id}`, 'data-testid': `category-${c.id}` },
      h('h3', { class: 'category__title', id: `cat-${c.id}` }, c.name),
      h('div', { class: 'cards' }, members.map(card)));
  });
  // Integrations whose category is not in the list still show, under "Other".
  const known = new Set(categories.map((c) => c.id));
  const other = integrations.filter((i) => !known.has(i.category));
  if (active === 'all' && other.length) {
    blocks.push(h('section', { class: 'category' }, h('h3', { class: 'category__title' }, 'Other'), h('div', { class: 'cards' }, other.map(card))));
  }
  return h('div', { class: ['categories', active !== 'all' && 'categories--single'] }, blocks);
}

function draw() {
  const { status, data, error } = state.catalog;
  const filters = document.getElementById('catalog-filters');
  const grid = document.getElementById('catalog-grid');
  grid.setAttribute('aria-busy', String(status === 'loading'));
  if (!data) {
    render(filters);
    render(grid, status === 'error'
      ? errorBox(error, 'We could not load the integrations', loadCatalog, 'catalog-error')
      : loading('Loading integrations…'));
    return;
  }
  const categories = data.categories || [];
  const integrations = data.integrations || [];
  if (active !== 'all' && !categories.some((c) => c.id === active)) active = 'all';
  render(filters, chips(categories, integrations));
  render(grid, integrations.length ? groups(categories, integrations) : empty({ title: 'No integrations to show', text: 'Please check back soon.' }));
}

export function mountCatalog() {
  on('catalog', draw);
  on('connections', () => state.catalog.data && draw());
}
