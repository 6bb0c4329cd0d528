// One connected tool on the dashboard: who it is, its status, the last sync, Sync now,
// auto-sync settings (saved with PATCH), Disconnect, live sync status and history.
// A connection that cannot sync (`canSync: false`: a Teams incoming webhook, a Zapier Catch
// Hook) says that it receives posts instead, with no sync controls.
// Built once per connection and updated in place, so focus and running syncs survive refreshes.
// Every element is keyed by the connection's id (two Trello accounts are two rows); the row
// carries data-integration for finding a row by tool.

import { api } from './api.js';
import { h, render } from './dom.js';
import { icon, integrationIcon } from './icons.js';
import * as fmt from './format.js';
import { describe } from './problem.js';
import { confirmAction } from './confirm-dialog.js';
import { openConnect } from './connect-dialog.js';
import { createSyncPanel, syncErrorText } from './sync-status.js';
import { createHistory } from './history.js';
import { createHealthBadge } from './health-badge.js';
import { notify } from './notices.js';
import {
  canSync, dropConnection, integration as findIntegration, intervalChoices, loadConnections, putConnection, refreshSummary, syncIntervals,
} from './store.js';

// The status pill, and the reason in words when something needs attention: the connection's
// statusReason (why it needs reconnecting) or the last sync's error.
function statusOf(conn, syncing) {
  if (conn.status === 'disconnecting') return { label: 'Disconnecting…', tone: 'neutral' };
  if (conn.status === 'needs_reauth') {
    const how = conn.authKind === 'oauth2' ? 'sign in again' : 'enter a new key';
    const why = canSync(conn) ? 'to keep it syncing' : 'so we can post to it again';
    return {
      label: 'Needs you', tone: 'warning',
      reason: `${fmt.sentence(conn.statusReason) || `${conn.displayName} no longer accepts the stored sign-in.`} Press Reconnect and ${how} ${why}.`,
    };
  }
  if (!canSync(conn)) return { label: 'Receives posts', tone: 'ok' };
  if (syncing || conn.syncInFlight) return { label: 'Syncing', tone: 'info' };
  // A failure from before the connection last changed (e.g. it was reconnected since) is only
  // mentioned in the last-sync line.
  const failedSinceChange = conn.lastSync?.status === 'failed'
    && !(Date.parse(conn.updatedAt) > Date.parse(conn.lastSync.finishedAt));
  if (failedSinceChange) {
    return { label: 'Error', tone: 'danger', reason: syncErrorText(conn.lastSync.error) || fmt.sentence(conn.statusReason) || 'The last sync did not finish.' };
  }
  return { label: 'Active', tone: 'ok' };
}

function lastSyncText(conn, reasonShown) {
  const last = conn.lastSync;
  if (!last) return 'Not synced yet';
  const ago = fmt.fromNow(last.finishedAt);
  if (last.status === 'failed') {
    // The error is already the reason above when the sync failed on an active connection.
    const error = syncErrorText(last.error);
    return error && !reasonShown.includes(error) ? `Last sync failed ${ago}: ${error}` : `Last sync failed ${ago}.`;
  }
  return `Last synced ${ago}: ${fmt.items(last.items)}, saved ${fmt.duration(last.minutesSaved)}`;
}

// How the connection hears of changes (provider notifications, or only its syncs), and since
// when its data is known to be current.
function realtimeText(conn) {
  const fresh = conn.freshAsOf ? ` Up to date as of ${fmt.fromNow(conn.freshAsOf)}.` : '';
  if (conn.realtime === 'live') return `Live: changes arrive as they happen.${fresh}`;
  if (conn.realtime === 'polling') return `Polling: changes arrive with each sync.${fresh}`;
  return fresh.trim();
}

function scheduleText(conn) {
  if (!conn.settings?.autoSync) return 'Auto-sync is off — sync whenever you need to.';
  if (conn.nextSyncAt) return `Next sync ${fmt.fromNow(conn.nextSyncAt)}.`;
  return `Syncs every ${fmt.interval(conn.settings.syncIntervalMinutes)}.`;
}

