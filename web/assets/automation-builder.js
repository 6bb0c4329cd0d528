// The automation builder: trigger → conditions → steps, with pickers from the item model and
// the actions the catalog offers. Every change is checked live by the API's dry run of the
// unsaved definition (POST /automations/dry-run): an `invalid-automation` problem is shown next
// to the field its `at` names, in words; otherwise the preview shows what would happen now
// (the matching items, each step as it would be sent, the provider calls it would spend).

import { api } from './api.js';
import { h, render, uniqueId, focusOn } from './dom.js';
import { icon } from './icons.js';
import * as fmt from './format.js';
import {
  ACTIONS, DAYS, KINDS, OPERATORS, TRIGGERS, actionChoices, actionIntegration, blankStep, definitionFrom,
  draftFrom, field, fieldsFor, locate, operatorsFor, reason,
} from './automations-model.js';
import { integration, state, timeZone } from './store.js';
import { problemBox } from './automation-problems.js';

const CHECK_DELAY_MS = 350;
/** Matching items named in the preview (the rest are counted). */
const NAMED_ITEMS = 8;

const itemCache = new Map();
/** One synced item (GET /items/{id}), asked once per page; null when it is gone. */
export function itemById(id) {
  if (!itemCache.has(id)) itemCache.set(id, api.item(id).catch(() => null));
  return itemCache.get(id);
}

const itemTitles = (ids) => Promise.all(ids.map(async (id) => ({ id, item: await itemById(id) })));

/** A step's filled-in fields in the order the action lists them. */
function inActionOrder(actionId, params) {
  const order = (ACTIONS[actionId]?.params || []).map((p) => p.name);
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  return Object.entries(params).sort(([a], [b]) => rank(a) - rank(b));
}

const toolName = (id) => integration(id)?.name || (id === 'webhook' ? 'Webhooks' : id);

function connectionLabel(c) {
  const tool = toolName(c.integrationId);
  const who = c.displayName || c.accountName || c.accountId || '';
  return who && who !== tool ? `${tool} · ${who}` : tool;
}

const activeConnections = (integrationId) => (state.connections.data || [])
  .filter((c) => (!integrationId || c.integrationId === integrationId) && c.status === 'active');

/** Connections whose tool syncs items of `kind`. */
const connectionsWithKind = (kind) => (state.connections.data || [])
  .filter((c) => integration(c.integrationId)?.capabilities?.recordKinds?.includes(kind));

/** A labelled control with its error line; `at` is the key an API problem names it by. */
function fieldBox({ label, control, at, hint, optional = false, wide = false }) {
  const id = control.id || uniqueId('auto-field');
  control.id = id;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  return h('div', { class: ['field', 'builder__field', wide && 'builder__field--wide'], 'data-at': at },
    h('label', { class: 'field__label', for: id }, label, optional ? h('span', { class: 'field__optional' }, ' (optional)') : null),
    control,
    hint ? h('p', { class: 'field__help', id: hintId }, hint) : null,
    h('p', { class: 'field__error', id: errorId, hidden: true, 'data-testid': `error-${at}` }));
}

function select(options, value, props = {}) {
  return h('select', { class: 'select builder__select', ...props },
    options.map((o) => h('option', { value: o.value, selected: String(o.value) === String(value) }, o.label)));
}

function input(value, props = {}) {
  return h('input', { class: 'input', type: 'text', value: value ?? '', autocomplete: 'off', spellcheck: 'false', ...props });
}

/**
 * Opens the builder in `host` for `definition` (a template's, or a saved automation's with
 * `automationId`). `onSave(definition, enabled)` saves; it throws the API's error to show.
 * Returns { close }.
 */
