// Live sync status for one connection: starts a sync (POST …/sync), follows the run by polling
// GET …/syncs/{syncId} about once a second while it is queued or running (a progress bar with
// "N items so far"), then shows the result. Polling ends with the run, and pauses while the
// page is hidden (another tab, minimised, being left): it goes on when the page is visible
// again. Handles "already running" (follows that run), "rate limited" (says when the next
// sync is possible) and "nothing to sync" (a connection that only receives posts: the API's
// words, and the row is refreshed so it stops offering to sync). When a run ends it fires
// `sync:finished` on the document ({ connectionId, run }), so other sections can refresh.

import { api } from './api.js';
import { h } from './dom.js';
import { icon } from './icons.js';
import * as fmt from './format.js';
import { describe } from './problem.js';

// The first look comes quickly (most syncs take well under a second), then once a second.
const FIRST_POLL_MS = 400;
const POLL_MS = 1000;
const TERMINAL = new Set(['succeeded', 'failed']);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const pageVisible = () => document.visibilityState !== 'hidden';

/** Resolves once the page is visible (at once if it is). */
function whenVisible() {
  if (pageVisible()) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (!pageVisible()) return;
      document.removeEventListener('visibilitychange', check);
      window.removeEventListener('pageshow', check);
      resolve();
    };
    document.addEventListener('visibilitychange', check);
    window.addEventListener('pageshow', check);
  });
}

/** A run's error (a plain string from the API) as a sentence. */
export function syncErrorText(error) {
  if (!error) return '';
  if (typeof error === 'string') return fmt.sentence(error);
  return fmt.sentence(error.message || error.detail || error.title || error.code || '');
}

/** "12 new, 30 updated, 100 unchanged, 1 removed". */
export function countsText(counts) {
  if (!counts) return '';
  return [
    counts.created ? `${fmt.count(counts.created)} new` : null,
    counts.updated ? `${fmt.count(counts.updated)} updated` : null,
    counts.unchanged ? `${fmt.count(counts.unchanged)} unchanged` : null,
    counts.deleted ? `${fmt.count(counts.deleted)} removed` : null,
  ].filter(Boolean).join(', ');
}

export function runItems(run) {
  return Number(run?.progress?.items ?? 0) || [run?.counts?.created, run?.counts?.updated, run?.counts?.unchanged]
    .reduce((a, b) => a + (Number(b) || 0), 0);
}

/**
 * The sync area of a connection row.
 * ctx: { connection(), name(), onBusy(bool), onChange(), onFinished(run) → the updated connection,
 *        onNothingToSync() }
 * Its test ids are keyed by the connection's id: sync-progress-<connectionId>, sync-result-<connectionId>.
 */
