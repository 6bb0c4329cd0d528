// What the automations builder offers and how its answers read, with no DOM: the triggers, the
// item fields conditions can test (shared/src/automations/condition.rs) and the tests each
// field's type allows, each action's fields (the providers' ActionSpecs), a definition from the
// builder's draft and back, and problems in words (`at` locations, the 409 scope-missing).

export const KINDS = [
  { id: 'task', label: 'Task', plural: 'tasks' },
  { id: 'event', label: 'Meeting', plural: 'meetings' },
  { id: 'message', label: 'Message', plural: 'messages' },
  { id: 'file', label: 'File', plural: 'files' },
  { id: 'page', label: 'Page', plural: 'pages' },
];

export const TRIGGERS = [
  { id: 'item.created', label: 'A new item comes in' },
  { id: 'item.updated', label: 'An item changes' },
  { id: 'item.due_soon', label: 'An item is due soon' },
  { id: 'schedule', label: 'On a schedule' },
];

export const DAYS = [
  { id: 'mon', label: 'Mon' }, { id: 'tue', label: 'Tue' }, { id: 'wed', label: 'Wed' },
  { id: 'thu', label: 'Thu' }, { id: 'fri', label: 'Fri' }, { id: 'sat', label: 'Sat' }, { id: 'sun', label: 'Sun' },
];

/** Item fields a condition can test: `kind` null means every kind has it. */
export const FIELDS = [
  { id: 'title', label: 'Title', type: 'text', kind: null },
  { id: 'status', label: 'Status', type: 'text', kind: null },
  { id: 'container', label: 'Board, channel or folder', type: 'text', kind: null },
  { id: 'integrationId', label: 'Tool', type: 'text', kind: null },
  { id: 'dueAt', label: 'Due', type: 'time', kind: null },
  { id: 'startAt', label: 'Starts', type: 'time', kind: null },
  { id: 'updatedAt', label: 'Last changed', type: 'time', kind: null },
  { id: 'task.list', label: 'List', type: 'text', kind: 'task' },
  { id: 'task.labels', label: 'Labels', type: 'list', kind: 'task' },
  { id: 'task.assignees', label: 'Assignees', type: 'list', kind: 'task' },
  { id: 'task.done', label: 'Done', type: 'flag', kind: 'task' },
  { id: 'event.location', label: 'Location', type: 'text', kind: 'event' },
  { id: 'event.allDay', label: 'All day', type: 'flag', kind: 'event' },
  { id: 'event.myResponse', label: 'My response', type: 'text', kind: 'event' },
  { id: 'message.author', label: 'Author', type: 'text', kind: 'message' },
  { id: 'message.channel', label: 'Channel', type: 'text', kind: 'message' },
  { id: 'message.mentionsMe', label: 'Mentions me', type: 'flag', kind: 'message' },
  { id: 'message.repliedByMe', label: 'I replied', type: 'flag', kind: 'message' },
  { id: 'file.mimeType', label: 'File type', type: 'text', kind: 'file' },
  { id: 'file.owner', label: 'Owner', type: 'text', kind: 'file' },
  { id: 'file.lastModifiedBy', label: 'Last changed by', type: 'text', kind: 'file' },
  { id: 'file.modifiedByMe', label: 'Changed by me', type: 'flag', kind: 'file' },
  { id: 'page.parent', label: 'Parent page', type: 'text', kind: 'page' },
];

export const OPERATORS = {
  equals: { label: 'is', input: 'value' },
  contains: { label: 'contains', input: 'value' },
  in: { label: 'is one of', input: 'values' },
  labelHas: { label: 'has the label', input: 'value' },
  isEmpty: { label: 'is empty', input: null },
  isNotEmpty: { label: 'is not empty', input: null },
  before: { label: 'is before', input: 'offset' },
  after: { label: 'is after', input: 'offset' },
};

/** The tests that make sense on a field's type (the API refuses the others). */
export const OPERATORS_BY_TYPE = {
  text: ['equals', 'contains', 'in', 'isEmpty', 'isNotEmpty'],
  list: ['labelHas', 'contains', 'equals', 'in', 'isEmpty', 'isNotEmpty'],
  flag: ['equals'],
  time: ['before', 'after', 'isEmpty', 'isNotEmpty'],
};

