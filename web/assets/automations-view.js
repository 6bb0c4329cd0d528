// "Automations": the user's automations (on/off switch, Run now, Edit, Delete, run history with
// receipts), the builder, and the templates gallery (GET /automation-templates), where "Use this
// template" opens the builder filled in with the user's connections and its dry run, so that
// switching it on is the second click.

import { api } from './api.js';
import { h, render, focusOn } from './dom.js';
import { empty, errorBox, loading } from './feedback.js';
import { icon, integrationIcon } from './icons.js';
import { notify } from './notices.js';
import { confirmAction } from './confirm-dialog.js';
import * as fmt from './format.js';
import { itemById, openBuilder } from './automation-builder.js';
import { problemBox } from './automation-problems.js';
import { ACTIONS, KINDS, receiptLines } from './automations-model.js';
import {
  dropAutomation, integration, loadAutomations, loadStats, loadTemplates, on, putAutomation, state,
} from './store.js';

/** After Run now or a sync, the run history is read again this often, this many times. */
const FOLLOW_EVERY_MS = 1500;
const FOLLOW_TIMES = 12;

let builder = null;
const histories = new Map(); // automationId → { runs, error, open, body }
/** What each row last said (its status line and problem), kept across re-renders of the list. */
const notes = new Map(); // automationId → { status, problem: { error, context } | null }

function note(id, changes) {
  const current = { status: '', problem: null, ...notes.get(id), ...changes };
  notes.set(id, current);
  const status = document.querySelector(`[data-testid="automation-status-${CSS.escape(id)}"]`);
  if (status) status.textContent = current.status;
  const problem = document.querySelector(`[data-testid="automation-problem-${CSS.escape(id)}"]`);
  if (problem) {
    render(problem, current.problem ? problemBox(current.problem.error, current.problem.context, `automation-error-${id}`) : null);
  }
}

const toolName = (id) => integration(id)?.name || id;

// ---------- Words ----------

function triggerText(trigger) {
  if (!trigger) return '';
  if (trigger.type === 'schedule') {
    if (trigger.every === 'cron') return `On the schedule ${trigger.cron} (${trigger.timeZone})`;
    if (trigger.every === 'weekly') return `Every ${trigger.day} at ${trigger.at} (${trigger.timeZone})`;
    const days = trigger.days?.length ? trigger.days.join(', ') : 'day';
    return `Every ${days} at ${trigger.at} (${trigger.timeZone})`;
  }
  const kind = KINDS.find((k) => k.id === trigger.kind)?.label.toLowerCase() || trigger.kind;
  if (trigger.type === 'item.due_soon') return `${trigger.hours} h before a ${kind} is due`;
  return trigger.type === 'item.created' ? `When a new ${kind} comes in` : `When a ${kind} changes`;
}

function summaryText(a) {
  const rules = a.conditions?.rules?.length || 0;
  const steps = (a.steps || []).map((s) => ACTIONS[s.action]?.label || s.action);
  return [triggerText(a.trigger), rules ? `${rules} condition${rules === 1 ? '' : 's'}` : null, steps.join(', then ')].filter(Boolean).join(' · ');
}

const STATUS = {
  succeeded: { label: 'Done', tone: 'ok' },
  partial: { label: 'Partly done', tone: 'warning' },
  failed: { label: 'Failed', tone: 'danger' },
};
const STEP_STATUS = { done: 'Done', failed: 'Failed', unknown: 'Not known', sending: 'Sending' };

// ---------- Run history ----------

/** The item a run was for: its trigger is `{itemId}@{version}` (a schedule's run has none). */
const itemOfRun = (run) => (/^[^:@]+@/.test(run.trigger || '') ? run.trigger.slice(0, run.trigger.indexOf('@')) : null);

/** Fills in the item's title once it is known (the run says only its id). */
function itemName(run) {
  const id = itemOfRun(run);
  if (!id) return null;
  const el = h('span', { class: 'arun__item', 'data-testid': 'automation-run-item' });
  itemById(id).then((item) => { if (item?.title) el.textContent = `for “${item.title}”`; });
  return el;
}