export function createSyncPanel(ctx) {
  const connectionId = ctx.connection().connectionId;
  const label = h('p', { class: 'sync-progress__label' });
  const bar = h('div', {
    class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuenow': '0', 'aria-valuetext': 'Starting',
  }, h('span', { class: 'progress__bar' }));
  const progress = h('div', { class: 'sync-progress', hidden: true }, label, bar);
  const outcome = h('div', { class: 'sync-outcome', role: 'status', 'aria-live': 'polite' });
  const el = h('div', { class: 'sync-panel' }, progress, outcome);

  let followingId = null;
  let stopped = false;
  let unblockTimer = null;
  let blockedUntil = 0;

  progress.setAttribute('data-testid', `sync-progress-${connectionId}`);
  outcome.setAttribute('data-testid', `sync-result-${connectionId}`);
  const setLabels = () => {
    bar.setAttribute('aria-label', `${ctx.name()} sync progress`);
  };
  setLabels();

  function say(tone, lead, detail, actions = []) {
    outcome.replaceChildren(h('div', { class: ['sync-outcome__msg', `sync-outcome__msg--${tone}`] },
      icon(tone === 'ok' ? 'check' : tone === 'info' ? 'info' : 'alert', { size: 17 }),
      h('div', {}, h('p', { class: 'sync-outcome__lead' }, lead), detail ? h('p', { class: 'sync-outcome__detail' }, detail) : null,
        actions.length ? h('div', { class: 'sync-outcome__actions' }, actions) : null)));
  }

  function showProgress(run) {
    const n = runItems(run);
    const queued = run.status === 'queued';
    const text = queued ? 'Waiting for its turn…' : `${fmt.items(n)} so far`;
    label.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }),
      h('strong', {}, queued ? 'Queued' : 'Syncing'), ` — ${text}`);
    bar.setAttribute('aria-valuenow', String(n));
    bar.setAttribute('aria-valuetext', queued ? 'Queued' : `${fmt.items(n)} so far`);
    bar.classList.toggle('progress--queued', queued);
    progress.hidden = false;
  }

  function finish(run) {
    progress.hidden = true;
    followingId = null;
    ctx.onBusy(false);
    // Others ("Your week") refresh what the run may have changed.
    document.dispatchEvent(new CustomEvent('sync:finished', { detail: { connectionId, run } }));
    const why = syncErrorText(run.error) || 'The provider did not answer as expected.';
    if (run.status === 'succeeded') {
      const counts = countsText(run.counts);
      say('ok', `Synced ${fmt.items(runItems(run))} — saved ${fmt.duration(run.minutesSaved)}`,
        [counts, run.durationMs != null ? `took ${fmt.elapsed(run.durationMs)}` : null].filter(Boolean).join(' · '));
    } else {
      say('danger', 'The sync did not finish', `${why} Nothing already synced was lost — try again in a few minutes.`);
    }
    Promise.resolve(ctx.onFinished(run)).then((connection) => {
      // The provider refused the credential: trying again will not help, reconnecting will.
      if (run.status === 'failed' && connection?.status === 'needs_reauth' && followingId === null) {
        say('danger', 'The sync did not finish', `${why} Nothing already synced was lost; press Reconnect to sync ${ctx.name()} again.`);
      }
    }, () => {});
  }

  async function poll(syncId) {
    let misses = 0;
    let wait = FIRST_POLL_MS;
    while (!stopped && followingId === syncId) {
      await sleep(wait);
      wait = POLL_MS;
      // Nobody is looking: ask again only once the page is visible.
      if (!pageVisible()) await whenVisible();
      if (stopped || followingId !== syncId) return;
      try {
        const run = await api.syncRun(ctx.connection().connectionId, syncId);
        misses = 0;
        if (TERMINAL.has(run.status)) return finish(run);
        showProgress(run);
      } catch (error) {
        misses += 1;
        if (error.isNetwork && misses < 4) continue;
        progress.hidden = true;
        followingId = null;
        ctx.onBusy(false);
        const m = describe(error, 'We lost track of this sync');
        say('danger', m.lead, m.detail, [h('button', {
          type: 'button', class: 'btn btn--small btn--secondary', onClick: () => follow({ syncId, status: 'queued' }),
        }, 'Check again')]);
        return;
      }
    }
  }

  /** Shows and follows a run (a SyncRun, or at least { syncId }). */
  function follow(run, note = null) {
    if (!run?.syncId) return;
    stopped = false;
    followingId = run.syncId;
    ctx.onBusy(true);
    outcome.replaceChildren();
    if (note) say('info', note);
    if (TERMINAL.has(run.status)) return finish(run);
    showProgress({ status: 'queued', ...run });
    poll(run.syncId);
  }

  function blockUntil(seconds) {
    blockedUntil = Date.now() + seconds * 1000;
    clearTimeout(unblockTimer);
    unblockTimer = setTimeout(() => { blockedUntil = 0; ctx.onChange(); }, seconds * 1000);
    ctx.onChange();
    return new Date(blockedUntil);
  }

  async function start(mode = 'incremental') {
    if (followingId) return;
    ctx.onBusy(true);
    outcome.replaceChildren();
    showProgress({ status: 'queued' });
    const connectionId = ctx.connection().connectionId;
    try {
      follow(await api.sync(connectionId, mode));
    } catch (error) {
      progress.hidden = true;
      ctx.onBusy(false);
      if (error.kind === 'sync-in-progress' && error.extensions.syncId) {
        follow({ syncId: error.extensions.syncId, status: 'running' }, 'A sync was already running — showing its progress.');
        return;
      }
      if (error.kind === 'sync-rate-limited' || error.status === 429) {
        const seconds = Number(error.retryAfterSeconds ?? error.extensions.retryAfterSeconds) || 60;
        const until = blockUntil(seconds);
        say('info', `${ctx.name()} was synced moments ago`, `You can sync again in ${fmt.wait(seconds)} (at ${fmt.clock(until)}).`);
        return;
      }
      if (error.kind === 'nothing-to-sync') {
        say('info', error.title || 'Nothing to sync', fmt.sentence(error.detail));
        ctx.onNothingToSync?.();
        return;
      }
      const m = describe(error, `We couldn’t start a sync for ${ctx.name()}`);
      say('danger', m.lead, m.detail);
    }
  }

  return {
    el,
    start,
    follow,
    get running() { return Boolean(followingId); },
    get blocked() { return blockedUntil > Date.now(); },
    refresh: setLabels,
    /** Shows a message in the panel (e.g. why a setting was refused). */
    tell: (tone, lead, detail) => say(tone, lead, detail),
    stop() {
      stopped = true;
      followingId = null;
      progress.hidden = true;
      clearTimeout(unblockTimer);
    },
  };
}
