// What the manager acts on and reads back: the "Needs you" panel at the top (each connection
// whose health is not ok, with the one action it needs), the Activity view (the audit trail,
// newest first, a page at a time) and the plan's usage against its limits.

import { request } from './api.js';
import { h, render } from './dom.js';
import { errorBox, loading } from './feedback.js';
import { integrationIcon } from './icons.js';
import { openConnect } from './connect-dialog.js';
import * as fmt from './format.js';
import { describe } from './problem.js';
import { notify } from './notices.js';
import { integration, loadConnections, on, state } from './store.js';

const ACTIONS = {
  connected: 'Connected',
  reconnected: 'Reconnected',
  settings_changed: 'Settings changed',
  disconnected: 'Disconnected',
  sign_in_declined: 'Sign-in declined',
  health_changed: 'Health changed',
  automation_created: 'Automation created',
  automation_enabled: 'Automation turned on',
  automation_disabled: 'Automation turned off',
  automation_failed: 'Automation failed',
  hook_created: 'Hook created',
  hook_removed: 'Hook removed',
};

const nameOf = (id) => integration(id)?.name || id || '';

// ---- Needs you ---------------------------------------------------------------------------

async function retry(conn, button) {
  button.disabled = true;
  try {
    await request('POST', `/${encodeURIComponent(conn.connectionId)}/sync`, { mode: 'incremental' });
    notify({ tone: 'info', key: `retry-${conn.connectionId}`, title: `Syncing ${conn.displayName} again`, detail: 'We will tell you here if it fails again.' });
    loadConnections();
  } catch (error) {
    const m = describe(error, `We could not sync ${conn.displayName}`);
    notify({ tone: 'error', key: `retry-${conn.connectionId}`, title: m.lead, detail: m.detail });
  } finally {
    button.disabled = false;
  }
}

function need(conn) {
  const { health } = conn;
  const key = (what) => `needs-you-${what}-${conn.connectionId}`;
  let action = null;
  if (health.action === 'reconnect') {
    action = h('button', {
      type: 'button', class: 'btn btn--small btn--warning', 'data-testid': key('reconnect'), 'data-key': key('reconnect'),
      onClick: () => openConnect(integration(conn.integrationId) || { id: conn.integrationId, name: conn.displayName, authModes: [conn.authKind] }, { reconnect: conn }),
    }, 'Reconnect', h('span', { class: 'visually-hidden' }, ` ${conn.displayName}`));
  } else if (health.action === 'retry') {
    action = h('button', {
      type: 'button', class: 'btn btn--small btn--secondary', 'data-testid': key('retry'), 'data-key': key('retry'),
      onClick: (event) => retry(conn, event.currentTarget),
    }, 'Retry', h('span', { class: 'visually-hidden' }, ` ${conn.displayName}`));
  }
  return h('li', { class: `needs-you__item needs-you__item--${health.status}`, 'data-testid': key('item') },
    integrationIcon(conn.integrationId, nameOf(conn.integrationId), 32),
    h('div', { class: 'needs-you__body' },
      h('p', { class: 'needs-you__name' }, conn.displayName),
      h('p', { class: 'needs-you__reason' }, health.reasons?.[0] || '')),
    action);
}

function drawNeedsYou() {
  const host = document.getElementById('needs-you');
  const list = (state.connections.data || []).filter((c) => c.health && c.health.status !== 'ok');
  host.hidden = list.length === 0;
  if (!list.length) {
    host.replaceChildren();
    return;
  }
  list.sort((a, b) => (a.health.status === 'action-needed' ? -1 : 0) - (b.health.status === 'action-needed' ? -1 : 0));
  render(host,
    h('h2', { class: 'needs-you__title', id: 'needs-you-title' }, 'Needs you'),
    h('ul', { class: 'needs-you__list', role: 'list', 'aria-labelledby': 'needs-you-title' }, list.map(need)));
}

// ---- Activity -------------------------------------------------------------------------------

let cursor = null;
let entries = [];

function entry(e) {
  const what = ACTIONS[e.action] || e.action;
  const about = e.connectionId
    ? (state.connections.data || []).find((c) => c.connectionId === e.connectionId)?.displayName || nameOf(e.integrationId)
    : nameOf(e.integrationId) || e.subjectId || '';
  return h('li', { class: 'activity__item', 'data-testid': `activity-${e.id}`, 'data-action': e.action },
    h('p', { class: 'activity__what' }, h('strong', {}, what), about ? ` · ${about}` : ''),
    e.detail ? h('p', { class: 'activity__detail' }, e.detail) : null,
    h('p', { class: 'activity__when' }, h('time', { datetime: e.at }, fmt.when(e.at))));
}