export function createConnectionRow(initial) {
  let conn = initial;
  let syncing = false;
  const id = initial.connectionId; // a row is one connection for its whole life
  const key = (what) => `${what}-${id}`;
  const integ = () => findIntegration(conn.integrationId) || { id: conn.integrationId, name: conn.displayName };
  // The row's name for screen readers: two rows of one tool differ by their account.
  const who = () => {
    const account = conn.account?.name;
    return account && account !== conn.displayName ? `${conn.displayName} (${account})` : conn.displayName;
  };

  const iconSlot = h('span', { class: 'conn__icon' });
  const title = h('h3', { class: 'conn__name' });
  const account = h('p', { class: 'conn__account' });
  const pill = h('span', { class: 'pill' });
  const health = createHealthBadge(key('health'));
  const reason = h('p', { class: 'conn__reason' });
  const last = h('p', { class: 'conn__last', 'data-testid': key('last-sync') });
  const receives = h('p', { class: 'conn__receives', 'data-testid': key('receives'), hidden: true }, fmt.RECEIVES_POSTS);
  const totals = h('p', { class: 'conn__totals' });
  const realtime = h('p', { class: 'conn__last', 'data-testid': key('realtime') });
  const reconnect = h('button', {
    type: 'button', class: 'btn btn--small btn--warning', 'data-testid': key('reconnect'),
    onClick: () => openConnect(integ(), { reconnect: conn }),
  }, 'Reconnect');
  const syncBtn = h('button', { type: 'button', class: 'btn btn--primary btn--small', 'data-testid': key('sync') }, icon('sync', { size: 16 }), 'Sync now');
  const disconnectBtn = h('button', { type: 'button', class: 'btn btn--ghost btn--small btn--quiet-danger', 'data-testid': key('disconnect') }, 'Disconnect');

  const autoSync = h('input', { type: 'checkbox', role: 'switch', class: 'switch__input', 'data-testid': key('autosync') });
  const every = h('select', { class: 'select select--small', 'data-testid': key('interval') });
  let offered = ''; // the interval choices the select holds, to rebuild it only when they change
  const saveState = h('span', { class: 'conn__saved', role: 'status' });
  const schedule = h('p', { class: 'conn__schedule' });
  pill.dataset.testid = key('status');
  reason.dataset.testid = key('reason');

  const panel = createSyncPanel({
    connection: () => conn,
    name: () => conn.displayName,
    onNothingToSync: () => refetch(),
    onBusy: (on) => { syncing = on; update(conn); },
    onChange: () => update(conn),
    onFinished: async () => {
      history.refresh();
      refreshSummary();
      return refetch();
    },
  });
  const history = createHistory(() => conn);

  /** Fresh copy of this connection from the API (after a sync, or when the API says it cannot sync). */
  async function refetch() {
    try {
      const fresh = await api.connection(id);
      putConnection(fresh);
      return fresh;
    } catch {
      loadConnections(); // shows its own error if the API is unreachable
      return null;
    }
  }

  const settings = h('div', { class: 'conn__settings' },
    h('label', { class: 'switch' }, autoSync, h('span', { class: 'switch__track', 'aria-hidden': 'true' }), h('span', { class: 'switch__label' }, 'Auto-sync')),
    h('label', { class: 'conn__every' }, h('span', { 'aria-hidden': 'true' }, 'every'), every),
    saveState,
    schedule);
  const el = h('article', {
    class: 'conn', tabindex: '-1', id: key('connection'), 'data-testid': key('connection'),
    'data-connection-id': id, 'data-integration': initial.integrationId,
  },
  h('div', { class: 'conn__main' },
    iconSlot,
    h('div', { class: 'conn__who' }, h('div', { class: 'conn__title-row' }, title, pill, health.el), account),
    h('div', { class: 'conn__actions' }, reconnect, syncBtn, disconnectBtn)),
  h('div', { class: 'conn__status' }, reason, last, realtime, receives, totals),
  settings,
  panel.el,
  history.el);

  async function save(changes) {
    saveState.className = 'conn__saved';
    saveState.replaceChildren('Saving…');
    try {
      const updated = await api.update(conn.connectionId, changes);
      putConnection(updated);
      saveState.replaceChildren(icon('check', { size: 14 }), 'Saved');
      setTimeout(() => { if (saveState.textContent === 'Saved') saveState.replaceChildren(); }, 3000);
    } catch (error) {
      update(conn); // puts the controls back as they were
      if (error.kind === 'nothing-to-sync') {
        // The page only offers auto-sync where there is something to sync; the API knows better.
        // Said in the sync panel, which stays when the refreshed row drops its sync settings.
        saveState.replaceChildren();
        panel.tell('info', error.title || 'Nothing to sync', fmt.sentence(error.detail));
        refetch();
        return;
      }
      const m = describe(error, 'Your change was not saved');
      saveState.className = 'conn__saved conn__saved--error';
      saveState.replaceChildren(icon('alert', { size: 14 }), `${m.lead}. ${m.detail}`);
    }
  }

  autoSync.addEventListener('change', () => save({ autoSync: autoSync.checked }));
  every.addEventListener('change', () => save({ syncIntervalMinutes: Number(every.value) }));
  syncBtn.addEventListener('click', () => { if (canSync(conn)) panel.start(); });
  disconnectBtn.addEventListener('click', async () => {
    const name = conn.displayName;
    const syncs = canSync(conn);
    const removed = await confirmAction({
      title: `Disconnect ${name}?`,
      text: syncs
        ? `We will stop syncing ${name} and delete the key we stored for it. The time already saved stays in your totals.`
        : `We will stop posting to ${name} and delete the webhook address we stored for it.`,
      confirmLabel: 'Disconnect',
      busyLabel: 'Disconnecting…',
      testid: 'confirm-disconnect',
      errorContext: `We could not disconnect ${name}`,
      action: async () => {
        try {
          await api.disconnect(conn.connectionId);
        } catch (error) {
          if (error.status !== 404) throw error; // already gone: that is what we wanted
        }
      },
    });
    if (!removed) return;
    panel.stop();
    dropConnection(conn.connectionId);
    refreshSummary();
    notify({ tone: 'success', key: `disconnected-${conn.connectionId}`, testid: 'notice-disconnected', title: `${name} is disconnected`, detail: `Nothing more will be ${syncs ? 'synced from' : 'posted to'} it. You can connect it again at any time.` });
    document.getElementById('your-tools')?.focus();
  });

  /** The select's options: the API's choices (and the connection's own value if it is not one). */
  function showIntervals(current) {
    const values = intervalChoices(current);
    const signature = `${values.join(',')}@${current}`;
    if (signature === offered) return;
    offered = signature;
    every.replaceChildren(...values.map((m) => h('option', { value: String(m), selected: m === current }, fmt.interval(m))));
    every.value = String(current);
  }

  function update(next) {
    conn = next;
    const syncs = canSync(conn);
    const st = statusOf(conn, syncing);
    const busy = conn.status === 'disconnecting';
    const name = who();
    el.setAttribute('aria-label', `${name}, ${st.label}`);
    el.className = `conn conn--${st.tone}${syncs ? '' : ' conn--receives'}`;
    iconSlot.replaceChildren(integrationIcon(conn.integrationId, integ().name, 44));
    title.textContent = conn.displayName;
    render(account,
      [conn.account?.name, conn.account?.workspace].filter(Boolean).join(' · ') || 'Connected account',
      conn.authKind === 'oauth2'
        ? h('span', { class: 'conn__hint' }, ` · signed in with ${integ().name}`)
        : conn.credentialHint ? h('span', { class: 'conn__hint' }, ` · ${syncs ? 'key' : 'webhook'} ${conn.credentialHint}`) : null);
    pill.className = `pill pill--${st.tone}`;
    render(pill, st.tone === 'info' ? h('span', { class: 'spinner spinner--tiny', 'aria-hidden': 'true' }) : null, st.label);
    health.show(conn);
    reason.hidden = !st.reason;
    reason.textContent = st.reason || '';
    reason.className = `conn__reason conn__reason--${st.tone}`;
    reconnect.hidden = conn.status !== 'needs_reauth';
    reconnect.setAttribute('aria-label', `Reconnect ${name}`);
    disconnectBtn.disabled = busy;
    disconnectBtn.setAttribute('aria-label', `Disconnect ${name}`);

    // A webhook that only receives posts: what it does, and nothing about syncing.
    receives.hidden = syncs;
    // (The sync panel stays: empty, it takes no room; it may say why the API refused a sync.)
    for (const part of [last, realtime, totals, syncBtn, settings, history.el]) part.hidden = !syncs;
    if (!syncs) {
      panel.stop();
      return;
    }

    last.textContent = lastSyncText(conn, st.reason || '');
    realtime.textContent = realtimeText(conn);
    realtime.hidden = !realtime.textContent;
    totals.textContent = conn.itemsTotal ? `In total: ${fmt.items(conn.itemsTotal)}, ${fmt.duration(conn.minutesSavedTotal)} saved` : '';
    syncBtn.disabled = syncing || busy || conn.status === 'needs_reauth' || panel.blocked;
    syncBtn.setAttribute('aria-label', `Sync ${name} now`);
    autoSync.checked = Boolean(conn.settings?.autoSync);
    autoSync.setAttribute('aria-label', `Sync ${name} automatically`);
    showIntervals(conn.settings?.syncIntervalMinutes ?? syncIntervals()?.defaultMinutes ?? null);
    every.disabled = !conn.settings?.autoSync;
    every.setAttribute('aria-label', `How often to sync ${name}`);
    schedule.textContent = scheduleText(conn);
    panel.refresh();
  }

  update(initial);
  if (initial.syncInFlight && canSync(initial)) panel.follow({ syncId: initial.syncInFlight, status: 'running' });

  return { el, update, stop: () => panel.stop() };
}
