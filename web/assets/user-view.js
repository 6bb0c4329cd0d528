// The signed-in user in the header.

import { h, render } from './dom.js';
import { initials } from './format.js';

const PLAN = { free: 'Free plan', premium: 'Premium plan' };

export function showUser(user) {
  const host = document.getElementById('user');
  render(host,
    h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(user.name || user.id)),
    h('span', { class: 'user__text' },
      h('span', { class: 'visually-hidden' }, 'Signed in as '),
      h('span', { class: 'user__name', 'data-testid': 'user-name' }, user.name || user.id),
      user.plan ? h('span', { class: 'user__plan' }, PLAN[user.plan] || user.plan) : null));
}

export function showSignedOut(message) {
  render(document.getElementById('user'), h('span', { class: 'user__loading' }, message));
}
