// The connect dialog (a modal <dialog>: focus stays inside, Escape closes, focus returns to
// the button that opened it). API-key integrations get the credentials form; OAuth ones a
// "Sign in with X" button that sends the browser to the provider. Reconnecting a connection
// that needs it uses the same dialog: the same POST /connect with the connection's id, by
// signing in again (OAuth connections) or with a new key (API-key connections).
// An auth mode whose connections have nothing to sync (the integration's capabilities.sync does
// not list it, e.g. a Teams incoming webhook) gets no auto-sync options, and says so.

import { api } from './api.js';
import { h, render } from './dom.js';
import { icon, integrationIcon } from './icons.js';
import { restartSignIn } from './auth.js';
import { credentialsForm } from './connect-form.js';
import { notify } from './notices.js';
import { rememberOAuthStart } from './oauth-return.js';
import { describe } from './problem.js';
import { RECEIVES_POSTS, sentence } from './format.js';
import { loadConnections, modeSyncs, putConnection, refreshSummary, state } from './store.js';

let dialog = null;
let opener = null;
let busy = false;

function ensureDialog() {
  if (dialog) return dialog;
  dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'connect-title', 'data-testid': 'connect-dialog' });
  dialog.addEventListener('cancel', (event) => { if (busy) event.preventDefault(); });
  dialog.addEventListener('close', () => {
    render(dialog);
    if (opener?.isConnected) opener.focus();
    opener = null;
  });
  dialog.addEventListener('click', (event) => {
    if (event.target.closest('[data-action="cancel"]') && !busy) dialog.close();
  });
  document.body.append(dialog);
  // Back from the provider with the browser's Back button (page restored from the cache):
  // the sign-in button must not stay busy.
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted || !dialog.open) return;
    const button = dialog.querySelector('[data-testid="oauth-signin"]');
    if (button?.disabled) setBusy(button, false);
  });
  return dialog;
}

function summaryBox() {
  return h('div', { class: 'dialog__error', role: 'alert', 'data-testid': 'connect-error', hidden: true });
}

function showSummary(box, { lead, detail, actions = [] }) {
  box.replaceChildren(
    h('span', { class: 'dialog__error-icon' }, icon('alert')),
    h('div', {},
      h('p', { class: 'dialog__error-lead' }, lead),
      detail ? h('p', { class: 'dialog__error-detail' }, detail) : null,
      actions.length ? h('div', { class: 'dialog__error-actions' }, actions) : null));
  box.hidden = false;
}

function setBusy(button, on, label) {
  busy = on;
  button.disabled = on;
  if (on) {
    button.dataset.label = button.textContent;
    button.replaceChildren(h('span', { class: 'spinner spinner--light', 'aria-hidden': 'true' }), label);
  } else if (button.dataset.label) {
    button.textContent = button.dataset.label;
  }
  button.closest('form')?.setAttribute('aria-busy', String(on));
}

/** Words for the problems /connect can answer with; field-level ones go next to their field. */
function explain(error, integration, form, box, reconnect = null) {
  const k = error.kind;
  if (k === 'invalid-credentials' && form) {
    let placed = false;
    for (const e of error.extensions.errors || []) placed = form.showError(e.field, e.message) || placed;
    const first = (error.extensions.errors || []).find((e) => form.fields.some((f) => f.field.name === e.field));
    if (first) form.focus(first.field);
    showSummary(box, { lead: error.title, detail: placed ? null : error.detail });
    return;
  }
  if (k === 'credential-rejected' && form) {
    const name = form.secretFieldName();
    form.showError(name, error.detail || error.title);
    form.focus(name);
    showSummary(box, {
      lead: `${integration.name} did not accept these details`,
      detail: `Check the highlighted field and try again. ${reconnect ? 'Nothing was changed.' : 'Nothing was connected.'}`,
    });
    return;
  }
  if (k === 'already-connected') {
    showSummary(box, {
      lead: error.title, detail: error.detail,
      actions: [h('button', {
        type: 'button', class: 'btn btn--small btn--secondary',
        onClick: async () => { dialog.close(); await loadConnections(); focusConnection(error.extensions.connectionId); },
      }, 'Show it')],
    });
    return;
  }
  if (k === 'session-expired') {
    showSummary(box, { lead: error.title, detail: error.detail, actions: [h('button', { type: 'button', class: 'btn btn--small btn--secondary', onClick: restartSignIn }, 'Sign in again')] });
    return;
  }
  if (reconnect && error.status === 404) {
    showSummary(box, { lead: `This ${integration.name} connection is gone`, detail: 'It was disconnected in the meantime. Close this and connect it again from the catalog.' });
    return;
  }
  const message = describe(error, form ? null : 'Sign-in could not start');
  const extra = k === 'plan-limit-reached' ? ' Disconnect a tool you no longer use, or upgrade to Premium for more.' : '';
  showSummary(box, { lead: message.lead, detail: `${message.detail || ''}${extra}`.trim() });
}

