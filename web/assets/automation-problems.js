// An automations problem in words, as an inline alert. A 409 `/problems/scope-missing` (the
// connection lacks a write scope the automation needs) gets a button with the API's `consent`
// sentence ("Allow Director of One to create events") that goes to the provider's consent page.

import { h } from './dom.js';
import { icon } from './icons.js';
import { describe } from './problem.js';
import { scopeMissing } from './automations-model.js';
import { rememberOAuthStart } from './oauth-return.js';
import { state } from './store.js';

export function problemBox(error, context, testid = 'automation-error') {
  const consent = scopeMissing(error);
  const message = describe(error, consent ? null : context);
  const action = consent
    ? h('a', {
      class: 'btn btn--small btn--primary',
      href: consent.url,
      'data-testid': 'scope-consent',
      // Back from the provider, the page says the connection was renewed (as Reconnect does).
      onClick: () => {
        const connection = (state.connections.data || []).find((c) => c.connectionId === consent.connectionId);
        if (connection) rememberOAuthStart({ integrationId: connection.integrationId, connectionId: connection.connectionId });
      },
    }, consent.label)
    : null;
  return h('div', { class: 'inline-error', role: 'alert', 'data-testid': consent ? 'scope-missing' : testid },
    h('span', { class: 'inline-error__icon' }, icon(consent ? 'lock' : 'alert')),
    h('div', {},
      h('p', { class: 'inline-error__lead' }, message.lead),
      message.detail ? h('p', { class: 'inline-error__detail' }, message.detail) : null,
      action ? h('p', { class: 'inline-error__actions' }, action) : null));
}
