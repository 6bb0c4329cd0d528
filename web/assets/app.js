// The Integrations page: signs in, then loads the catalog, the connections, the stats, the week,
// the automations and the suggestions, each section on its own (one failing does not blank the others).

import { restartSignIn, signIn } from './auth.js';
import { h } from './dom.js';
import { notify } from './notices.js';
import { describe } from './problem.js';
import { mountAutomations, loadAutomationsSection } from './automations-view.js';
import { mountCatalog } from './catalog-view.js';
import { mountConnections } from './connections-view.js';
import { mountInsights } from './insights-view.js';
import { mountRecommendations } from './recommendations-view.js';
import { mountStats } from './stats-view.js';
import { mountWeek, refreshWeek } from './week-view.js';
import { handleOAuthReturn } from './oauth-return.js';
import { loadProviderStatus } from './provider-status.js';
import { showSignedOut, showUser } from './user-view.js';
import {
  integration, loadAgenda, loadCatalog, loadConnections, loadRecommendations, loadStats, set, state,
} from './store.js';

const prettify = (id) => (id ? id.charAt(0).toUpperCase() + id.slice(1).replace(/-/g, ' ') : '');

function signInFailed(error) {
  showSignedOut('Not signed in');
  const m = describe(error, 'We could not sign you in');
  notify({
    tone: 'error', key: 'sign-in', testid: 'notice-sign-in', title: m.lead, detail: m.detail,
    actions: [{ label: 'Try again', onClick: () => location.reload(), dismiss: false }],
  });
  for (const id of ['stats', 'week-body', 'connections', 'automations-list', 'automation-templates', 'recommendations', 'catalog-grid']) {
    const el = document.getElementById(id);
    el.setAttribute('aria-busy', 'false');
    el.replaceChildren(h('p', { class: 'placeholder' }, 'Sign in to see this.'));
  }
  document.getElementById('chart-panel').hidden = true;
  document.getElementById('automation-new').hidden = true;
}

// A session that could not be renewed: say so once, with a way to sign in again.
window.addEventListener('unhandledrejection', (event) => {
  if (event.reason?.kind === 'session-expired') {
    notify({ tone: 'error', key: 'session', title: event.reason.title, detail: event.reason.detail, actions: [{ label: 'Sign in again', onClick: restartSignIn }] });
  }
});

// Scheduled syncs change things while the page is open: refresh quietly every minute while
// the tab is visible, and as soon as it becomes visible again.
const REFRESH_MS = 60_000;
function keepFresh() {
  let last = Date.now();
  const refresh = () => {
    if (document.hidden || Date.now() - last < REFRESH_MS - 1000) return;
    last = Date.now();
    loadConnections();
    loadStats();
    refreshWeek();
    loadProviderStatus();
  };
  setInterval(refresh, REFRESH_MS);
  document.addEventListener('visibilitychange', refresh);
}

async function start() {
  mountStats();
  mountWeek();
  mountConnections();
  mountAutomations();
  mountRecommendations();
  mountCatalog();
  mountInsights();

  let user;
  try {
    user = await signIn();
  } catch (error) {
    signInFailed(error);
    return;
  }
  set('user', user);
  showUser(user);

  const catalog = loadCatalog();
  const connections = loadConnections();
  loadStats();
  loadAgenda();
  loadAutomationsSection();
  loadRecommendations();
  loadProviderStatus();
  await catalog;
  const returned = handleOAuthReturn((id) => integration(id)?.name || prettify(id));
  if (returned) {
    await connections;
    document.dispatchEvent(new CustomEvent('connection:focus', { detail: { connectionId: returned.connectionId } }));
  }

  keepFresh();

  for (const key of ['connections', 'stats', 'agenda', 'automations', 'recommendations', 'catalog']) {
    if (state[key].error?.kind === 'session-expired') {
      const e = state[key].error;
      notify({ tone: 'error', key: 'session', title: e.title, detail: e.detail, actions: [{ label: 'Sign in again', onClick: restartSignIn }] });
      break;
    }
  }
}

start();
