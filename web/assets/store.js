// The page's data, loaded from the API, and who to tell when it changes.
// Each resource is { status: 'idle'|'loading'|'ready'|'error', data, error }.

import { api } from './api.js';

const resource = () => ({ status: 'idle', data: null, error: null });

export const state = {
  user: null,
  catalog: resource(), // { categories, integrations, syncIntervals }
  connections: resource(), // [Connection]
  stats: resource(),
  recommendations: resource(), // [Recommendation]
  agenda: resource(), // { timeZone, from, to, overdue: [Item], days: [{ date, tasks, meetings, mentions, files }] }
  automations: resource(), // [Automation]
  templates: resource(), // [AutomationTemplate], filled in with the user's connections
};

const listeners = new Map();

/** Calls fn(value) whenever state[key] changes. */
export function on(key, fn) {
  if (!listeners.has(key)) listeners.set(key, new Set());
  listeners.get(key).add(fn);
}

export function set(key, value) {
  state[key] = value;
  for (const fn of listeners.get(key) || []) fn(value);
}

// The latest load of each resource: an answer to an older one that arrives later is dropped.
const latest = new Map();

async function load(key, fetcher) {
  const ticket = (latest.get(key) || 0) + 1;
  latest.set(key, ticket);
  set(key, { ...state[key], status: 'loading' });
  try {
    const data = await fetcher();
    if (latest.get(key) === ticket) set(key, { status: 'ready', data, error: null });
  } catch (error) {
    if (latest.get(key) === ticket) set(key, { status: 'error', data: state[key].data, error });
  }
}

export const loadCatalog = () => load('catalog', () => api.available());
export const loadConnections = () => load('connections', async () => (await api.connected()).connections || []);
export const loadStats = () => load('stats', () => api.stats());
/** The browser's IANA time zone (the week's days are this zone's days). */
export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
/** How many days "Your week" shows, today first. */
export const WEEK_DAYS = 7;
export const loadAgenda = () => load('agenda', () => api.agenda(WEEK_DAYS, timeZone()));
export const loadRecommendations = () => load('recommendations', async () => (await api.recommendations()).recommendations || []);

export const loadAutomations = () => load('automations', async () => (await api.automations()).automations || []);
export const loadTemplates = () => load('templates', async () => (await api.automationTemplates()).templates || []);

/** Puts a fresh copy of one automation into the list (added or replaced). */
export function putAutomation(automation) {
  const list = [...(state.automations.data || [])];
  const at = list.findIndex((a) => a.automationId === automation.automationId);
  if (at >= 0) list[at] = automation;
  else list.push(automation);
  set('automations', { status: 'ready', data: list, error: null });
}

export function dropAutomation(automationId) {
  const list = (state.automations.data || []).filter((a) => a.automationId !== automationId);
  set('automations', { ...state.automations, data: list });
}

/** After connecting, disconnecting or syncing: the numbers and suggestions change too. */
export function refreshSummary() {
  return Promise.all([loadStats(), loadRecommendations()]);
}

export function integration(id) {
  return state.catalog.data?.integrations?.find((i) => i.id === id) || null;
}

export function categoryName(id) {
  return state.catalog.data?.categories?.find((c) => c.id === id)?.name || id;
}

/**
 * The sync intervals the API allows, from the catalog's `syncIntervals`:
 * { minMinutes, maxMinutes, defaultMinutes, choices }, or null before the catalog is loaded.
 */
export function syncIntervals() {
  return state.catalog.data?.syncIntervals || null;
}

/**
 * The interval choices to offer, in minutes, ascending: the API's choices, plus `current` when a
 * connection has a value that is not (or no longer) one of them, so the select shows the truth.
 */
export function intervalChoices(current = null) {
  const choices = (syncIntervals()?.choices || []).filter((m) => Number.isFinite(m) && m > 0);
  if (Number.isFinite(current) && !choices.includes(current)) choices.push(current);
  return [...new Set(choices)].sort((a, b) => a - b);
}

/**
 * Whether connections made with `authMode` ('oauth2' | 'api_key') have data to sync: the
 * integration's `capabilities.sync`. (A Teams incoming webhook or a Zapier Catch Hook only
 * receives posts.) Without capabilities the page assumes they do.
 */
export function modeSyncs(integrationEntry, authMode) {
  const modes = integrationEntry?.capabilities?.sync;
  return Array.isArray(modes) ? modes.includes(authMode) : true;
}

/** Whether a connection has anything to sync (its `canSync`; absent means it does). */
export const canSync = (connection) => connection?.canSync !== false;

export function connectionsFor(integrationId) {
  return (state.connections.data || []).filter((c) => c.integrationId === integrationId);
}

/** Puts a fresh copy of one connection into the list (added or replaced). */
export function putConnection(connection) {
  const list = [...(state.connections.data || [])];
  const at = list.findIndex((c) => c.connectionId === connection.connectionId);
  if (at >= 0) list[at] = connection;
  else list.push(connection);
  set('connections', { status: 'ready', data: list, error: null });
}

export function dropConnection(connectionId) {
  const list = (state.connections.data || []).filter((c) => c.connectionId !== connectionId);
  set('connections', { ...state.connections, data: list });
}
