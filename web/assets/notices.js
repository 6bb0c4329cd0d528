// Page-level notices: dismissible messages at the top of the page (success, info, warning,
// error). Errors are announced assertively, the rest politely.

import { h } from './dom.js';
import { icon } from './icons.js';

const TONE_ICON = { success: 'check', info: 'info', warning: 'alert', error: 'alert' };

function region() {
  return document.getElementById('notices');
}

/**
 * Shows a notice; one with the same `key` is replaced. Returns a function that removes it.
 * actions: [{ label, onClick, testid }]
 */
export function notify({ tone = 'info', title, detail, actions = [], key, testid, focus = false }) {
  const host = region();
  if (key) host.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
  const remove = () => el.remove();
  const el = h('div', {
    class: ['notice', `notice--${tone}`],
    role: tone === 'error' ? 'alert' : 'status',
    'data-key': key,
    'data-testid': testid || 'notice',
    tabindex: focus ? '-1' : undefined,
  },
  h('span', { class: 'notice__icon' }, icon(TONE_ICON[tone])),
  h('div', { class: 'notice__body' },
    h('p', { class: 'notice__title' }, title),
    detail ? h('p', { class: 'notice__detail' }, detail) : null,
    actions.length ? h('div', { class: 'notice__actions' }, actions.map((a) => h('button', {
      type: 'button', class: 'btn btn--small btn--secondary', 'data-testid': a.testid,
      onClick: () => { a.onClick(); if (a.dismiss !== false) remove(); },
    }, a.label))) : null),
  h('button', {
    type: 'button', class: 'icon-btn notice__close', 'aria-label': 'Dismiss this message',
    'data-testid': 'notice-dismiss', onClick: remove,
  }, icon('close')));
  host.append(el);
  if (focus) el.focus();
  return remove;
}

export function dismiss(key) {
  region().querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
}
