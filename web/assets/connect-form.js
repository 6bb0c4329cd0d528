// The key/token form of the connect dialog, rendered from an integration's credentialFields:
// labelled inputs (secret ones hidden, with a Show/Hide toggle), each field's pattern checked
// before submitting (its help is the message), and a place for errors next to each field.
// The sync options offer the API's interval choices (the catalog's syncIntervals), and only
// when connections made this way have something to sync.

import { h } from './dom.js';
import { icon } from './icons.js';
import * as fmt from './format.js';
import { intervalChoices, syncIntervals } from './store.js';

function compile(pattern) {
  if (!pattern) return null;
  try {
    return new RegExp(pattern);
  } catch {
    return null;
  }
}

function secretToggle(input, label) {
  const toggle = h('button', {
    type: 'button', class: 'field__toggle', 'aria-pressed': 'false', 'aria-controls': input.id,
    'aria-label': `Show ${label}`, 'data-testid': `toggle-${input.name}`,
  }, icon('eye', { size: 16 }), h('span', { 'aria-hidden': 'true' }, 'Show'));
  toggle.addEventListener('click', () => {
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    toggle.setAttribute('aria-pressed', String(show));
    toggle.setAttribute('aria-label', `${show ? 'Hide' : 'Show'} ${label}`);
    toggle.replaceChildren(icon(show ? 'eyeOff' : 'eye', { size: 16 }), h('span', { 'aria-hidden': 'true' }, show ? 'Hide' : 'Show'));
  });
  return toggle;
}

function credentialField(field) {
  const id = `cred-${field.name}`;
  const input = h('input', {
    id, name: field.name, type: field.secret ? 'password' : 'text', autocomplete: 'off',
    autocapitalize: 'off', spellcheck: 'false', required: true, class: 'input',
    'aria-describedby': `${id}-error ${id}-help`, 'data-testid': `field-${field.name}`,
  });
  return {
    field,
    input,
    regex: compile(field.pattern),
    error: h('p', { class: 'field__error', id: `${id}-error`, 'data-testid': `error-${field.name}`, hidden: true }),
    el: null,
  };
}

/**
 * Builds the form (withOptions: false leaves out name and sync options, e.g. when
 * reconnecting, where they stay as they are; syncs: false leaves out the sync options, for a
 * connection that only receives posts, such as an incoming webhook).
 * Returns { form, validate(), values(), settings(), showError(name, msg), clearErrors(), focus(name) }.
 */
export function credentialsForm(integration, { onSubmit, submitLabel = 'Connect', withOptions = true, syncs = true }) {
  const fields = (integration.credentialFields || []).map(credentialField);
  for (const f of fields) {
    f.el = h('div', { class: 'field' },
      h('label', { class: 'field__label', for: f.input.id }, f.field.label),
      h('div', { class: ['field__control', f.field.secret && 'field__control--secret'] },
        f.input, f.field.secret ? secretToggle(f.input, f.field.label) : null),
      f.error,
      f.field.help ? h('p', { class: 'field__help', id: `${f.input.id}-help` }, f.field.help) : null);
  }

  const displayName = h('input', {
    id: 'conn-display-name', name: 'displayName', type: 'text', class: 'input', maxlength: 80,
    placeholder: integration.name, autocomplete: 'off', 'data-testid': 'field-displayName',
    'aria-describedby': 'conn-display-name-help',
  });
  // The API's interval choices, its default selected. (Without them there is nothing to choose:
  // the service applies its default.)
  const allowed = syncIntervals();
  const choices = intervalChoices();
  const preferred = choices.includes(allowed?.defaultMinutes) ? allowed.defaultMinutes : choices[0];
  const autoSync = syncs ? h('input', { id: 'conn-auto-sync', type: 'checkbox', checked: true, 'data-testid': 'field-autoSync' }) : null;
  const every = syncs && choices.length
    ? h('select', { id: 'conn-interval', class: 'select', 'data-testid': 'field-syncInterval', 'aria-label': 'How often to sync' },
      choices.map((m) => h('option', { value: String(m), selected: m === preferred }, fmt.interval(m))))
    : null;
  if (autoSync && every) autoSync.addEventListener('change', () => { every.disabled = !autoSync.checked; });

  const submit = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'connect-submit' }, submitLabel);
  const form = h('form', { class: 'connect-form', novalidate: true, 'data-testid': 'connect-form' },
    fields.map((f) => f.el),
    !withOptions ? null : h('details', { class: 'connect-form__options', 'data-testid': 'connect-options' },
      h('summary', {}, syncs ? 'Name and sync options' : 'Name'),
      h('div', { class: 'field' },
        h('label', { class: 'field__label', for: displayName.id }, 'Name ', h('span', { class: 'field__optional' }, '(optional)')),
        displayName,
        h('p', { class: 'field__help', id: 'conn-display-name-help' }, 'How this connection is shown on your dashboard.')),
      !autoSync ? null : h('div', { class: 'field field--inline' },
        h('label', { class: 'checkbox', for: autoSync.id }, autoSync, 'Sync automatically'),
        every ? h('span', { class: 'field__inline-text', 'aria-hidden': 'true' }, 'every') : null,
        every)),
    h('div', { class: 'dialog__actions' }, h('button', { type: 'button', class: 'btn btn--secondary', 'data-action': 'cancel' }, 'Cancel'), submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onSubmit();
  });

  const byName = (name) => fields.find((f) => f.field.name === name);
  const api = {
    form,
    submit,
    fields,
    showError(name, message) {
      const f = byName(name);
      if (!f) return false;
      f.error.replaceChildren(icon('alert', { size: 15 }), h('span', {}, message));
      f.error.hidden = false;
      f.input.setAttribute('aria-invalid', 'true');
      return true;
    },
    clearErrors() {
      for (const f of fields) {
        f.error.hidden = true;
        f.error.replaceChildren();
        f.input.removeAttribute('aria-invalid');
      }
    },
    focus(name) {
      (byName(name) || fields[0])?.input.focus();
    },
    /** Checks every field; shows messages; returns the first invalid field's name or null. */
    validate() {
      let first = null;
      for (const f of fields) {
        const value = f.input.value.trim();
        let message = null;
        if (!value) message = `Please enter your ${f.field.label.toLowerCase()}.`;
        else if (f.regex && !f.regex.test(value)) message = `That doesn’t look like a valid ${f.field.label.toLowerCase()}. ${f.field.help || ''}`.trim();
        if (message) {
          api.showError(f.field.name, message);
          first = first || f.field.name;
        }
      }
      return first;
    },
    values: () => Object.fromEntries(fields.map((f) => [f.field.name, f.input.value.trim()])),
    /** The settings to send: never sync ones for a connection that cannot sync (the API refuses them). */
    settings() {
      const settings = {};
      if (autoSync) settings.autoSync = autoSync.checked;
      if (autoSync && every) settings.syncIntervalMinutes = Number(every.value);
      if (displayName.value.trim()) settings.displayName = displayName.value.trim();
      return settings;
    },
    /** The field a provider's rejection belongs to: the (first) secret one. */
    secretFieldName: () => (fields.find((f) => f.field.secret) || fields[fields.length - 1])?.field.name,
  };
  return api;
}