async function loadActivity({ more = false } = {}) {
  const host = document.getElementById('activity');
  if (!more) {
    cursor = null;
    entries = [];
    if (!host.children.length) render(host, loading('Loading your activity…'));
  }
  try {
    const page = await request('GET', `/audit?limit=20${more && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    entries = [...entries, ...page.entries];
    cursor = page.nextCursor;
    render(host,
      entries.length
        ? h('ol', { class: 'activity', role: 'list', 'data-testid': 'activity-list' }, entries.map(entry))
        : h('p', { class: 'placeholder', 'data-testid': 'activity-empty' }, 'Nothing has happened yet.'),
      cursor ? h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'data-testid': 'activity-more', 'data-key': 'activity-more', onClick: () => loadActivity({ more: true }) }, 'Show older') : null);
  } catch (error) {
    render(host, errorBox(error, 'We could not load your activity', () => loadActivity(), 'activity-error'));
  }
}

// ---- Plan -----------------------------------------------------------------------------------

function meter(label, used, limit, testid) {
  const unlimited = limit === null || limit === undefined;
  const ratio = unlimited ? 0 : Math.min(1, used / Math.max(1, limit));
  const fill = h('span', { class: `plan__fill${ratio >= 1 ? ' plan__fill--full' : ''}` });
  fill.style.width = `${Math.round(ratio * 100)}%`; // through the CSSOM: the CSP allows no style attribute
  return h('li', { class: 'plan__meter', 'data-testid': testid },
    h('p', { class: 'plan__label' }, label, h('span', { class: 'plan__value' }, unlimited ? `${used} (no limit)` : `${used} of ${limit}`)),
    unlimited ? null : h('div', { class: 'plan__bar', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': String(limit), 'aria-valuenow': String(used), 'aria-label': label }, fill));
}

async function loadPlan() {
  const host = document.getElementById('plan');
  try {
    const view = await request('GET', '/plan');
    const { limits, usage, premium } = view;
    const adds = [];
    if (view.plan !== 'premium') {
      if (premium.connections !== limits.connections) adds.push(`up to ${premium.connections} connections`);
      if (premium.automations === null) adds.push('as many automations as you like');
      if (premium.stepsPerAutomation > limits.stepsPerAutomation) adds.push(`${premium.stepsPerAutomation} steps per automation`);
      if (premium.historyDays > limits.historyDays) adds.push(`${fmt.days(premium.historyDays)} of history`);
      if (premium.realtime && !limits.realtime) adds.push('real-time hooks for Zapier');
    }
    render(host,
      h('p', { class: 'plan__name', 'data-testid': 'plan-name' }, view.plan === 'premium' ? 'Premium plan' : 'Free plan'),
      h('ul', { class: 'plan__meters', role: 'list' },
        meter('Connections', usage.connections, limits.connections, 'plan-connections'),
        meter('Automations', usage.automations, limits.automations, 'plan-automations')),
      h('p', { class: 'plan__note' }, `History is kept ${fmt.days(limits.historyDays)}; ${limits.stepsPerAutomation} step${limits.stepsPerAutomation === 1 ? '' : 's'} per automation.`),
      adds.length ? h('p', { class: 'plan__premium', 'data-testid': 'plan-premium' }, `Premium adds ${adds.join(', ')}.`) : null);
  } catch (error) {
    render(host, errorBox(error, 'We could not load your plan', loadPlan, 'plan-error'));
  }
}

/** Mounts the three views; they load once the user is signed in and follow the connections. */
export function mountInsights() {
  on('connections', drawNeedsYou);
  on('user', (user) => {
    if (!user) return;
    loadActivity();
    loadPlan();
  });
  let seen = '';
  on('connections', ({ data }) => {
    // Connections changed (connected, reconnected, health moved): the trail and usage did too.
    const signature = JSON.stringify((data || []).map((c) => [c.connectionId, c.version, c.health?.status]));
    if (!state.user || signature === seen) return;
    seen = signature;
    loadActivity();
    loadPlan();
  });
}