function runItem(run) {
  const status = STATUS[run.status] || { label: run.status, tone: 'neutral' };
  return h('li', { class: `arun arun--${status.tone}`, 'data-testid': 'automation-run-record', 'data-status': run.status },
    h('div', { class: 'arun__head' },
      h('span', { class: `pill pill--${status.tone}` }, status.label),
      itemName(run),
      h('time', { class: 'arun__when', datetime: run.finishedAt, title: fmt.when(run.finishedAt) }, fmt.fromNow(run.finishedAt)),
      run.minutesSaved ? h('span', { class: 'arun__saved' }, `${fmt.duration(run.minutesSaved)} saved`) : null),
    h('ul', { class: 'arun__steps' }, (run.steps || []).map((s) => h('li', { class: 'receipt', 'data-testid': 'receipt', 'data-step-status': s.status },
      h('span', { class: 'receipt__text' }, s.status === 'done' ? s.summary : `Step ${s.step}: ${STEP_STATUS[s.status] || s.status}`),
      s.url ? [' · ', h('a', { href: s.url, target: '_blank', rel: 'noopener', 'data-testid': 'receipt-link' }, 'Open', h('span', { class: 'visually-hidden' }, ` what step ${s.step} made (new tab)`))] : null,
      s.error ? h('span', { class: 'receipt__error' }, ` — ${fmt.sentence(s.error)}`) : null))));
}

function historyBody(id) {
  const entry = histories.get(id);
  const runs = entry.runs;
  if (entry.error) return errorBox(entry.error, 'We could not load the runs', () => loadRuns(id), `automation-runs-error-${id}`);
  if (!runs) return loading('Loading runs…');
  if (!runs.length) return h('p', { class: 'runs__empty', 'data-testid': `automation-no-runs-${id}` }, 'No runs yet.');
  const minutes = runs.reduce((sum, r) => sum + (Number(r.minutesSaved) || 0), 0);
  const lines = receiptLines(runs);
  return [
    h('p', { class: 'arun__total', 'data-testid': `automation-total-${id}` },
      `${fmt.count(runs.length)} run${runs.length === 1 ? '' : 's'} · ${fmt.duration(minutes)} saved`,
      lines.length ? h('span', { class: 'arun__receipts' }, ` · ${lines.join('; ')}`) : null),
    h('ol', { class: 'aruns' }, runs.slice(0, 20).map(runItem)),
    runs.length > 20 ? h('p', { class: 'runs__footer' }, `and ${fmt.count(runs.length - 20)} earlier runs`) : null,
  ];
}

async function loadRuns(id) {
  const entry = histories.get(id);
  try {
    entry.runs = (await api.automationRuns(id)).runs || [];
    entry.error = null;
  } catch (error) {
    entry.error = error;
  }
  if (entry.body?.isConnected) render(entry.body, historyBody(id));
  return entry.runs;
}

function historyDisclosure(a) {
  const id = a.automationId;
  if (!histories.has(id)) histories.set(id, { runs: null, error: null, open: false, body: null });
  const entry = histories.get(id);
  entry.body = h('div', { class: 'arun__body', 'data-testid': `automation-runs-${id}`, 'aria-live': 'polite' });
  const details = h('details', { class: 'history', 'data-testid': `automation-history-${id}`, open: entry.open },
    h('summary', {}, icon('chevron', { size: 16, className: 'disclosure-icon' }), 'Runs and receipts'),
    entry.body);
  details.addEventListener('toggle', () => {
    entry.open = details.open;
    if (details.open) {
      render(entry.body, historyBody(id));
      loadRuns(id);
    }
  });
  if (entry.open) render(entry.body, historyBody(id));
  return details;
}

/** Reads the runs again a few times (a queued run ends a moment later); resolves to how many are new. */
async function follow(id, before, { until = null } = {}) {
  let runs = histories.get(id)?.runs || [];
  for (let i = 0; i < FOLLOW_TIMES; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
    runs = await loadRuns(id) || runs;
    if (until && runs.length - before >= until) break;
  }
  loadStats();
  return runs.length - before;
}

// ---------- One automation ----------

