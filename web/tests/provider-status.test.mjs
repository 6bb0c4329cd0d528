// The provider-status line: when a provider keeps failing, the page says so at the top, with
// the health report's words, and not before. Its own stack: provider health is service-wide.
// Run: cd web && npm ci && node --test tests/

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStack } from './stack.mjs';
import {
  apiFromPage, connectTrelloThroughForm, launchBrowser, openPage, pressSync, screenshot,
} from './browser.mjs';

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
}, { timeout: 180_000 });

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Polls `check` until it holds, failing after `ms`. */
async function until(check, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${ms / 1000}s: ${check}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

test('a provider failing most calls shows a status line until dismissed, and none before', { timeout: 120_000 }, async () => {
  const { page, context, errors } = await openPage(browser, stack, { name: 'provider-status' });
  try {
    const { connectionId } = await connectTrelloThroughForm(page);
    const quiet = await apiFromPage(page, 'GET', '/health');
    assert.equal(quiet.status, 200);
    assert.ok(quiet.body.providers.every((p) => p.status === 'ok'), JSON.stringify(quiet.body));
    assert.equal(await page.getByTestId('notice-provider-status').count(), 0, 'no line while nothing fails');

    // Trello answers 500 to everything: the worker's retries and redeliveries fail call after call.
    await stack.fakes('POST', '/_fake/trello/faults', { pathPrefix: '/1/', fault: 'server_error', times: 1000 });
    await pressSync(page, connectionId);
    await until(async () => (await apiFromPage(page, 'GET', '/health')).body.providers
      .some((p) => p.integrationId === 'trello' && p.status === 'degraded'), 90_000);
    await page.reload();
    const line = page.getByTestId('notice-provider-status');
    await line.waitFor();
    assert.match(await line.innerText(), /Trello is having problems/);
    assert.match(await line.innerText(), /Trello is failing \d+% of requests/);
    await screenshot(page, 'provider-status');
    await page.getByTestId('provider-status-dismiss').click();
    assert.equal(await line.count(), 0);
    assert.deepEqual(errors, [], 'the page threw no uncaught errors');
  } finally {
    await stack.fakes('DELETE', '/_fake/trello/faults');
    await context.close();
  }
});
