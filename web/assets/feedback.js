// Shared pieces for a section's states: loading, empty and "this failed, try again".

import { h } from './dom.js';
import { icon } from './icons.js';
import { describe } from './problem.js';

export function loading(text) {
  return h('p', { class: 'placeholder', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** An inline error: what failed (context), the API's words, and a Try again button. */
export function errorBox(error, context, onRetry, testid = 'error') {
  const message = describe(error, context);
  return h('div', { class: 'inline-error', role: 'alert', 'data-testid': testid },
    h('span', { class: 'inline-error__icon' }, icon('alert')),
    h('div', {},
      h('p', { class: 'inline-error__lead' }, message.lead),
      message.detail ? h('p', { class: 'inline-error__detail' }, message.detail) : null,
      onRetry ? h('button', { type: 'button', class: 'btn btn--small btn--secondary', onClick: onRetry }, 'Try again') : null));
}

export function empty({ title, text, iconName = 'sparkle', action = null, testid }) {
  return h('div', { class: 'empty', 'data-testid': testid },
    h('span', { class: 'empty__icon' }, icon(iconName, { size: 22 })),
    h('p', { class: 'empty__title' }, title),
    text ? h('p', { class: 'empty__text' }, text) : null,
    action);
}
