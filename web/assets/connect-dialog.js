// The connect dialog (a modal <dialog>: focus stays inside, Escape closes, focus returns to
// the button that opened it). API-key integrations get the credentials form; OAuth ones a
// "Sign in with X" button that sends the browser to the provider.

import { api } from './api.js';
import { h, render } from './dom.js';
import { icon, integrationIcon } from './icons.js';
import { restartSignIn } from './auth.js';
import { credentialsForm } from './connect-form.js';
import { notify } from './notices.js';
import { describe } from './problem.js';
import { loadConnections, putConnection, refreshSummary, state } from './store.js';

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
function explain(error, integration, form, box) {
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
    showSummary(box, { lead: `${integration.name} did not accept these details`, detail: 'Check the highlighted field and try again. Nothing was connected.' });
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
  const message = describe(error, form ? null : 'Sign-in could not start');
  const extra = k === 'plan-limit-reached' ? ' Disconnect a tool you no longer use, or upgrade to Premium for more.' : '';
  showSummary(box, { lead: message.lead, detail: `${message.detail || ''}${extra}`.trim() });
}

function focusConnection(connectionId) {
  document.dispatchEvent(new CustomEvent('connection:focus', { detail: { connectionId } }));
}

async function submitCredentials(integration, form, box) {
  box.hidden = true;
  form.clearErrors();
  const invalid = form.validate();
  if (invalid) {
    showSummary(box, { lead: 'Please check the highlighted field', detail: null });
    form.focus(invalid);
    return;
  }
  setBusy(form.submit, true, 'Connecting…');
  try {
    const connection = await api.connect({ integrationId: integration.id, credentials: form.values(), settings: form.settings() });
    busy = false;
    dialog.close();
    putConnection(connection);
    refreshSummary();
    notify({ tone: 'success', key: `connected-${integration.id}`, testid: 'notice-connected', title: `${connection.displayName || integration.name} is connected`, detail: 'Run your first sync from “Your tools” whenever you are ready.' });
    focusConnection(connection.connectionId);
  } catch (error) {
    explain(error, integration, form, box);
  } finally {
    if (dialog.open) setBusy(form.submit, false);
  }
}

async function startOAuth(integration, button, box) {
  box.hidden = true;
  setBusy(button, true, `Opening ${integration.name}…`);
  try {
    const answer = await api.connect({ integrationId: integration.id, returnUrl: '/integrations' });
    if (answer?.authorizationUrl) {
      window.location.assign(answer.authorizationUrl);
      return; // The page is going away; stay busy.
    }
    showSummary(box, { lead: 'Sign-in could not start', detail: 'The service did not say where to sign in. Please try again later.' });
  } catch (error) {
    explain(error, integration, null, box);
  }
  setBusy(button, false);
}

function oauthPanel(integration, box) {
  const button = h('button', { type: 'button', class: 'btn btn--primary', 'data-testid': 'oauth-signin' },
    icon('arrowRight'), `Sign in with ${integration.name}`);
  button.addEventListener('click', () => startOAuth(integration, button, box));
  return h('div', { class: 'oauth-panel' },
    h('p', {}, `You will go to ${integration.name} to approve access, then come straight back here. We never see your ${integration.name} password.`),
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
  const fieldsLabel = (integration.credentialFields || []).map((f) => f.label.toLowerCase()).join(' and ');
  choose('oauth');
  return h('fieldset', { class: 'modes' },
    h('legend', { class: 'modes__legend' }, 'How would you like to connect?'),
    option('oauth', `Sign in with ${integration.name}`, 'Recommended — quickest, nothing to copy.', true),
    option('key', `Use a ${fieldsLabel || 'key'}`, 'For admins who already have one.', false));
}

/** Opens the connect flow for an integration. `reconnect`: the connection that needs it. */
export function openConnect(integration, { reconnect = null } = {}) {
  const d = ensureDialog();
  opener = document.activeElement;
  busy = false;
  const modes = integration.authModes || [];
  const hasKey = modes.includes('api_key') && (integration.credentialFields || []).length > 0;
  const hasOAuth = modes.includes('oauth2');
  const box = summaryBox();
  const panels = {};
  let form = null;
  if (hasKey) {
    form = credentialsForm(integration, { onSubmit: () => submitCredentials(integration, form, box) });
    panels.key = h('div', { class: 'key-panel' }, form.form);
  }
  if (hasOAuth) panels.oauth = oauthPanel(integration, box);
  const premiumNote = integration.status === 'premium' && state.user?.plan !== 'premium'
    ? h('p', { class: 'dialog__premium' }, icon('star', { size: 16 }), `${integration.name} is part of the Premium plan. On the free plan the connection will be refused.`)
    : null;
  const comingSoon = integration.status === 'coming-soon'
    ? h('p', { class: 'dialog__premium' }, icon('clock', { size: 16 }), `${integration.name} is coming soon and can’t be connected yet.`)
    : null;

  render(d,
    h('div', { class: 'dialog__head' },
      integrationIcon(integration.id, integration.name, 40),
      h('div', {},
        h('h2', { class: 'dialog__title', id: 'connect-title' }, `${reconnect ? 'Reconnect' : 'Connect'} ${integration.name}`),
        h('p', { class: 'dialog__subtitle' }, reconnect?.statusReason || integration.description)),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', 'data-action': 'cancel', 'data-testid': 'connect-close' }, icon('close'))),
    premiumNote, comingSoon, box,
    hasKey && hasOAuth ? modeChooser(integration, panels) : null,
    panels.oauth || null, panels.key || null,
    !hasKey && !hasOAuth ? h('p', {}, `${integration.name} cannot be connected from here yet.`) : null);
  d.showModal();
  const first = ['.modes input:checked', '.key-panel:not([hidden]) input', '.oauth-panel:not([hidden]) .btn--primary', '[data-testid="connect-close"]']
    .map((selector) => d.querySelector(selector)).find(Boolean);
  first?.focus();
}
