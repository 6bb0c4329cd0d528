// The page under its Content Security Policy: the dev server sends the browser security headers
// CloudFront sets in AWS (infra/local/src/security_headers.rs, kept equal to template.yaml), and
// the page — catalog, the connect form, a sync, the sign-in callback's error page — works under
// them with no violation reported. Run: cd web && npm ci && node --test tests/

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStack } from './stack.mjs';
import {
  connectTrelloThroughForm, launchBrowser, openPage, part, pressSync, screenshot,
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

/**
 * Opens the page with a recorder of CSP violations: every `securitypolicyviolation` event of any
 * document the page loads, and every console error that names the Content Security Policy.
 */
async function openWatchedPage(name) {
  const violations = [];
  const opened = await openPage(browser, stack, {
    name,
    beforeLoad: async (context, page) => {
      await context.exposeBinding('reportCspViolation', (_source, violation) => violations.push(violation));
      await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (event) => {
          window.reportCspViolation({
            directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample, at: document.URL,
          });
        });
      });
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
          violations.push({ console: message.text() });
        }
      });
    },
  });
  return { ...opened, violations };
}

const cspOf = (response) => response.headers()['content-security-policy'] || '';

test('the page works under its Content Security Policy with no violation reported', { timeout: 90_000 }, async () => {
  const { page, context, errors, violations } = await openWatchedPage('csp-page');
  try {
    // The policy is there, on the page and on the API, and allows no inline script or style.
    const document = await page.request.get(`${stack.baseUrl}/integrations`);
    const policy = cspOf(document);
    for (const directive of ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "default-src 'none'"]) {
      assert.ok(policy.includes(directive), `the page's CSP has ${directive}: "${policy}"`);
    }
    assert.ok(!policy.includes('unsafe-'), `no unsafe- source: "${policy}"`);
    assert.equal(document.headers()['x-content-type-options'], 'nosniff');
    assert.match(document.headers()['strict-transport-security'] || '', /^max-age=\d+/);
    assert.ok(document.headers()['referrer-policy'], 'a Referrer-Policy');
    assert.equal(cspOf(await page.request.get(`${stack.baseUrl}/api/v1/integrations/available`)), policy);

    // The catalog, the connect form, a sync to its end.
    await page.locator('[data-testid="catalog"] article[data-testid^="card-"]').first().waitFor();
    const connection = await connectTrelloThroughForm(page);
    await pressSync(page, connection.connectionId);
    await part(page, 'sync-result', connection.connectionId).getByText(/^Synced /).waitFor({ timeout: 30_000 });
    await page.getByTestId('stat-items').waitFor();

    // The automations builder from a template, with its live dry run and a condition added.
    await page.getByTestId('template-use-block-focus-time').click();
    await page.getByTestId('builder').getByTestId('rule-add').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="dry-run"]')?.childElementCount
      || document.querySelector('[data-testid="builder-problem"]')?.childElementCount);

    // The sign-in callback's own page (a state that is not known): it too keeps to the policy.
    const callback = await page.goto(`${stack.baseUrl}/api/v1/integrations/oauth/callback?state=unknown&code=x`);
    assert.equal(callback.status(), 400);
    assert.match(callback.headers()['content-type'], /text\/html/);
    await page.getByRole('heading', { name: 'Sign-in not completed' }).waitFor();
    await page.waitForTimeout(300); // violations are reported asynchronously

    assert.deepEqual(violations, [], 'no CSP violation was reported');
    assert.deepEqual(errors, [], 'the page threw no uncaught errors');
  } finally {
    await screenshot(page, 'csp-page').catch(() => {});
    await context.close();
  }
});

test('the policy is enforced: an inline style is refused and reported', { timeout: 60_000 }, async () => {
  const { page, context, violations } = await openWatchedPage('csp-enforced');
  try {
    const colour = await page.evaluate(() => {
      const probe = document.createElement('p');
      probe.setAttribute('style', 'color: rgb(255, 0, 0)');
      document.body.append(probe);
      return getComputedStyle(probe).color;
    });
    assert.notEqual(colour, 'rgb(255, 0, 0)', 'the inline style was not applied');
    const deadline = Date.now() + 5000;
    while (!violations.some((v) => v.directive === 'style-src-attr') && Date.now() < deadline) {
      await page.waitForTimeout(100);
    }
    assert.ok(violations.some((v) => v.directive === 'style-src-attr'), `reported: ${JSON.stringify(violations)}`);
  } finally {
    await context.close();
  }
});
