// Who is signed in. The page asks /web-config.json how to sign in:
//   {"auth":{"mode":"dev"}}   locally: POST /dev/token gives a token (missing file = dev too);
//   {"auth":{"mode":"oidc",…}} in AWS: authorization code + PKCE, the id token is the bearer.
// The session lives in sessionStorage, so each browser tab signs in on its own.

import { ApiError, errorFromResponse, networkError } from './problem.js';
import { beginSignIn, completeSignIn } from './oidc.js';

const SESSION_KEY = 'doo.session';
const REAUTH_KEY = 'doo.reauth-at';
const EXPIRY_MARGIN_MS = 60_000;

let config = null;
let session = null;

async function loadConfig() {
  let response;
  try {
    response = await fetch('/web-config.json', { cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch {
    throw networkError();
  }
  if (response.status === 404) return { mode: 'dev' };
  if (!response.ok) throw await errorFromResponse(response);
  const body = await response.json().catch(() => ({}));
  return body.auth?.mode ? body.auth : { mode: 'dev' };
}

function stored() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
  } catch {
    return null;
  }
}

function keep(next) {
  session = next;
  if (next) sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(SESSION_KEY);
  return next;
}

const fresh = (s) => s && s.expiresAt > Date.now() + EXPIRY_MARGIN_MS;

/** Dev mode honours ?user=<id> and ?plan=free|premium (for trying things and for tests). */
function devWishes() {
  const url = new URL(location.href);
  const wish = { user: url.searchParams.get('user'), plan: url.searchParams.get('plan') };
  if (wish.user || wish.plan) {
    url.searchParams.delete('user');
    url.searchParams.delete('plan');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return wish;
}

async function signInDev({ force = false, wish = {} } = {}) {
  const current = stored();
  const matches = current?.mode === 'dev'
    && (!wish.user || current.user.id === wish.user)
    && (!wish.plan || current.user.plan === wish.plan);
  if (!force && matches && fresh(current)) return keep(current).user;

  const userId = wish.user || current?.user?.id || 'demo-user';
  const plan = wish.plan || current?.user?.plan || 'free';
  let response;
  try {
    response = await fetch('/dev/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ userId, plan }),
    });
  } catch {
    throw networkError();
  }
  if (!response.ok) throw await errorFromResponse(response);
  const body = await response.json();
  return keep({
    mode: 'dev',
    token: body.token,
    expiresAt: Date.now() + (Number(body.expiresIn) || 3600) * 1000,
    user: { id: body.userId, name: body.userId, plan: body.plan },
  }).user;
}

function sessionFromIdToken(idToken, claims) {
  return {
    mode: 'oidc',
    token: idToken,
    expiresAt: (Number(claims.exp) || 0) * 1000,
    user: {
      id: claims.sub,
      name: claims.name || claims.given_name || claims.email || claims.sub,
      email: claims.email,
      plan: claims['custom:plan'] || claims.plan || null,
    },
  };
}

async function signInOidc() {
  const answer = await completeSignIn(config);
  if (answer) {
    sessionStorage.removeItem(REAUTH_KEY);
    return keep(sessionFromIdToken(answer.idToken, answer.claims)).user;
  }
  const current = stored();
  if (current?.mode === 'oidc' && fresh(current)) return keep(current).user;
  return beginSignIn(config);
}

/** Signs in (or resumes the tab's session) and returns the user { id, name, plan }. */
export async function signIn() {
  config = config || (await loadConfig());
  if (config.mode === 'oidc') return signInOidc();
  return signInDev({ wish: devWishes() });
}

export const currentUser = () => session?.user || null;

/** The bearer token for API calls, renewing an expired session first. */
export async function getToken() {
  if (!fresh(session)) {
    if (config?.mode === 'oidc') await beginSignIn(config);
    else await signInDev({ force: true });
  }
  return session.token;
}

/**
 * After a 401: sign in again, once. Returns a new token, or null when signing in again
 * already happened and did not help (the caller then says so).
 */
export async function reauthenticate() {
  if (config?.mode === 'oidc') {
    const last = Number(sessionStorage.getItem(REAUTH_KEY) || 0);
    if (Date.now() - last < 120_000) return null;
    sessionStorage.setItem(REAUTH_KEY, String(Date.now()));
    keep(null);
    return beginSignIn(config);
  }
  try {
    await signInDev({ force: true });
    return session.token;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    return null;
  }
}

/** The "Sign in again" button: forget the session and start over. */
export async function restartSignIn() {
  sessionStorage.removeItem(REAUTH_KEY);
  keep(null);
  if (config?.mode === 'oidc') return beginSignIn(config);
  await signInDev({ force: true });
  location.reload();
  return null;
}
