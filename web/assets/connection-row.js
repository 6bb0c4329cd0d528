// One connected tool on the dashboard: who it is, its status, the last sync, Sync now,
// auto-sync settings (saved with PATCH), Disconnect, live sync status and history.
// Built once per connection and updated in place, so focus and running syncs survive refreshes.

import { api } from './api.js';
import { h, render } from './dom.js';
import { icon, integrationIcon } from './icons.js';
import * as fmt from './format.js';
import { describe } from './problem.js';
import { confirmAction } from './confirm-dialog.js';
import { openConnect } from './connect-dialog.js';
import { createSyncPanel, syncErrorText } from './sync-status.js';
import { createHistory } from './history.js';
import { notify } from './notices.js';
import { dropConnection, integration as findIntegration, loadConnections, putConnection, refreshSummary } from './store.js';

// The status pill, and the reason in words when something needs attention: the connection's
// statusReason (why it needs reconnecting) or the last sync's error.
function statusOf(conn, syncing) {
  if (conn.status === 'disconnecting') return { label: 'Disconnecting…', tone: 'neutral' };
  if (conn.status === 'needs_reauth') {
    const how = conn.authKind === 'oauth2' ? 'sign in again' : 'enter a new key';
    return {
      label: 'Needs you', tone: 'warning',
      reason: `${fmt.sentence(conn.statusReason) || `${conn.displayName} no longer accepts the stored sign-in.`} Press Reconnect and ${how} to keep it syncing.`,
    };
  }
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

function scheduleText(conn) {
  if (!conn.settings?.autoSync) return 'Auto-sync is off — sync whenever you need to.';
  if (conn.nextSyncAt) return `Next sync ${fmt.fromNow(conn.nextSyncAt)}.`;
  return `Syncs every ${fmt.interval(conn.settings.syncIntervalMinutes)}.`;
}

export function createConnectionRow(initial) {
  let conn = initial;
  let syncing = false;
  const slug = () => conn.integrationId;
  const integ = () => findIntegration(conn.integrationId) || { id: conn.integrationId, name: conn.displayName };

  const iconSlot = h('span', { class: 'conn__icon' });
  const title = h('h3', { class: 'conn__name' });
  const account = h('p', { class: 'conn__account' });
  const pill = h('span', { class: 'pill' });
  const reason = h('p', { class: 'conn__reason' });
  const last = h('p', { class: 'conn__last' });
  const totals = h('p', { class: 'conn__totals' });
  const reconnect = h('button', { type: 'button', class: 'btn btn--small btn--warning', onClick: () => openConnect(integ(), { reconnect: conn }) }, 'Reconnect');
  const syncBtn = h('button', { type: 'button', class: 'btn btn--primary btn--small' }, icon('sync', { size: 16 }), 'Sync now');
  const disconnectBtn = h('button', { type: 'button', class: 'btn btn--ghost btn--small btn--quiet-danger' }, 'Disconnect');

  const autoSync = h('input', { type: 'checkbox', role: 'switch', class: 'switch__input' });
  const every = h('select', { class: 'select select--small' });
  const saveState = h('span', { class: 'conn__saved', role: 'status' });
  const schedule = h('p', { class: 'conn__schedule' });

  const panel = createSyncPanel({
    connection: () => conn,
    name: () => conn.displayName,
    onBusy: (on) => { syncing = on; update(conn); },
    onChange: () => update(conn),
    onFinished: async () => {
      history.refresh();
      refreshSummary();
      try {
        const fresh = await api.connection(conn.connectionId);
        putConnection(fresh);
        return fresh;
      } catch {
        loadConnections(); // shows its own error if the API is unreachable
        return null;
      }
    },
  });
  const history = createHistory(() => conn);

  const el = h('article', { class: 'conn', tabindex: '-1' },
    h('div', { class: 'conn__main' },
      iconSlot,
      h('div', { class: 'conn__who' }, h('div', { class: 'conn__title-row' }, title, pill), account),
      h('div', { class: 'conn__actions' }, reconnect, syncBtn, disconnectBtn)),
    h('div', { class: 'conn__status' }, reason, last, totals),
    h('div', { class: 'conn__settings' },
      h('label', { class: 'switch' }, autoSync, h('span', { class: 'switch__track', 'aria-hidden': 'true' }), h('span', { class: 'switch__label' }, 'Auto-sync')),
      h('label', { class: 'conn__every' }, h('span', { 'aria-hidden': 'true' }, 'every'), every),
      saveState,
      schedule),
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
      const m = describe(error, 'Your change was not saved');
      saveState.className = 'conn__saved conn__saved--error';
      saveState.replaceChildren(icon('alert', { size: 14 }), `${m.lead}. ${m.detail}`);
    }
  }

  autoSync.addEventListener('change', () => save({ autoSync: autoSync.checked }));
  every.addEventListener('change', () => save({ syncIntervalMinutes: Number(every.value) }));
  syncBtn.addEventListener('click', () => panel.start());
  disconnectBtn.addEventListener('click', async () => {
    const name = conn.displayName;
    const removed = await confirmAction({
      title: `Disconnect ${name}?`,
      text: `We will stop syncing ${name} and delete the key we stored for it. The time already saved stays in your totals.`,
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
    notify({ tone: 'success', key: `disconnected-${conn.connectionId}`, testid: 'notice-disconnected', title: `${name} is disconnected`, detail: 'Nothing more will be synced from it. You can connect it again at any time.' });
    document.getElementById('your-tools')?.focus();
  });

  function intervalOptions(current) {
    const values = fmt.SYNC_INTERVALS.includes(current) ? fmt.SYNC_INTERVALS : [...fmt.SYNC_INTERVALS, current].sort((a, b) => a - b);
    return values.map((m) => h('option', { value: String(m), selected: m === current }, fmt.interval(m)));
  }

  function update(next) {
    conn = next;
    const st = statusOf(conn, syncing);
    const busy = conn.status === 'disconnecting';
    el.id = `connection-${conn.connectionId}`;
    el.dataset.testid = `connection-${slug()}`;
    el.dataset.connectionId = conn.connectionId;
    el.setAttribute('aria-label', `${conn.displayName}, ${st.label}`);
    el.className = `conn conn--${st.tone}`;
    iconSlot.replaceChildren(integrationIcon(conn.integrationId, integ().name, 44));
    title.textContent = conn.displayName;
    render(account,
      [conn.account?.name, conn.account?.workspace].filter(Boolean).join(' · ') || 'Connected account',
      conn.authKind === 'oauth2'
        ? h('span', { class: 'conn__hint' }, ` · signed in with ${integ().name}`)
        : conn.credentialHint ? h('span', { class: 'conn__hint' }, ` · key ${conn.credentialHint}`) : null);
    pill.className = `pill pill--${st.tone}`;
    pill.dataset.testid = `status-${slug()}`;
    render(pill, st.tone === 'info' ? h('span', { class: 'spinner spinner--tiny', 'aria-hidden': 'true' }) : null, st.label);
    reason.hidden = !st.reason;
    reason.textContent = st.reason || '';
    reason.className = `conn__reason conn__reason--${st.tone}`;
    reason.dataset.testid = `reason-${slug()}`;
    reconnect.hidden = conn.status !== 'needs_reauth';
    reconnect.dataset.testid = `reconnect-${slug()}`;
    reconnect.setAttribute('aria-label', `Reconnect ${conn.displayName}`);
    last.textContent = lastSyncText(conn, st.reason || '');
    last.dataset.testid = `last-sync-${slug()}`;
    totals.textContent = conn.itemsTotal ? `In total: ${fmt.items(conn.itemsTotal)}, ${fmt.duration(conn.minutesSavedTotal)} saved` : '';
    syncBtn.disabled = syncing || busy || conn.status === 'needs_reauth' || panel.blocked;
    syncBtn.dataset.testid = `sync-${slug()}`;
    syncBtn.setAttribute('aria-label', `Sync ${conn.displayName} now`);
    disconnectBtn.disabled = busy;
    disconnectBtn.dataset.testid = `disconnect-${slug()}`;
    disconnectBtn.setAttribute('aria-label', `Disconnect ${conn.displayName}`);
    autoSync.checked = Boolean(conn.settings?.autoSync);
    autoSync.dataset.testid = `autosync-${slug()}`;
    autoSync.setAttribute('aria-label', `Sync ${conn.displayName} automatically`);
    const minutes = conn.settings?.syncIntervalMinutes ?? 60;
    if (every.value !== String(minutes)) every.replaceChildren(...intervalOptions(minutes));
    every.disabled = !conn.settings?.autoSync;
    every.dataset.testid = `interval-${slug()}`;
    every.setAttribute('aria-label', `How often to sync ${conn.displayName}`);
    schedule.textContent = scheduleText(conn);
    panel.refresh();
  }

  update(initial);
  if (initial.syncInFlight) panel.follow({ syncId: initial.syncInFlight, status: 'running' });

  return { el, update, stop: () => panel.stop() };
}