export const field = (id) => FIELDS.find((f) => f.id === id) || null;

/** The fields a trigger's kind has (every field for a schedule, which has no item). */
export const fieldsFor = (kind) => FIELDS.filter((f) => !kind || !f.kind || f.kind === kind);

export const operatorsFor = (fieldId) => OPERATORS_BY_TYPE[field(fieldId)?.type || 'text'];

/**
 * Each action's fields, as the providers declare them: `{ name, label, required, hint }`.
 * Which integration runs an action comes from the catalog (`capabilities.actions`).
 */
export const ACTIONS = {
  'calendar.insertEvent': {
    label: 'Add an event to Google Calendar',
    params: [
      { name: 'summary', label: 'Title', required: true },
      { name: 'start', label: 'Start', required: true, hint: 'A time, e.g. {{ item.dueAt | shift_hours(-1) }}' },
      { name: 'end', label: 'End', required: true, hint: 'A time, e.g. {{ item.dueAt }}' },
      { name: 'timeZone', label: 'Time zone', required: false, hint: 'IANA, e.g. Europe/Paris' },
      { name: 'description', label: 'Description', required: false, multiline: true },
      { name: 'calendarId', label: 'Calendar', required: false, hint: 'Your primary calendar when left empty' },
    ],
  },
  'slack.postMessage': {
    label: 'Post a message in Slack',
    params: [
      { name: 'channel', label: 'Channel', required: true, hint: 'A channel id or #name' },
      { name: 'text', label: 'Message', required: true, multiline: true },
    ],
  },
  'slack.postAgenda': {
    label: "Post my day's agenda in Slack",
    params: [
      { name: 'channel', label: 'Channel', required: true, hint: 'A channel id or #name' },
      { name: 'intro', label: 'First line', required: false },
    ],
  },
  'teams.postCard': {
    label: 'Post a card in a Teams channel',
    params: [
      { name: 'title', label: 'Title', required: true },
      { name: 'text', label: 'Text', required: true, multiline: true },
    ],
  },
  'teams.postChannelMessage': {
    label: 'Post a message in a Teams channel',
    params: [
      { name: 'teamId', label: 'Team id', required: true },
      { name: 'channelId', label: 'Channel id', required: true },
      { name: 'text', label: 'Message', required: true, multiline: true },
    ],
  },
  'teams.postAgenda': {
    label: "Post my day's agenda in Teams",
    params: [{ name: 'intro', label: 'First line', required: false }],
  },
  'trello.createCard': {
    label: 'Create a Trello card',
    params: [
      { name: 'listId', label: 'List id', required: true, hint: 'The list the card goes in' },
      { name: 'name', label: 'Name', required: true },
      { name: 'due', label: 'Due', required: false, hint: 'A time, e.g. {{ item.dueAt }}' },
      { name: 'desc', label: 'Description', required: false, multiline: true },
    ],
  },
  'trello.addComment': {
    label: 'Comment on a Trello card',
    params: [
      { name: 'cardId', label: 'Card id', required: true },
      { name: 'text', label: 'Comment', required: true, multiline: true },
    ],
  },
  'trello.moveCard': {
    label: 'Move a Trello card',
    params: [
      { name: 'cardId', label: 'Card id', required: true },
      { name: 'listId', label: 'List id', required: true, hint: 'The list it moves to' },
    ],
  },
  'asana.createTask': {
    label: 'Create an Asana task',
    params: [
      { name: 'projectId', label: 'Project id', required: true },
      { name: 'name', label: 'Name', required: true },
      { name: 'dueOn', label: 'Due on', required: false, hint: 'YYYY-MM-DD' },
      { name: 'notes', label: 'Notes', required: false, multiline: true },
    ],
  },
  'notion.createPage': {
    label: 'Create a page in a Notion database',
    params: [
      { name: 'databaseId', label: 'Database id', required: true },
      { name: 'title', label: 'Title', required: true },
    ],
  },
  'zapier.catchHook': {
    label: 'Start a Zap (Catch Hook)',
    params: [{ name: 'note', label: 'Note', required: false }],
  },
  'webhook.post': {
    label: 'Send a signed webhook',
    params: [{ name: 'url', label: 'HTTPS URL', required: true }],
  },
};

