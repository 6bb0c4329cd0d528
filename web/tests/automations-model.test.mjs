// Unit tests of the automations builder's model (no browser): the 409 scope-missing contract,
// `at` locations in words, and a template's definition through the builder's draft and back.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  definitionFrom, draftFrom, locate, operatorsFor, reason, receiptLines, scopeMissing,
} from '../assets/automations-model.js';

const problem = (status, kind, extensions) => ({ status, kind, extensions });

test('a 409 scope-missing gives a button with the consent sentence to the provider', () => {
  const error = problem(409, 'scope-missing', {
    connectionId: '01JD0000000000000000000000',
    scope: 'https://www.googleapis.com/auth/calendar.events',
    reconsentUrl: 'https://accounts.google.com/o/oauth2/v2/auth?client_id=x&include_granted_scopes=true&scope=a+b',
    consent: 'Allow Director of One to create events',
  });
  assert.deepEqual(scopeMissing(error), {
    label: 'Allow Director of One to create events',
    url: 'https://accounts.google.com/o/oauth2/v2/auth?client_id=x&include_granted_scopes=true&scope=a+b',
    connectionId: '01JD0000000000000000000000',
    scope: 'https://www.googleapis.com/auth/calendar.events',
  });
  assert.equal(scopeMissing({ ...error, extensions: { ...error.extensions, consent: '' } }).label, 'Allow Director of One to do this');
  // Not that problem, or not a URL a button may go to: no button.
  assert.equal(scopeMissing(problem(409, 'concurrent-change', error.extensions)), null);
  assert.equal(scopeMissing(problem(422, 'scope-missing', error.extensions)), null);
  assert.equal(scopeMissing({ ...error, extensions: { ...error.extensions, reconsentUrl: 'javascript:alert(1)' } }), null);
  assert.equal(scopeMissing({ ...error, extensions: { ...error.extensions, reconsentUrl: '/relative' } }), null);
  assert.equal(scopeMissing(null), null);
});

test('problem locations read as words and point at the builder field', () => {
  const draft = { steps: [{ action: 'calendar.insertEvent', params: {} }] };
  assert.deepEqual(locate('steps[1].params.summary', '', draft), { key: 'steps.1.params.summary', words: 'Step 1, Title' });
  assert.deepEqual(locate('steps[2].connectionId'), { key: 'steps.2.connectionId', words: 'Step 2, connection' });
  assert.deepEqual(locate('conditions', 'conditions: condition 3: `dueAt` holds a time; this test does not apply to it'),
    { key: 'rules.3', words: 'Condition 3' });
  assert.deepEqual(locate('trigger.hours'), { key: 'trigger.hours', words: 'Trigger, hours before' });
  assert.deepEqual(locate('name'), { key: 'name', words: 'Name' });
  assert.equal(reason('steps[1].params.summary: is required', 'steps[1].params.summary'), 'is required');
  assert.equal(reason('something else', 'name'), 'something else');
});

test("a template's definition goes through the builder unchanged", () => {
  const template = {
    name: 'Block focus time for Trello cards due this week',
    trigger: { type: 'item.created', kind: 'task' },
    conditions: { rules: [
      { field: 'dueAt', op: 'after' },
      { field: 'dueAt', op: 'before', days: 7 },
      { field: 'task.done', op: 'equals', value: false },
    ] },
    steps: [{ action: 'calendar.insertEvent', connectionId: '01JD0000000000000000000001', params: { summary: 'Focus: {{ item.title }}', start: '{{ item.dueAt | shift_hours(-1) }}', end: '{{ item.dueAt }}' } }],
  };
  const out = definitionFrom(draftFrom(template, 'Europe/Paris'), true);
  assert.deepEqual(out, { ...template, enabled: true, conditions: { match: 'all', rules: template.conditions.rules } });

  const schedule = definitionFrom(draftFrom({ name: 'My day', trigger: { type: 'schedule', timeZone: 'UTC', every: 'daily', at: '08:30', days: ['mon'] }, steps: [] }));
  assert.deepEqual(schedule.trigger, { type: 'schedule', timeZone: 'UTC', every: 'daily', at: '08:30', days: ['mon'] });
  assert.deepEqual(operatorsFor('task.done'), ['equals']);
  assert.ok(!operatorsFor('dueAt').includes('contains'), 'a time has no contains');
});

test('receipts add up by what was done', () => {
  const done = { status: 'done', summary: 'Created an event in Google Calendar' };
  assert.deepEqual(receiptLines([{ steps: [done] }, { steps: [done, { status: 'failed', summary: 'x' }] }]),
    ['Created an event in Google Calendar (2 times)']);
});
