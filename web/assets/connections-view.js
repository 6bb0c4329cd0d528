// "Your tools": the connected dashboard. Rows are keyed by connectionId and updated in place.

import { h, render, focusOn } from './dom.js';
import { errorBox, empty, loading } from './feedback.js';
import { createConnectionRow } from './connection-row.js';
import * as fmt from './format.js';
import { loadConnections, on, state } from './store.js';

const rows = new Map();
let list = null;

function hint(connections) {
  const el = document.getElementById('your-tools-hint');
  if (!connections?.length) {
    el.textContent = '';
    return;
  }
  const needs = connections.filter((c) => c.status === 'needs_reauth').length;
  el.textContent = `${fmt.count(connections.length)} connected${needs ? ` · ${needs} need${needs === 1 ? 's' : ''} you` : ''}`;
}

function draw() {
  const host = document.getElementById('connections');
  const { status, data, error } = state.connections;
  host.setAttribute('aria-busy', String(status === 'loading'));
  hint(data);
  if (!data) {
    render(host, status === 'error'
      ? errorBox(error, 'We could not load your connected tools', loadConnections, 'connections-error')
      : loading('Loading your connected tools…'));
    return;
  }
  const ids = new Set(data.map((c) => c.connectionId));
  for (const [id, row] of rows) {
    if (!ids.has(id)) {
      row.stop();
      rows.delete(id);
    }
  }
  if (!data.length) {
    list = null;
    render(host, empty({
      title: 'Nothing connected yet',
      text: 'Connect your first tool below — most people start with their task list or calendar.',
      iconName: 'plus',
      testid: 'connections-empty',
      action: h('a', { class: 'btn btn--secondary btn--small', href: '#catalog' }, 'Browse integrations'),
    }));
  } else {
    if (!list || !host.contains(list)) {
      list = h('ul', { class: 'conns', role: 'list' });
      render(host, list);
    }
    const items = data.map((c) => {
      let row = rows.get(c.connectionId);
      if (row) row.update(c);
      else {
        row = createConnectionRow(c);
        rows.set(c.connectionId, row);
      }
      return row.el.parentElement?.tagName === 'LI' ? row.el.parentElement : h('li', {}, row.el);
    });
    // Keep order without detaching rows that hold focus.
    items.forEach((li, i) => { if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null); });
    while (list.children.length > items.length) list.lastElementChild.remove();
  }
  const stale = host.querySelector('[data-testid="connections-error"]');
  if (stale) stale.remove();
  if (status === 'error') host.prepend(errorBox(error, 'We could not refresh your connected tools', loadConnections, 'connections-error'));
}

function focusConnection(connectionId) {
  const row = rows.get(connectionId);
  if (!row) return;
  focusOn(row.el);
  row.el.classList.remove('conn--flash');
  void row.el.offsetWidth;
  row.el.classList.add('conn--flash');
}

export function mountConnections() {
  on('connections', draw);
  // Icons and names come from the catalog: refresh rows once it arrives.
  on('catalog', () => { for (const c of state.connections.data || []) rows.get(c.connectionId)?.update(c); });
  document.addEventListener('connection:focus', (event) => focusConnection(event.detail.connectionId));
  // Links to #connection-… (from catalog cards) move focus to the row too.
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[href^="#connection-"]');
    if (!link) return;
    event.preventDefault();
    focusConnection(link.getAttribute('href').slice('#connection-'.length));
  });
}
