// The Integrations API client: same-origin, bearer token, problem+json errors.
// A 401 signs in again once and retries; a second 401 becomes a "session-expired" error.

import { getToken, reauthenticate } from './auth.js';
import { ApiError, errorFromResponse, networkError } from './problem.js';

export const BASE = '/api/v1/integrations';

async function send(method, path, body, token) {
  const headers = { Accept: 'application/json, application/problem+json', Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    return await fetch(`${BASE}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      // Same-origin cookies are stored and sent: POST /connect for a sign-in sets the cookie
      // that binds the provider's sign-in to this browser (checked by the OAuth callback).
      credentials: 'same-origin',
    });
  } catch {
    throw networkError();
  }
}

function sessionExpired() {
  return new ApiError({
    status: 401,
    type: 'session-expired',
    title: 'Your session has ended',
    detail: 'We tried to sign you in again but it did not work. Please sign in again.',
  });
}

/** Calls the API; resolves to the parsed JSON (null for 204) or throws an ApiError. */
export async function request(method, path, body) {
  let response = await send(method, path, body, await getToken());
  if (response.status === 401) {
    const token = await reauthenticate();
    if (!token) throw sessionExpired();
    response = await send(method, path, body, token);
    if (response.status === 401) throw sessionExpired();
  }
  if (!response.ok) throw await errorFromResponse(response);
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError({
      status: response.status,
      type: 'bad-response',
      title: 'The server sent something unexpected',
      detail: 'Please reload the page and try again.',
    });
  }
}

const id = encodeURIComponent;

export const api = {
  available: (category) => request('GET', `/available${category ? `?category=${id(category)}` : ''}`),
  connected: () => request('GET', '/connected'),
  stats: () => request('GET', '/stats'),
  recommendations: () => request('GET', '/recommendations'),
  /** How each provider answered over the last hour: { providers: [{ integrationId, name, status, message }] }. */
  health: () => request('GET', '/health'),
  /** Connect with { integrationId, credentials?, settings?, returnUrl? }; with connectionId, reconnect that one. */
  connect: (body) => request('POST', '/connect', body),
  connection: (connectionId) => request('GET', `/${id(connectionId)}`),
  update: (connectionId, changes) => request('PATCH', `/${id(connectionId)}`, changes),
  disconnect: (connectionId) => request('DELETE', `/${id(connectionId)}`),
  sync: (connectionId, mode = 'incremental') => request('POST', `/${id(connectionId)}/sync`, { mode }),
  syncs: (connectionId, cursor) => request(
    'GET',
    `/${id(connectionId)}/syncs?limit=10${cursor ? `&cursor=${id(cursor)}` : ''}`,
  ),
  syncRun: (connectionId, syncId) => request('GET', `/${id(connectionId)}/syncs/${id(syncId)}`),
  /** The open tasks, meetings, mentions and changed files of the next `days` days, by day in `tz`. */
  agenda: (days, tz) => request('GET', `/agenda?days=${id(days)}&tz=${id(tz)}`),
  /** Synced items: { q, kind, integrationId, connectionId, mentionsMe, sort, limit, cursor, … } (empty ones left out). */
  items: (params = {}) => {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
    return request('GET', `/items${query ? `?${query}` : ''}`);
  },
  item: (itemId) => request('GET', `/items/${id(itemId)}`),
  automations: () => request('GET', '/automations'),
  /** Saves a new automation ({ name, enabled, trigger, conditions, steps }). */
  createAutomation: (definition) => request('POST', '/automations', definition),
  replaceAutomation: (automationId, definition) => request('PUT', `/automations/${id(automationId)}`, definition),
  /** Changes { name, enabled } of one automation. */
  updateAutomation: (automationId, changes) => request('PATCH', `/automations/${id(automationId)}`, changes),
  deleteAutomation: (automationId) => request('DELETE', `/automations/${id(automationId)}`),
  runAutomation: (automationId) => request('POST', `/automations/${id(automationId)}/run`),
  /** What a saved automation would do now. */
  dryRunAutomation: (automationId) => request('POST', `/automations/${id(automationId)}/dry-run`),
  /** What an unsaved definition would do now (also checks it). */
  dryRun: (definition) => request('POST', '/automations/dry-run', definition),
  automationRuns: (automationId) => request('GET', `/automations/${id(automationId)}/runs`),
  automationTemplates: () => request('GET', '/automation-templates'),
};