export function openBuilder(host, { definition, automationId = null, title, onSave, onClose }) {
  const draft = draftFrom(definition, definition?.trigger?.timeZone || timeZone());
  if (!definition?.trigger?.timeZone && draft.trigger.type === 'schedule') draft.trigger.timeZone = timeZone();
  const headingId = uniqueId('builder-title');
  const form = h('form', { class: 'builder panel', 'aria-labelledby': headingId, 'data-testid': 'builder', novalidate: true });
  const preview = h('div', { class: 'builder__preview', 'data-testid': 'dry-run', 'aria-live': 'polite', 'aria-busy': 'false' });
  const problems = h('div', { class: 'builder__problems', 'data-testid': 'builder-problem' });
  let ticket = 0;
  let timer = null;
  let saving = false;
  let valid = false;

  const catalog = state.catalog.data;
  const actions = actionChoices(catalog);

  // ---------- Sections ----------

  function triggerSection() {
    const t = draft.trigger;
    const type = select(TRIGGERS.map((x) => ({ value: x.id, label: x.label })), t.type, { 'data-testid': 'trigger-type' });
    type.addEventListener('change', () => { t.type = type.value; rerender('trigger-type'); });
    const parts = [fieldBox({ label: 'When', control: type, at: 'trigger' })];
    if (t.type === 'schedule') {
      const every = select([{ value: 'daily', label: 'Every day' }, { value: 'weekly', label: 'Every week' }, { value: 'cron', label: 'Cron expression' }], t.every, { 'data-testid': 'trigger-every' });
      every.addEventListener('change', () => { t.every = every.value; rerender('trigger-every'); });
      parts.push(fieldBox({ label: 'How often', control: every, at: 'trigger.every' }));
      if (t.every === 'cron') {
        const cron = input(t.cron, { 'data-testid': 'trigger-cron', placeholder: '30 8 * * 1-5' });
        cron.addEventListener('input', () => { t.cron = cron.value; changed(); });
        parts.push(fieldBox({ label: 'Cron (five fields)', control: cron, at: 'trigger.cron', hint: 'At least 15 minutes apart' }));
      } else {
        const at = h('input', { class: 'input', type: 'time', value: t.at, 'data-testid': 'trigger-at' });
        at.addEventListener('input', () => { t.at = at.value; changed(); });
        parts.push(fieldBox({ label: 'At', control: at, at: 'trigger.at' }));
        if (t.every === 'weekly') {
          const day = select(DAYS.map((d) => ({ value: d.id, label: d.label })), t.day, { 'data-testid': 'trigger-day' });
          day.addEventListener('change', () => { t.day = day.value; changed(); });
          parts.push(fieldBox({ label: 'On', control: day, at: 'trigger.day' }));
        } else {
          const legendId = uniqueId('days');
          parts.push(h('fieldset', { class: 'builder__days', 'aria-labelledby': legendId, 'data-at': 'trigger.days' },
            h('legend', { class: 'field__label', id: legendId }, 'On (none: every day)'),
            DAYS.map((d) => {
              const box = h('input', { type: 'checkbox', checked: t.days.includes(d.id), 'data-testid': `trigger-day-${d.id}` });
              box.addEventListener('change', () => {
                t.days = DAYS.map((x) => x.id).filter((id) => (id === d.id ? box.checked : t.days.includes(id)));
                changed();
              });
              return h('label', { class: 'checkbox' }, box, d.label);
            })));
        }
      }
      const zone = input(t.timeZone, { 'data-testid': 'trigger-timezone' });
      zone.addEventListener('input', () => { t.timeZone = zone.value.trim(); changed(); });
      parts.push(fieldBox({ label: 'Time zone', control: zone, at: 'trigger.timeZone', hint: 'IANA, e.g. Europe/London' }));
    } else {
      const kind = select(KINDS.map((k) => ({ value: k.id, label: k.label })), t.kind, { 'data-testid': 'trigger-kind' });
      kind.addEventListener('change', () => { t.kind = kind.value; t.connectionId = ''; rerender('trigger-kind'); });
      parts.push(fieldBox({ label: 'Of kind', control: kind, at: 'trigger.kind' }));
      const from = connectionsWithKind(t.kind);
      const connection = select([{ value: '', label: 'Any connected tool' }, ...from.map((c) => ({ value: c.connectionId, label: connectionLabel(c) }))],
        t.connectionId, { 'data-testid': 'trigger-connection' });
      connection.addEventListener('change', () => { t.connectionId = connection.value; changed(); });
      parts.push(fieldBox({ label: 'From', control: connection, at: 'trigger.connectionId' }));
      if (t.type === 'item.due_soon') {
        const hours = h('input', { class: 'input builder__number', type: 'number', min: 1, max: 336, step: 1, value: t.hours, 'data-testid': 'trigger-hours' });
        hours.addEventListener('input', () => { t.hours = hours.value; changed(); });
        parts.push(fieldBox({ label: 'Hours before it is due or starts', control: hours, at: 'trigger.hours' }));
      }
    }
    return section('1', 'Trigger', 'What sets it off.', h('div', { class: 'builder__row' }, parts));
  }

  function ruleRow(rule, i) {
    const n = i + 1;
    const kind = draft.trigger.type === 'schedule' ? null : draft.trigger.kind;
    const fields = fieldsFor(kind);
    if (!fields.some((f) => f.id === rule.field)) fields.push(field(rule.field) || { id: rule.field, label: rule.field, type: 'text' });
    const pick = select(fields.map((f) => ({ value: f.id, label: f.label })), rule.field, { 'data-testid': `rule-field-${n}`, 'aria-label': `Condition ${n}, field` });
    pick.addEventListener('change', () => {
      rule.field = pick.value;
      if (!operatorsFor(rule.field).includes(rule.op)) rule.op = operatorsFor(rule.field)[0];
      rerender(`rule-field-${n}`);
    });
    const ops = operatorsFor(rule.field);
    const op = select((ops.includes(rule.op) ? ops : [...ops, rule.op]).map((o) => ({ value: o, label: OPERATORS[o]?.label || o })), rule.op,
      { 'data-testid': `rule-op-${n}`, 'aria-label': `Condition ${n}, test` });
    op.addEventListener('change', () => { rule.op = op.value; rerender(`rule-op-${n}`); });
    const what = [];
    const kindOfInput = OPERATORS[rule.op]?.input;
    if (kindOfInput === 'value' && field(rule.field)?.type === 'flag') {
      const v = select([{ value: 'true', label: 'yes' }, { value: 'false', label: 'no' }], String(rule.value === true || rule.value === 'true'),
        { 'data-testid': `rule-value-${n}`, 'aria-label': `Condition ${n}, value` });
      v.addEventListener('change', () => { rule.value = v.value === 'true'; changed(); });
      what.push(v);
    } else if (kindOfInput === 'value') {
      const v = input(typeof rule.value === 'boolean' ? '' : rule.value, { 'data-testid': `rule-value-${n}`, 'aria-label': `Condition ${n}, value` });
      v.addEventListener('input', () => { rule.value = v.value; changed(); });
      what.push(v);
    } else if (kindOfInput === 'values') {
      const v = input(rule.values, { 'data-testid': `rule-values-${n}`, 'aria-label': `Condition ${n}, values separated by commas`, placeholder: 'a, b, c' });
      v.addEventListener('input', () => { rule.values = v.value; changed(); });
      what.push(v);
    } else if (kindOfInput === 'offset') {
      const days = h('input', { class: 'input builder__number', type: 'number', step: 1, value: rule.days, 'data-testid': `rule-days-${n}`, 'aria-label': `Condition ${n}, days from now (negative: ago)` });
      days.addEventListener('input', () => { rule.days = days.value; changed(); });
      const hours = h('input', { class: 'input builder__number', type: 'number', step: 1, value: rule.hours, 'data-testid': `rule-hours-${n}`, 'aria-label': `Condition ${n}, hours from now` });
      hours.addEventListener('input', () => { rule.hours = hours.value; changed(); });
      what.push(h('span', { class: 'builder__offset' }, 'now +', days, 'days', hours, 'hours'));
    }
    const remove = h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Remove condition ${n}`, 'data-testid': `rule-remove-${n}`, 'data-key': `rule-remove-${n}` }, icon('close'));
    remove.addEventListener('click', () => { draft.rules.splice(i, 1); rerender('rule-add'); });
    const errorId = uniqueId('rule-error');
    for (const c of [pick, op, ...what.flatMap((w) => (w.tagName === 'SPAN' ? [...w.querySelectorAll('input')] : [w]))]) c.setAttribute('aria-describedby', errorId);
    return h('li', { class: 'builder__rule', 'data-at': `rules.${n}`, 'data-testid': `rule-${n}` },
      h('span', { class: 'builder__rule-n', 'aria-hidden': 'true' }, n),
      h('div', { class: 'builder__rule-body' }, pick, op, what),
      remove,
      h('p', { class: 'field__error', id: errorId, hidden: true, 'data-testid': `error-rules.${n}` }));
  }

  function conditionsSection() {
    const add = h('button', { type: 'button', class: 'btn btn--small btn--secondary', 'data-testid': 'rule-add', id: 'rule-add' }, icon('plus'), 'Add a condition');
    add.addEventListener('click', () => {
      const f = fieldsFor(draft.trigger.type === 'schedule' ? null : draft.trigger.kind)[0];
      draft.rules.push({ field: f.id, op: operatorsFor(f.id)[0], value: '', values: '', days: '', hours: '' });
      rerender(`rule-field-${draft.rules.length}`);
    });
    const match = select([{ value: 'all', label: 'all of these' }, { value: 'any', label: 'any of these' }], draft.match, { 'data-testid': 'rule-match', 'aria-label': 'Match' });
    match.addEventListener('change', () => { draft.match = match.value; changed(); });
    return section('2', 'Conditions', draft.rules.length ? null : 'None: every item it is set off by.',
      h('div', { 'data-at': 'conditions' },
        draft.rules.length > 1 ? h('p', { class: 'builder__match' }, 'Only if ', match, ' are true:') : null,
        draft.rules.length ? h('ol', { class: 'builder__rules' }, draft.rules.map(ruleRow)) : null,
        h('p', { class: 'field__error', hidden: true, 'data-testid': 'error-conditions' }),
        add));
  }

  function stepCard(step, i) {
    const n = i + 1;
    const spec = ACTIONS[step.action];
    const integrationId = actionIntegration(catalog, step.action);
    const groups = new Map();
    for (const a of actions) {
      if (!groups.has(a.integration)) groups.set(a.integration, []);
      groups.get(a.integration).push(a);
    }
    const action = h('select', { class: 'select builder__select', 'data-testid': `step-action-${n}` },
      [...groups].map(([name, list]) => h('optgroup', { label: name },
        list.map((a) => h('option', { value: a.id, selected: a.id === step.action }, a.label)))));
    action.addEventListener('change', () => {
      const kept = step.params;
      Object.assign(step, blankStep(action.value, ''));
      for (const p of ACTIONS[action.value]?.params || []) if (kept[p.name]) step.params[p.name] = kept[p.name];
      const choices = activeConnections(actionIntegration(catalog, action.value));
      step.connectionId = choices[0]?.connectionId || '';
      rerender(`step-action-${n}`);
    });
    const parts = [fieldBox({ label: 'Do this', control: action, at: `steps.${n}.action` })];
    if (integrationId) {
      const choices = (state.connections.data || []).filter((c) => c.integrationId === integrationId);
      const connection = select([{ value: '', label: choices.length ? 'Choose a connection' : `Connect ${toolName(integrationId)} first` },
        ...choices.map((c) => ({ value: c.connectionId, label: connectionLabel(c) + (c.status === 'active' ? '' : ' (needs reconnecting)') }))],
      step.connectionId, { 'data-testid': `step-connection-${n}` });
      connection.addEventListener('change', () => { step.connectionId = connection.value; changed(); });
      parts.push(fieldBox({ label: 'Through', control: connection, at: `steps.${n}.connectionId` }));
    }
    const params = (spec?.params || Object.keys(step.params).map((name) => ({ name, label: name }))).map((p) => {
      const control = p.multiline
        ? h('textarea', { class: 'input builder__textarea', rows: 2, 'data-testid': `step-${n}-param-${p.name}`, spellcheck: 'false' }, step.params[p.name] ?? '')
        : input(step.params[p.name], { 'data-testid': `step-${n}-param-${p.name}` });
      control.addEventListener('input', () => { step.params[p.name] = control.value; changed(); });
      return fieldBox({ label: p.label, control, at: `steps.${n}.params.${p.name}`, hint: p.hint, optional: !p.required, wide: p.multiline });
    });
    const onFailure = select([{ value: 'stop', label: 'Stop the run' }, { value: 'continue', label: 'Go on with the next step' }], step.onFailure, { 'data-testid': `step-onfailure-${n}` });
    onFailure.addEventListener('change', () => { step.onFailure = onFailure.value; changed(); });
    const remove = draft.steps.length > 1
      ? h('button', { type: 'button', class: 'btn btn--small btn--ghost btn--quiet-danger', 'data-testid': `step-remove-${n}`, 'data-key': `step-remove-${n}` }, `Remove step ${n}`)
      : null;
    remove?.addEventListener('click', () => { draft.steps.splice(i, 1); rerender('step-add'); });
    return h('li', { class: 'builder__step', 'data-at': `steps.${n}`, 'data-testid': `step-${n}` },
      h('div', { class: 'builder__step-head' }, h('h5', { class: 'builder__step-title' }, `Step ${n}`), remove),
      h('div', { class: 'builder__row' }, parts),
      h('div', { class: 'builder__row builder__params', 'data-at': `steps.${n}.params` }, params,
        h('p', { class: 'field__error builder__field--wide', hidden: true, 'data-testid': `error-steps.${n}.params` })),
      h('div', { class: 'builder__row' }, fieldBox({ label: 'If it fails', control: onFailure, at: `steps.${n}.onFailure` })),
      h('p', { class: 'field__error', hidden: true, 'data-testid': `error-steps.${n}` }));
  }

  function stepsSection() {
    const add = h('button', { type: 'button', class: 'btn btn--small btn--secondary', 'data-testid': 'step-add', id: 'step-add' }, icon('plus'), 'Add a step');
    add.addEventListener('click', () => {
      const first = actions[0];
      draft.steps.push(blankStep(first.id, activeConnections(first.integrationId)[0]?.connectionId || ''));
      rerender(`step-action-${draft.steps.length}`);
    });
    return section('3', 'Steps', 'Done in order. Fields can use {{ item.title }}, {{ item.dueAt }}, {{ item.url }}, {{ steps.1.url }}…',
      h('div', { 'data-at': 'steps' },
        h('ol', { class: 'builder__steps' }, draft.steps.map(stepCard)),
        h('p', { class: 'field__error', hidden: true, 'data-testid': 'error-steps' }),
        add));
  }

  function section(number, name, hint, body) {
    const id = uniqueId('builder-section');
    return h('fieldset', { class: 'builder__section', 'aria-labelledby': id },
      h('legend', { class: 'builder__legend', id }, h('span', { class: 'builder__legend-n', 'aria-hidden': 'true' }, number), name),
      hint ? h('p', { class: 'builder__hint' }, hint) : null,
      body);
  }

  const nameInput = input(draft.name, { 'data-testid': 'automation-name', maxlength: 80, id: uniqueId('automation-name') });
  nameInput.addEventListener('input', () => { draft.name = nameInput.value; changed(); });

  // A new one is saved switched on or off; an edit keeps its switch as it is.
  const kept = automationId ? Boolean(definition?.enabled) : null;
  const saveOff = h('button', { type: 'button', class: 'btn btn--secondary', 'data-testid': 'builder-save', hidden: kept !== null }, 'Save, switched off');
  const saveOn = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'builder-switch-on' }, kept === null ? 'Switch on' : 'Save changes');
  const cancel = h('button', { type: 'button', class: 'btn btn--ghost', 'data-testid': 'builder-cancel' }, 'Cancel');
  const body = h('div', { class: 'builder__body' });

  function rerender(focusKey) {
    render(body, triggerSection(), conditionsSection(), stepsSection());
    if (focusKey) body.querySelector(`[data-testid="${focusKey}"]`)?.focus({ preventScroll: true });
    changed();
  }

  render(form,
    h('div', { class: 'builder__head' },
      h('h3', { class: 'builder__title', id: headingId, tabindex: '-1' }, title || (automationId ? 'Edit automation' : 'New automation')),
      h('p', { class: 'builder__hint' }, 'Check the preview below: nothing is done in your tools until you switch it on.')),
    fieldBox({ label: 'Name', control: nameInput, at: 'name' }),
    body,
    h('section', { class: 'builder__section builder__section--preview', 'aria-label': 'Dry run: what it would do now' },
      h('h4', { class: 'builder__legend' }, h('span', { class: 'builder__legend-n', 'aria-hidden': 'true' }, icon('eye', { size: 15 })), 'What it would do now'),
      problems,
      preview),
    h('div', { class: 'builder__actions' }, cancel, saveOff, saveOn));
  render(body, triggerSection(), conditionsSection(), stepsSection());

  // ---------- Live validation ----------

  function clearErrors() {
    for (const el of form.querySelectorAll('.field__error')) { el.hidden = true; el.textContent = ''; }
    for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
    render(problems);
  }

  /** Puts an `invalid-automation` problem next to its field; returns whether it found one. */
  function placeError(error) {
    const at = error.extensions?.at;
    const where = locate(at, error.detail, draft);
    const why = reason(error.detail, at);
    let box = where.key && form.querySelector(`[data-at="${CSS.escape(where.key)}"]`);
    // "steps.2.params.listId" for a field the step does not show: the step's fields box.
    while (!box && where.key && where.key.includes('.')) {
      where.key = where.key.slice(0, where.key.lastIndexOf('.'));
      box = form.querySelector(`[data-at="${CSS.escape(where.key)}"]`);
    }
    const message = h('p', { class: 'builder__problem-text' }, h('strong', {}, `${where.words || 'The automation'}: `), fmt.sentence(why));
    render(problems, h('div', { class: 'inline-error', role: 'alert', 'data-testid': 'builder-invalid' },
      h('span', { class: 'inline-error__icon' }, icon('alert')),
      h('div', {}, h('p', { class: 'inline-error__lead' }, error.title || 'The automation cannot be saved'), message)));
    if (!box) return false;
    const line = box.querySelector(':scope > .field__error');
    if (line) {
      line.replaceChildren(icon('alert', { size: 15 }), h('span', {}, fmt.sentence(why)));
      line.hidden = false;
    }
    for (const control of box.querySelectorAll(':scope > input, :scope > select, :scope > textarea, :scope > .builder__rule-body input, :scope > .builder__rule-body select')) {
      control.setAttribute('aria-invalid', 'true');
    }
    return true;
  }

  function showError(error, context) {
    if (error?.kind === 'invalid-automation') {
      placeError(error);
      return;
    }
    render(problems, problemBox(error, context, 'builder-error'));
  }

  async function showPreview(result) {
    const ids = result.matchingItems || [];
    const schedule = draft.trigger.type === 'schedule';
    const calls = Object.entries(result.calls || {});
    const named = await itemTitles(ids.slice(0, NAMED_ITEMS));
    const firstTitle = named[0]?.item?.title;
    const steps = result.previews?.[0] || [];
    render(preview,
      schedule
        ? h('p', { class: 'dry-run__lead', 'data-testid': 'dry-run-count' }, 'Each time it runs: one run, with no item.')
        : h('p', { class: 'dry-run__lead', 'data-testid': 'dry-run-count' },
          ids.length ? `${fmt.count(ids.length)} ${ids.length === 1 ? 'item matches' : 'items match'} now` : 'Nothing matches right now',
          ids.length && draft.trigger.type !== 'item.due_soon' ? h('span', { class: 'dry-run__note' }, ' (from now on it acts on the new ones a sync brings in, or on these with Run now)') : null),
      ids.length ? h('ul', { class: 'dry-run__items', 'data-testid': 'dry-run-items' },
        named.map(({ id, item }) => h('li', { class: 'dry-run__item', 'data-testid': 'dry-run-item', 'data-item-id': id },
          item?.url ? h('a', { href: item.url, target: '_blank', rel: 'noopener' }, item.title) : (item?.title || id),
          item?.dueAt ? h('span', { class: 'dry-run__meta' }, ` · due ${fmt.when(item.dueAt) || item.dueAt}`) : null)),
        ids.length > named.length ? h('li', { class: 'dry-run__more' }, `and ${fmt.count(ids.length - named.length)} more`) : null) : null,
      steps.length ? h('div', { class: 'dry-run__steps' },
        h('p', { class: 'dry-run__sub' }, schedule ? 'It would send:' : `For “${firstTitle || ids[0]}” it would send:`),
        h('ol', { class: 'dry-run__step-list' }, steps.map((s, i) => h('li', { class: 'dry-run__step', 'data-testid': `dry-run-step-${i + 1}` },
          h('p', { class: 'dry-run__step-name' }, `Step ${i + 1}: ${ACTIONS[s.action]?.label || s.action}`),
          h('dl', { class: 'dry-run__params' }, inActionOrder(s.action, s.params || {}).map(([k, v]) => [
            h('dt', {}, ACTIONS[s.action]?.params.find((p) => p.name === k)?.label || k), h('dd', {}, v || '—')])),
          s.error ? h('p', { class: 'field__error' }, icon('alert', { size: 15 }), fmt.sentence(s.error)) : null)))) : null,
      h('p', { class: 'dry-run__calls', 'data-testid': 'dry-run-calls' },
        calls.length
          ? `API calls it would spend now: ${calls.map(([id, n]) => `${toolName(id)} ${fmt.count(n)}`).join(', ')}`
          : 'No API calls now.'));
  }

  async function check() {
    const mine = ++ticket;
    preview.setAttribute('aria-busy', 'true');
    try {
      const result = await api.dryRun(definitionFrom(draft, false));
      if (mine !== ticket) return;
      clearErrors();
      valid = true;
      await showPreview(result);
    } catch (error) {
      if (mine !== ticket) return;
      clearErrors();
      valid = false;
      render(preview);
      showError(error, 'We could not check the automation');
    } finally {
      if (mine === ticket) preview.setAttribute('aria-busy', 'false');
    }
  }

  function changed() {
    clearTimeout(timer);
    valid = false;
    timer = setTimeout(check, CHECK_DELAY_MS);
  }

  async function save(enabled, button) {
    if (saving) return;
    saving = true;
    const label = button.textContent;
    for (const b of [saveOff, saveOn]) b.disabled = true;
    button.replaceChildren(h('span', { class: 'spinner spinner--light', 'aria-hidden': 'true' }), 'Saving…');
    try {
      clearTimeout(timer);
      await onSave(definitionFrom(draft, enabled), enabled);
    } catch (error) {
      clearErrors();
      showError(error, enabled ? 'We could not switch it on' : 'We could not save it');
      focusOn(problems.firstElementChild);
    } finally {
      saving = false;
      if (button.isConnected) {
        button.textContent = label;
        for (const b of [saveOff, saveOn]) b.disabled = false;
      }
    }
  }

  form.addEventListener('submit', (event) => { event.preventDefault(); save(kept ?? true, saveOn); });
  saveOff.addEventListener('click', () => save(false, saveOff));
  function close() {
    clearTimeout(timer);
    ticket += 1;
    host.hidden = true;
    render(host);
    onClose?.();
  }
  cancel.addEventListener('click', close);
  form.addEventListener('keydown', (event) => { if (event.key === 'Escape' && !saving) close(); });

  host.hidden = false;
  render(host, form);
  focusOn(form.querySelector(`#${headingId}`));
  check();
  return { close, isValid: () => valid };
}
