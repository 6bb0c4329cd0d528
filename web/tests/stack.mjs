// The local stack for the browser tests, on free ports of its own: the AWS emulator (moto),
// the fake provider APIs and OAuth servers, and the dev server (API + page + sync worker and
// scheduler, configured for the fakes by infra/local/scripts/fake-env.sh). startStack() waits
// until each one answers; stop() ends them all (also when the test process exits early).

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(WEB_DIR, '..');

const FAKE_ENV = path.join(ROOT, 'infra/local/scripts/fake-env.sh');
/** The dev server's DynamoDB table in the emulator. */
export const TABLE_NAME = 'web-tests';

// Cargo's build folder: CARGO_TARGET_DIR when set (as `cargo build` uses it), else target/.
const TARGET = path.resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target');
const BIN = {
  python: path.join(ROOT, '.venv/bin/python'),
  emulator: path.join(ROOT, 'infra/local/scripts/emulator.py'),
  fakes: path.join(TARGET, 'debug/fake-providers'),
  dev: path.join(TARGET, 'debug/dev-server'),
};

const children = new Set();

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function launch(name, command, args, env, { keepAll = false } = {}) {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.label = name;
  child.log = '';
  child.all = [];
  const keep = (chunk) => {
    child.log = (child.log + chunk.toString()).slice(-8000);
    if (keepAll) child.all.push(chunk.toString());
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  child.on('error', (error) => keep(`\n[${name}] could not start: ${error.message}\n`));
  children.add(child);
  return child;
}

async function waitFor(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let dead = null;
  child.exited.then((status) => { dead = status; });
  while (Date.now() < deadline) {
    if (dead) {
      throw new Error(`${child.label} exited (${dead.code ?? dead.signal}) before answering at ${url}:\n${child.log}`);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }
  throw new Error(`${child.label} did not answer at ${url} within ${timeoutMs / 1000}s:\n${child.log}`);
}

/**
 * The variables that point every connector and OAuth client at the fakes and the OAuth callback
 * at the dev server: the KEY=VALUE lines infra/local/scripts/fake-env.sh prints (the same ones
 * `make dev FAKE_PROVIDERS=1` uses), so the list lives in one place.
 */
export async function fakeEnv(fakesAddr, devAddr) {
  const { stdout } = await promisify(execFile)('bash', [FAKE_ENV, fakesAddr, devAddr], { cwd: ROOT });
  const env = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  if (!env.OAUTH_REDIRECT_URL) throw new Error(`${path.relative(ROOT, FAKE_ENV)} printed no OAUTH_REDIRECT_URL:\n${stdout}`);
  return env;
}

/** One call of the emulator's DynamoDB JSON API (moto does not check the signature). */
async function dynamo(emulator, action, body) {
  const response = await fetch(emulator, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDB_20120810.${action}`,
      Authorization: 'AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`DynamoDB ${action}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function end(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await child.exited;
  clearTimeout(timer);
}

// If the test process goes away without calling stop(), take the stack with it.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
}

/**
 * Starts the emulator, the fakes and the dev server. stop() fails when the dev server's log (info
 * level, with metric lines) holds any credential the fakes issued or received. Resolves to
 * { baseUrl, fakesUrl, emulatorUrl, fakes(method, path, body), markNeedsReauth(user, id, reason), stop }:
 * - fakes() calls the fakes' control API (e.g. `stack.fakes('POST', '/_fake/oauth/google/deny-next')`)
 *   and resolves to its JSON;
 * - markNeedsReauth() puts a connection in `needs_reauth` with that statusReason, with the same
 *   update the service makes when a provider refuses a connection's credential during a sync
 *   (Store::mark_needs_reauth). The reconnect tests use it: the fakes revoke an OAuth grant
 *   only by one of its tokens, which only the service's vault knows, and a revoked demo token
 *   stays revoked (seeding the demo data again gives the account a new id, so reconnecting
 *   it would be "another account").
 */
export async function startStack() {
  const missing = Object.entries(BIN).filter(([, file]) => !existsSync(file));
  if (missing.length) {
    throw new Error(`missing ${missing.map(([, f]) => path.relative(ROOT, f)).join(', ')}: run \`make tools\` `
      + 'and `cargo build --bin dev-server --bin fake-providers` in the repository root first');
  }
  const [emulatorPort, fakesPort, devPort] = [await freePort(), await freePort(), await freePort()];
  const emulator = `http://127.0.0.1:${emulatorPort}`;
  const fakes = `http://127.0.0.1:${fakesPort}`;
  const baseUrl = `http://127.0.0.1:${devPort}`;
  const started = [];
  let devServer = null;
  const stop = async () => {
    // Every credential the fakes issued or received must stay out of the service's logs.
    let leaked = [];
    if (devServer) {
      const secrets = await fetch(`${fakes}/_fake/secrets`).then((r) => r.json()).then((b) => b.secrets).catch(() => []);
      const log = devServer.all.join('');
      leaked = secrets.filter((secret) => log.includes(secret)).map((secret) => `${secret.slice(0, 4)}…`);
    }
    await Promise.all(started.reverse().map(end));
    if (leaked.length) throw new Error(`the dev server logged ${leaked.length} credential(s): ${leaked.join(', ')}`);
  };

  try {
    const base = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG || 'C.UTF-8' };
    const moto = launch('AWS emulator', BIN.python, [BIN.emulator, '-H', '127.0.0.1', '-p', String(emulatorPort)], base);
    started.push(moto);
    const fakeProviders = launch('fake providers', BIN.fakes, ['--addr', `127.0.0.1:${fakesPort}`], base);
    started.push(fakeProviders);
    await Promise.all([waitFor(`${emulator}/moto-api/`, moto), waitFor(`${fakes}/_fake/health`, fakeProviders)]);

    const dev = launch('dev server', BIN.dev, [], {
      ...base,
      // Info logs and metric lines, as in AWS, for the no-credentials-in-logs check in stop().
      RUST_LOG: process.env.RUST_LOG || 'info',
      METRICS_FORMAT: 'emf',
      AWS_ENDPOINT_URL: emulator,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      TABLE_NAME,
      SECRETS_PREFIX: 'web-tests',
      SYNC_QUEUE_NAME: 'web-tests-sync',
      SYNC_DLQ_NAME: 'web-tests-dlq',
      SYNC_QUEUE_URL: `${emulator}/123456789012/web-tests-sync`,
      AUTH_MODE: 'dev',
      DEV_JWT_SECRET: randomBytes(16).toString('hex'),
      DEV_SERVER_ADDR: `127.0.0.1:${devPort}`,
      WEB_DIR,
      ...(await fakeEnv(`127.0.0.1:${fakesPort}`, `127.0.0.1:${devPort}`)),
    }, { keepAll: true });
    started.push(dev);
    devServer = dev;
    await waitFor(`${baseUrl}/integrations`, dev);
  } catch (error) {
    await stop();
    throw error;
  }
  const control = async (method, controlPath, body) => {
    const response = await fetch(`${fakes}${controlPath}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`fakes ${method} ${controlPath}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const markNeedsReauth = (userId, connectionId, reason) => dynamo(emulator, 'UpdateItem', {
    TableName: TABLE_NAME,
    Key: { PK: { S: `USER#${userId}` }, SK: { S: `CONN#${connectionId}` } },
    UpdateExpression: 'SET #status = :reauth, statusReason = :reason, #version = #version + :one REMOVE nextSyncAt, GSI1PK, GSI1SK',
    ConditionExpression: 'attribute_exists(PK)',
    ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
    ExpressionAttributeValues: { ':reauth': { S: 'needs_reauth' }, ':reason': { S: reason }, ':one': { N: '1' } },
  });
  return { baseUrl, fakesUrl: fakes, emulatorUrl: emulator, fakes: control, markNeedsReauth, stop };
}