function focusConnection(connectionId) {
  document.dispatchEvent(new CustomEvent('connection:focus', { detail: { connectionId } }));
}

async function submitCredentials(integration, form, box, reconnect) {
  box.hidden = true;
  form.clearErrors();
  const invalid = form.validate();
  if (invalid) {
    showSummary(box, { lead: 'Please check the highlighted field', detail: null });
    form.focus(invalid);
    return;
  }
  setBusy(form.submit, true, reconnect ? 'Reconnecting…' : 'Connecting…');
  try {
    const settings = form.settings();
    const body = reconnect
      ? { integrationId: integration.id, credentials: form.values(), connectionId: reconnect.connectionId }
      : { integrationId: integration.id, credentials: form.values(), ...(Object.keys(settings).length ? { settings } : {}) };
    const connection = await api.connect(body);
    busy = false;
    dialog.close();
    putConnection(connection);
    refreshSummary();
    const name = connection.displayName || integration.name;
    if (reconnect) {
      notify({ tone: 'success', key: `connected-${connection.connectionId}`, testid: 'notice-reconnected', title: `${name} is reconnected`, detail: 'It syncs again as before; its settings and history are unchanged.' });
    } else {
      const next = connection.canSync === false
        ? 'It appears under “Your tools”; Director of One posts to it from now on.'
        : 'Run your first sync from “Your tools” whenever you are ready.';
      notify({ tone: 'success', key: `connected-${connection.connectionId}`, testid: 'notice-connected', title: `${name} is connected`, detail: next });
    }
    focusConnection(connection.connectionId);
  } catch (error) {
    explain(error, integration, form, box, reconnect);
  } finally {
    if (dialog.open) setBusy(form.submit, false);
  }
}

/**
 * Starts a provider sign-in: POST /connect answers with where to send the browser, and sets
 * the cookie that binds the sign-in to this browser (the page's fetch stores it). The provider
 * sends the browser back to /integrations?connected=… or ?oauthError=… (see oauth-return.js).
 */
async function startOAuth(integration, button, box, reconnect) {
  box.hidden = true;
  setBusy(button, true, `Opening ${integration.name}…`);
  try {
    const body = { integrationId: integration.id, returnUrl: '/integrations' };
    if (reconnect) body.connectionId = reconnect.connectionId;
    const answer = await api.connect(body);
    if (answer?.authorizationUrl) {
      rememberOAuthStart({ integrationId: integration.id, connectionId: reconnect?.connectionId || null });
      window.location.assign(answer.authorizationUrl);
      return; // The page is going away; stay busy.
    }
    showSummary(box, { lead: 'Sign-in could not start', detail: 'The service did not say where to sign in. Please try again in a moment.' });
  } catch (error) {
    explain(error, integration, null, box, reconnect);
  }
  setBusy(button, false);
}

function oauthPanel(integration, box, reconnect) {
  const button = h('button', { type: 'button', class: 'btn btn--primary', 'data-testid': 'oauth-signin' },
    icon('arrowRight'), `Sign in with ${integration.name}${reconnect ? ' again' : ''}`);
  button.addEventListener('click', () => startOAuth(integration, button, box, reconnect));
  const who = reconnect?.account?.name ? ` as ${reconnect.account.name}` : '';
  const text = reconnect
    ? `You will go to ${integration.name} to sign in again${who} and approve access, then come straight back here. Your settings and sync history stay as they are.`
    : `You will go to ${integration.name} to approve access, then come straight back here. We never see your ${integration.name} password.`;
  return h('div', { class: 'oauth-panel' },
    h('p', {}, text),
    h('div', { class: 'dialog__actions' }, h('button', { type: 'button', class: 'btn btn--secondary', 'data-action': 'cancel' }, 'Cancel'), button));
}