export const actionLabel = (id) => ACTIONS[id]?.label || id;

/** The integration whose connection runs an action (from the catalog), or null (webhook). */
export function actionIntegration(catalog, actionId) {
  return catalog?.integrations?.find((i) => i.capabilities?.actions?.includes(actionId))?.id || null;
}

/** The actions the catalog offers (coming-soon integrations too: they are tested), then the built-in. */
export function actionChoices(catalog) {
  const list = [];
  for (const i of catalog?.integrations || []) {
    for (const id of i.capabilities?.actions || []) list.push({ id, integrationId: i.id, integration: i.name, label: actionLabel(id) });
  }
  list.push({ id: 'webhook.post', integrationId: null, integration: 'Webhook', label: actionLabel('webhook.post') });
  return list;
}

// ---------- Draft ⇄ definition ----------

const DEFAULT_TRIGGER = { type: 'item.created', kind: 'task', connectionId: '', hours: 24, timeZone: 'UTC', every: 'daily', at: '08:30', days: ['mon', 'tue', 'wed', 'thu', 'fri'], day: 'mon', cron: '' };

/** A builder draft from a definition (a template's or a saved automation's). */
export function draftFrom(definition = {}, timeZone = 'UTC') {
  const t = definition.trigger || {};
  const trigger = { ...DEFAULT_TRIGGER, timeZone, ...t };
  trigger.connectionId = t.connectionId || '';
  trigger.days = Array.isArray(t.days) ? [...t.days] : t.type === 'schedule' ? [] : [...DEFAULT_TRIGGER.days];
  return {
    name: definition.name || '',
    trigger,
    match: definition.conditions?.match || 'all',
    rules: (definition.conditions?.rules || []).map((r) => ({
      field: r.field,
      op: r.op,
      value: r.value === undefined ? '' : r.value,
      values: Array.isArray(r.values) ? r.values.join(', ') : '',
      days: r.days ?? '',
      hours: r.hours ?? '',
    })),
    steps: (definition.steps || []).map((s) => ({
      action: s.action,
      connectionId: s.connectionId || '',
      params: { ...(s.params || {}) },
      onFailure: s.onFailure || 'stop',
    })),
  };
}

const int = (v) => (v === '' || v === null || v === undefined ? undefined : Number(v));

function rule(r) {
  const out = { field: r.field, op: r.op };
  const input = OPERATORS[r.op]?.input;
  if (input === 'value') {
    out.value = field(r.field)?.type === 'flag' ? r.value === true || r.value === 'true' : String(r.value ?? '');
  } else if (input === 'values') {
    out.values = String(r.values || '').split(',').map((v) => v.trim()).filter(Boolean);
  } else if (input === 'offset') {
    if (int(r.days) !== undefined) out.days = int(r.days);
    if (int(r.hours) !== undefined) out.hours = int(r.hours);
  }
  return out;
}

function trigger(t) {
  if (t.type === 'schedule') {
    const out = { type: 'schedule', timeZone: t.timeZone || 'UTC', every: t.every };
    if (t.every === 'daily') Object.assign(out, { at: t.at, days: t.days || [] });
    else if (t.every === 'weekly') Object.assign(out, { day: t.day, at: t.at });
    else out.cron = t.cron || '';
    return out;
  }
  const out = { type: t.type, kind: t.kind };
  if (t.connectionId) out.connectionId = t.connectionId;
  if (t.type === 'item.due_soon') out.hours = int(t.hours) ?? 0;
  return out;
}

