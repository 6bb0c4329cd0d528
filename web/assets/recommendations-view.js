// "Suggested for you": the API's recommendations, each with its reason and a one-click
// Connect that opens that integration's connect flow.

import { h, render } from './dom.js';
import { errorBox, empty, loading } from './feedback.js';
import { icon, integrationIcon } from './icons.js';
import { openConnect } from './connect-dialog.js';
import { statusBadge } from './catalog-view.js';
import { categoryName, integration, loadRecommendations, on, state } from './store.js';

function suggestion(rec) {
  const full = integration(rec.integrationId);
  const comingSoon = rec.status === 'coming-soon';
  return h('li', { class: 'suggestion', 'data-testid': `recommendation-${rec.integrationId}` },
    integrationIcon(rec.integrationId, rec.name, 40),
    h('div', { class: 'suggestion__body' },
      h('p', { class: 'suggestion__title' },
        h('span', { class: 'suggestion__name' }, rec.name),
        rec.status && rec.status !== 'available' ? statusBadge(rec.status) : null),
      h('p', { class: 'suggestion__category' }, categoryName(rec.category)),
      h('p', { class: 'suggestion__reason' }, icon('sparkle', { size: 15 }), rec.reason)),
    comingSoon
      ? h('p', { class: 'card__note' }, 'Coming soon')
      : h('button', {
        type: 'button', class: 'btn btn--secondary btn--small', 'data-testid': `recommend-connect-${rec.integrationId}`,
        'data-key': `recommend:${rec.integrationId}`,
        disabled: !full, onClick: () => full && openConnect(full),
      }, 'Connect', h('span', { class: 'visually-hidden' }, ` ${rec.name}`)));
}

function draw() {
  const host = document.getElementById('recommendations');
  const { status, data, error } = state.recommendations;
  host.setAttribute('aria-busy', String(status === 'loading'));
  if (!data) {
    render(host, status === 'error'
      ? errorBox(error, 'We could not load suggestions', loadRecommendations, 'recommendations-error')
      : loading('Finding suggestions…'));
    return;
  }
  if (!data.length) {
    render(host, empty({ title: 'You have the essentials covered', text: 'We will suggest more tools as they become available.', iconName: 'check', testid: 'recommendations-empty' }));
    return;
  }
  const sorted = [...data].sort((a, b) => (b.score || 0) - (a.score || 0));
  render(host, h('ul', { class: 'suggestions', role: 'list' }, sorted.map(suggestion)));
  if (status === 'error') host.prepend(errorBox(error, 'We could not refresh suggestions', loadRecommendations, 'recommendations-error'));
}

export function mountRecommendations() {
  on('recommendations', draw);
  on('catalog', () => state.recommendations.data && draw());
}
