// A connection's health as a small badge: "OK", "Attention" or "Action needed", with the
// reasons the API gives as its tooltip and accessible description.

import { h } from './dom.js';

const LABELS = { ok: 'OK', attention: 'Attention', 'action-needed': 'Action needed' };

/** The badge of one connection row; `show(connection)` updates it in place. */
export function createHealthBadge(testid) {
  const el = h('span', { class: 'health-badge', 'data-testid': testid });
  return {
    el,
    show(connection) {
      const health = connection.health;
      el.hidden = !health;
      if (!health) return;
      el.className = `health-badge health-badge--${health.status}`;
      el.textContent = LABELS[health.status] || health.status;
      el.dataset.health = health.status;
      const why = (health.reasons || []).join('. ');
      el.title = why;
      el.setAttribute('aria-label', `Health: ${el.textContent}${why ? `. ${why}` : ''}`);
    },
  };
}
