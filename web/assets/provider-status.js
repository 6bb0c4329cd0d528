// A line at the top of the page when a provider is failing or slow (GET /health: the last hour
// of every provider, from the sync worker's rollups), so a manager knows a delay is not theirs.

import { api } from './api.js';
import { notify } from './notices.js';

let dismissed = '';

export async function loadProviderStatus() {
  let report;
  try {
    report = await api.health();
  } catch {
    return; // The status line is a courtesy: without it the page works as before.
  }
  const degraded = (report.providers || []).filter((p) => p.status === 'degraded');
  document.querySelector('[data-key="provider-status"]')?.remove();
  const key = degraded.map((p) => p.integrationId).join(',');
  if (!degraded.length || key === dismissed) return;
  notify({
    tone: 'warning',
    key: 'provider-status',
    testid: 'notice-provider-status',
    title: degraded.length === 1
      ? `${degraded[0].name} is having problems`
      : `${degraded.map((p) => p.name).join(', ')} are having problems`,
    detail: degraded.map((p) => p.message).join(' '),
    actions: [{ label: 'Got it', testid: 'provider-status-dismiss', onClick: () => { dismissed = key; } }],
  });
}