function automationRow(a) {
  const id = a.automationId;
  const said = notes.get(id);
  const status = h('p', { class: 'auto__status', role: 'status', 'data-testid': `automation-status-${id}` }, said?.status || '');
  const problem = h('div', { class: 'auto__problem', 'data-testid': `automation-problem-${id}` },
    said?.problem ? problemBox(said.problem.error, said.problem.context, `automation-error-${id}`) : null);
  const toggle = h('input', {
    type: 'checkbox', role: 'switch', class: 'switch__input', checked: Boolean(a.enabled),
    'data-testid': `automation-switch-${id}`, 'data-key': `switch:${id}`, 'aria-describedby': `automation-summary-${id}`,
  });
  toggle.addEventListener('change', async () => {
    const enabled = toggle.checked;
    toggle.disabled = true;
    note(id, { status: enabled ? 'Switching on…' : 'Switching off…', problem: null });
    try {
      const saved = await api.updateAutomation(id, { enabled });
      note(id, { status: saved.enabled ? 'Switched on.' : 'Switched off.' });
      putAutomation(saved);
    } catch (error) {
      toggle.checked = !enabled;
      toggle.disabled = false;
      note(id, { status: '', problem: { error, context: enabled ? 'We could not switch it on' : 'We could not switch it off' } });
    }
  });

  const runNow = h('button', { type: 'button', class: 'btn btn--small btn--secondary', 'data-testid': `automation-run-${id}`, 'data-key': `run:${id}` }, icon('sync', { size: 16 }), 'Run now');
  runNow.addEventListener('click', async () => {
    runNow.disabled = true;
    note(id, { status: 'Starting…', problem: null });
    try {
      const entry = histories.get(id);
      const before = (entry?.runs || (await loadRuns(id)) || []).length;
      const { queued } = await api.runAutomation(id);
      if (!queued) {
        note(id, { status: 'Nothing to run now: no item matches.' });
        return;
      }
      note(id, { status: `Running for ${fmt.count(queued)} ${queued === 1 ? 'item' : 'items'}…` });
      const fresh = await follow(id, before, { until: queued });
      note(id, {
        status: fresh > 0
          ? `Done: ${fmt.count(fresh)} new run${fresh === 1 ? '' : 's'} — see the receipts below.`
          : 'Nothing new was created: everything it matched had already been done.',
      });
    } catch (error) {
      note(id, { status: '', problem: { error, context: 'We could not run it' } });
    } finally {
      runNow.disabled = false;
    }
  });

  const edit = h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-testid': `automation-edit-${id}`, 'data-key': `edit:${id}` }, 'Edit');
  edit.addEventListener('click', () => startBuilder({ definition: a, automationId: id, title: `Edit “${a.name}”` }));

  const remove = h('button', { type: 'button', class: 'btn btn--small btn--ghost btn--quiet-danger', 'data-testid': `automation-delete-${id}`, 'data-key': `delete:${id}` }, 'Delete');
  remove.addEventListener('click', async () => {
    const removed = await confirmAction({
      title: `Delete “${a.name}”?`,
      text: 'It stops at once. What it already made in your tools stays there.',
      confirmLabel: 'Delete',
      busyLabel: 'Deleting…',
      testid: 'confirm-delete-automation',
      errorContext: 'We could not delete it',
      action: () => api.deleteAutomation(id),
    });
    if (removed) {
      dropAutomation(id);
      histories.delete(id);
      notes.delete(id);
      notify({ tone: 'success', key: `automation-${id}`, testid: 'notice-automation-deleted', title: `Deleted “${a.name}”` });
      focusOn(document.getElementById('automations-title'));
    }
  });

  return h('li', { class: ['auto', 'panel', a.enabled && 'auto--on'], 'data-testid': `automation-${id}`, id: `automation-${id}`, 'data-automation-id': id },
    h('div', { class: 'auto__main' },
      h('div', { class: 'auto__titles' },
        h('h3', { class: 'auto__name' }, a.name),
        h('p', { class: 'auto__summary', id: `automation-summary-${id}` }, summaryText(a))),
      h('label', { class: 'switch' }, toggle, h('span', { class: 'switch__track', 'aria-hidden': 'true' }),
        h('span', { class: 'switch__label' }, 'On'))),
    h('div', { class: 'auto__actions' }, runNow, edit, remove),
    status, problem,
    historyDisclosure(a));
}

function renderList(host) {
  const { status, data, error } = state.automations;
  host.setAttribute('aria-busy', String(status === 'loading' && !data));
  if (!data && status === 'error') {
    render(host, errorBox(error, 'We could not load your automations', loadAutomations, 'automations-error'));
    return;
  }
  if (!data) {
    render(host, loading('Loading your automations…'));
    return;
  }
  if (!data.length) {
    render(host, empty({
      title: 'No automations yet',
      text: 'Start from a template below: you see what it would do before you switch it on.',
      iconName: 'sparkle',
      testid: 'automations-empty',
    }));
    return;
  }
  render(host, h('ul', { class: 'autos' }, data.map(automationRow)));
}

// ---------- Builder ----------

function startBuilder({ definition, automationId = null, title }) {
  const host = document.getElementById('automation-builder');
  builder?.close();
  builder = openBuilder(host, {
    definition,
    automationId,
    title,
    onSave: async (def, enabled) => {
      const saved = automationId ? await api.replaceAutomation(automationId, def) : await api.createAutomation(def);
      putAutomation(saved);
      builder?.close();
      notify({
        tone: 'success', key: `automation-${saved.automationId}`, testid: 'notice-automation-saved',
        title: automationId ? `Saved “${saved.name}”` : enabled ? `“${saved.name}” is on` : `Saved “${saved.name}”, switched off`,
        detail: enabled ? 'It acts on what comes in from now on; Run now acts on what matches today.' : 'Switch it on when you are ready.',
      });
      focusOn(document.getElementById(`automation-${saved.automationId}`));
    },
    onClose: () => { builder = null; },
  });
}