/** The definition the API takes, from a builder draft. */
export function definitionFrom(draft, enabled = false) {
  return {
    name: draft.name,
    enabled,
    trigger: trigger(draft.trigger),
    conditions: { match: draft.match, rules: draft.rules.map(rule) },
    steps: draft.steps.map((s) => {
      const step = { action: s.action, params: Object.fromEntries(Object.entries(s.params).filter(([, v]) => v !== '' && v !== undefined)) };
      if (s.connectionId) step.connectionId = s.connectionId;
      if (s.onFailure && s.onFailure !== 'stop') step.onFailure = s.onFailure;
      return step;
    }),
  };
}

/** A blank step for an action: its fields empty. */
export function blankStep(actionId, connectionId = '') {
  return { action: actionId, connectionId, params: Object.fromEntries((ACTIONS[actionId]?.params || []).map((p) => [p.name, ''])), onFailure: 'stop' };
}

// ---------- Problems in words ----------

/**
 * Where an `invalid-automation` problem points, in words and as a builder key:
 * "steps[2].params.text" → { key: 'steps.2.params.text', words: 'Step 2, Message' }.
 * Conditions name their rule in the detail ("condition 3: …").
 */
export function locate(at, detail = '', draft = null) {
  const raw = String(at || '');
  let m = raw.match(/^steps\[(\d+)\]\.params\.([A-Za-z0-9_]+)$/);
  if (m) {
    const step = Number(m[1]);
    const action = draft?.steps?.[step - 1]?.action;
    const label = ACTIONS[action]?.params.find((p) => p.name === m[2])?.label || m[2];
    return { key: `steps.${step}.params.${m[2]}`, words: `Step ${step}, ${label}` };
  }
  m = raw.match(/^steps\[(\d+)\](?:\.(action|connectionId|params))?$/);
  if (m) {
    const what = { action: 'action', connectionId: 'connection', params: 'fields' }[m[2]];
    return { key: `steps.${m[1]}${m[2] ? `.${m[2]}` : ''}`, words: `Step ${m[1]}${what ? `, ${what}` : ''}` };
  }
  if (raw === 'conditions') {
    const n = String(detail).match(/condition (\d+):/);
    return n ? { key: `rules.${n[1]}`, words: `Condition ${n[1]}` } : { key: 'conditions', words: 'Conditions' };
  }
  if (raw.startsWith('trigger')) {
    const part = raw.split('.')[1];
    return { key: part ? `trigger.${part}` : 'trigger', words: part === 'hours' ? 'Trigger, hours before' : part === 'connectionId' ? 'Trigger, connection' : 'Trigger' };
  }
  if (raw === 'name') return { key: 'name', words: 'Name' };
  if (raw === 'steps') return { key: 'steps', words: 'Steps' };
  return { key: raw || null, words: raw };
}

/** The reason part of an `invalid-automation` detail ("steps[1].params.summary: is required" → "is required"). */
export function reason(detail, at) {
  const text = String(detail || '');
  return at && text.startsWith(`${at}: `) ? text.slice(at.length + 2) : text;
}

/**
 * A 409 `/problems/scope-missing`: the connection lacks a write scope. Resolves to
 * { label, url, connectionId, scope } for a button that asks the provider for it, or null.
 * The URL must be an absolute http(s) address (the provider's authorization page).
 */
export function scopeMissing(error) {
  if (!error || error.status !== 409 || error.kind !== 'scope-missing') return null;
  const { reconsentUrl, consent, connectionId, scope } = error.extensions || {};
  let url;
  try {
    url = new URL(String(reconsentUrl));
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const label = typeof consent === 'string' && consent.trim() ? consent.trim() : 'Allow Director of One to do this';
  return { label, url: url.href, connectionId: connectionId || null, scope: scope || null };
}

/** "Created an event in Google Calendar" ×3 → "Created an event in Google Calendar (3 times)". */
export function receiptLines(runs) {
  const counts = new Map();
  for (const run of runs || []) {
    for (const step of run.steps || []) {
      if (step.status !== 'done') continue;
      counts.set(step.summary, (counts.get(step.summary) || 0) + 1);
    }
  }
  return [...counts].map(([summary, n]) => (n === 1 ? summary : `${summary} (${n} times)`));
}
