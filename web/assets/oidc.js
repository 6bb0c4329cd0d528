// OpenID Connect sign-in: authorization code flow with PKCE (S256), using crypto.subtle.

const PENDING_KEY = 'doo.oidc.pending';

function base64url(bytes) {
  let binary = '';
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function challengeFor(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(digest);
}

/** The claims of a JWT, without verifying it (the API verifies). */
export function claimsOf(jwt) {
  try {
    const payload = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      [...atob(payload)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}

const redirectUri = () => `${location.origin}/integrations`;

/** Sends the browser to the identity provider. Never resolves (the page goes away). */
export async function beginSignIn(config) {
  const verifier = randomString(48);
  const state = randomString(16);
  const nonce = randomString(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({
    verifier, state, nonce, returnTo: location.pathname + location.search + location.hash,
  }));
  const url = new URL(config.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: (config.scopes || ['openid']).join(' '),
    state,
    nonce,
    code_challenge: await challengeFor(verifier),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
  return new Promise(() => {});
}

export class SignInError extends Error {}

/**
 * If the URL is the identity provider's answer (?code&state or ?error&state), exchanges the
 * code for tokens and returns { idToken, claims, returnTo }; otherwise returns null.
 */
export async function completeSignIn(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has('state') || !(params.has('code') || params.has('error'))) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || 'null');
  sessionStorage.removeItem(PENDING_KEY);
  const clean = new URL(location.href);
  for (const key of ['code', 'state', 'error', 'error_description', 'session_state', 'iss']) clean.searchParams.delete(key);
  history.replaceState(null, '', clean.pathname + clean.search + clean.hash);

  if (!pending || pending.state !== params.get('state')) {
    throw new SignInError('The sign-in answer did not match this browser tab. Please sign in again.');
  }
  if (params.has('error')) {
    const reason = params.get('error_description') || params.get('error');
    throw new SignInError(params.get('error') === 'access_denied'
      ? 'Sign-in was cancelled.' : `Sign-in did not complete: ${reason}.`);
  }
  let response;
  try {
    response = await fetch(config.tokenUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code'),
        redirect_uri: redirectUri(),
        client_id: config.clientId,
        code_verifier: pending.verifier,
      }),
    });
  } catch {
    throw new SignInError('We could not reach the sign-in service. Check your connection and try again.');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.id_token) {
    throw new SignInError(`Sign-in did not complete: ${body.error_description || body.error || `HTTP ${response.status}`}.`);
  }
  const claims = claimsOf(body.id_token);
  if (pending.nonce && claims.nonce && claims.nonce !== pending.nonce) {
    throw new SignInError('The sign-in answer could not be verified. Please sign in again.');
  }
  if (pending.returnTo && pending.returnTo !== location.pathname + location.search + location.hash) {
    history.replaceState(null, '', pending.returnTo);
  }
  return { idToken: body.id_token, claims };
}