function modeChooser(integration, panels) {
  const choose = (mode) => {
    panels.oauth.hidden = mode !== 'oauth';
    panels.key.hidden = mode !== 'key';
  };
  const option = (mode, label, hint, checked) => h('label', { class: 'mode' },
    h('input', { type: 'radio', name: 'connect-mode', value: mode, checked, 'data-testid': `mode-${mode}`, onChange: () => choose(mode) }),
    h('span', { class: 'mode__text' }, h('span', { class: 'mode__label' }, label), h('span', { class: 'mode__hint' }, hint)));
  const fieldsLabel = (integration.credentialFields || []).map((f) => f.label.toLowerCase()).join(' and ') || 'key';
  const article = /^[aeiou]/.test(fieldsLabel) ? 'an' : 'a';
  const postsOnly = 'Director of One posts to it; nothing is synced from it.';
  choose('oauth');
  return h('fieldset', { class: 'modes' },
    h('legend', { class: 'modes__legend' }, 'How would you like to connect?'),
    option('oauth', `Sign in with ${integration.name}`, modeSyncs(integration, 'oauth2') ? 'Recommended — quickest, nothing to copy.' : postsOnly, true),
    option('key', `Use ${article} ${fieldsLabel}`, modeSyncs(integration, 'api_key') ? 'For admins who already have one.' : postsOnly, false));
}

/** Opens the connect flow for an integration. `reconnect`: the connection that needs it. */
export function openConnect(integration, { reconnect = null } = {}) {
  const d = ensureDialog();
  opener = document.activeElement;
  busy = false;
  const modes = integration.authModes || [];
  let hasKey = modes.includes('api_key') && (integration.credentialFields || []).length > 0;
  let hasOAuth = modes.includes('oauth2');
  if (reconnect) {
    // A connection is reconnected the way it was connected.
    const byOAuth = reconnect.authKind === 'oauth2';
    hasOAuth = hasOAuth && byOAuth;
    hasKey = hasKey && !byOAuth;
  }
  const box = summaryBox();
  const panels = {};
  let form = null;
  if (hasKey) {
    const syncs = modeSyncs(integration, 'api_key');
    form = credentialsForm(integration, {
      onSubmit: () => submitCredentials(integration, form, box, reconnect),
      submitLabel: reconnect ? 'Reconnect' : 'Connect',
      withOptions: !reconnect,
      syncs,
    });
    const intro = reconnect
      ? h('p', { class: 'key-panel__intro' }, `Enter a new ${(integration.credentialFields || []).map((f) => f.label.toLowerCase()).join(' and ')} for ${reconnect.account?.name || 'the same account'}. Your settings ${syncs ? 'and sync history ' : ''}stay as they are.`)
      : syncs ? null : h('p', { class: 'key-panel__intro', 'data-testid': 'connect-receives' }, RECEIVES_POSTS);
    panels.key = h('div', { class: 'key-panel' }, intro, form.form);
  }
  if (hasOAuth) panels.oauth = oauthPanel(integration, box, reconnect);
  const premiumNote = !reconnect && integration.status === 'premium' && state.user?.plan !== 'premium'
    ? h('p', { class: 'dialog__premium' }, icon('star', { size: 16 }), `${integration.name} is part of the Premium plan. On the free plan the connection will be refused.`)
    : null;
  const comingSoon = !reconnect && integration.status === 'coming-soon'
    ? h('p', { class: 'dialog__premium' }, icon('clock', { size: 16 }), `${integration.name} is coming soon and can’t be connected yet.`)
    : null;

  render(d,
    h('div', { class: 'dialog__head' },
      integrationIcon(integration.id, integration.name, 40),
      h('div', {},
        h('h2', { class: 'dialog__title', id: 'connect-title' }, `${reconnect ? 'Reconnect' : 'Connect'} ${integration.name}`),
        h('p', { class: 'dialog__subtitle' }, reconnect
          ? sentence(reconnect.statusReason) || `${integration.name} no longer accepts the stored sign-in.`
          : integration.description)),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', 'data-action': 'cancel', 'data-testid': 'connect-close' }, icon('close'))),
    premiumNote, comingSoon, box,
    hasKey && hasOAuth ? modeChooser(integration, panels) : null,
    panels.oauth || null, panels.key || null,
    !hasKey && !hasOAuth ? h('p', {}, `${integration.name} cannot be ${reconnect ? 'reconnected' : 'connected'} from this page.`) : null);
  d.showModal();
  const first = ['.modes input:checked', '.key-panel:not([hidden]) input', '.oauth-panel:not([hidden]) .btn--primary', '[data-testid="connect-close"]']
    .map((selector) => d.querySelector(selector)).find(Boolean);
  first?.focus();
}