// ---------- Templates ----------

function connected(integrationId) {
  return (state.connections.data || []).some((c) => c.integrationId === integrationId && c.status === 'active');
}

function templateCard(t) {
  const use = h('button', { type: 'button', class: 'btn btn--small btn--primary', 'data-testid': `template-use-${t.id}`, 'data-key': `template:${t.id}` }, 'Use this template');
  use.addEventListener('click', () => startBuilder({ definition: t.definition, title: t.name }));
  const premiumBlocked = t.premium && state.user?.plan !== 'premium';
  const missing = t.needs.filter((id) => !connected(id));
  return h('li', { class: 'card tpl', 'data-testid': `template-${t.id}`, 'data-ready': String(t.ready) },
    h('div', { class: 'card__head' },
      h('div', { class: 'tpl__icons', 'aria-hidden': 'true' }, [...new Set(t.needs)].map((id) => integrationIcon(id, toolName(id), 30))),
      h('div', { class: 'card__titles' },
        h('h3', { class: 'card__name' }, t.name),
        t.premium ? h('span', { class: 'badge badge--premium' }, 'Premium') : null)),
    h('p', { class: 'card__desc' }, t.description),
    h('p', { class: 'tpl__needs' }, h('span', { class: 'tpl__needs-label' }, 'Needs: '),
      [...new Set(t.needs)].map((id, i) => [i ? ', ' : '', h('span', { class: connected(id) ? 'tpl__have' : 'tpl__missing' },
        toolName(id), connected(id) ? h('span', { class: 'visually-hidden' }, ' (connected)') : ' (not connected)')])),
    t.toFill.length ? h('p', { class: 'card__note' }, 'You fill in: ', t.toFill.map((f) => f.replace(/^steps\[(\d+)\]\.params\./, 'step $1 ')).join(', ')) : null,
    missing.length ? h('p', { class: 'card__note' }, `Connect ${missing.map(toolName).join(' and ')} first (in “Your tools”).`) : null,
    premiumBlocked ? h('p', { class: 'card__note' }, 'On the premium plan.') : null,
    h('div', { class: 'card__actions' }, use));
}

function renderTemplates(host) {
  const { status, data, error } = state.templates;
  host.setAttribute('aria-busy', String(status === 'loading' && !data));
  if (!data && status === 'error') {
    render(host, errorBox(error, 'We could not load the templates', loadTemplates, 'templates-error'));
    return;
  }
  if (!data) {
    render(host, loading('Loading templates…'));
    return;
  }
  render(host, h('ul', { class: 'tpls' }, data.map(templateCard)));
}

// ---------- Mount ----------

/** The connections' ids and states: templates are filled in again when these change. */
const connectionsKey = () => (state.connections.data || []).map((c) => `${c.connectionId}:${c.status}`).sort().join(',');

export function mountAutomations() {
  const list = document.getElementById('automations-list');
  const gallery = document.getElementById('automation-templates');
  const newOne = document.getElementById('automation-new');
  on('automations', () => renderList(list));
  on('templates', () => renderTemplates(gallery));
  // Templates come filled in with the user's connections: ask again when those change (the
  // first list is the one the templates were loaded with, at sign-in).
  let lastConnections = null;
  on('connections', ({ status }) => {
    if (status !== 'ready') return;
    renderTemplates(gallery);
    const key = connectionsKey();
    if (lastConnections !== null && key !== lastConnections) loadTemplates();
    lastConnections = key;
  });
  on('catalog', () => renderTemplates(gallery));
  newOne.addEventListener('click', () => startBuilder({
    definition: {
      name: '',
      trigger: { type: 'item.created', kind: 'task' },
      steps: [{ action: 'calendar.insertEvent', connectionId: (state.connections.data || []).find((c) => c.integrationId === 'google-calendar' && c.status === 'active')?.connectionId, params: {} }],
    },
    title: 'New automation',
  }));
  // A sync brings in items that set item automations off: read their runs again meanwhile.
  document.addEventListener('sync:finished', () => {
    for (const a of state.automations.data || []) {
      if (!a.enabled || a.trigger?.type === 'schedule') continue;
      const entry = histories.get(a.automationId);
      if (entry?.open) follow(a.automationId, (entry.runs || []).length);
    }
    setTimeout(loadStats, FOLLOW_EVERY_MS * 4);
  });
}

/** Loads the automations and their templates (after sign-in). */
export function loadAutomationsSection() {
  return Promise.all([loadAutomations(), loadTemplates()]);
}
