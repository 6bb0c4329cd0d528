// Coming back from a provider's sign-in: the API redirects to /integrations with
// ?connected=<connectionId>&integration=<id> or ?oauthError=<code>&integration=<id>.
// Shows the outcome as a dismissible notice and removes those parameters from the URL.
// Before leaving, the connect dialog notes which sign-in it started (rememberOAuthStart), so
// the notice can say "reconnected" when the sign-in renewed an existing connection.

import { notify } from './notices.js';

const PENDING_KEY = 'doo.oauth-pending';

// The codes the callback sends back, in words (what went wrong, and that nothing changed).
const REASONS = {
  provider_error: 'The provider reported a problem with the sign-in.',
  missing_code: 'The provider did not confirm the sign-in.',
  token_exchange_failed: 'The provider did not confirm the sign-in when we asked it to.',
  account_unavailable: 'We could not read which account you signed in with.',
  unknown_integration: 'This tool is no longer offered.',
  not_configured: 'Signing in with this tool is not set up on this service.',
  storage_failed: 'We could not save the connection on our side.',
  connection_gone: 'The connection you were reconnecting was disconnected in the meantime.',
  invalid_request: 'The sign-in request was not accepted.',
  server_error: 'The provider had a problem on its side.',
  temporarily_unavailable: 'The provider is temporarily unavailable.',
};

/** Notes the sign-in that is about to start: { integrationId, connectionId (when reconnecting) }. */
export function rememberOAuthStart({ integrationId, connectionId = null }) {
  try {
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ integrationId, connectionId, at: Date.now() }));
  } catch {
    // Storage can be unavailable (private modes); the notice then just says "connected".
  }
}

function takePending() {
  try {
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || 'null');
    sessionStorage.removeItem(PENDING_KEY);
    // A sign-in lives at most ten minutes.
    return pending && Date.now() - pending.at < 15 * 60_000 ? pending : null;
  } catch {
    return null;
  }
}

/** Reads and clears the outcome; returns { connectionId, integrationId, reconnected } on success, else null. */
export function handleOAuthReturn(nameOf) {
  const url = new URL(location.href);
  const connected = url.searchParams.get('connected');
  const failure = url.searchParams.get('oauthError');
  if (!connected && !failure) return null;
  const integrationId = url.searchParams.get('integration') || '';
  for (const key of ['connected', 'oauthError', 'integration']) url.searchParams.delete(key);
  history.replaceState(null, '', url.pathname + url.search + url.hash);
  const name = nameOf(integrationId) || 'the tool';
  const pending = takePending();
  const reconnecting = Boolean(pending?.connectionId) && pending.integrationId === integrationId;

  if (connected) {
    const reconnected = reconnecting && pending.connectionId === connected;
    notify(reconnected
      ? { tone: 'success', key: 'oauth', testid: 'notice-oauth', title: `${name} is reconnected`, detail: 'It syncs again as before; its settings and history are unchanged.' }
      : { tone: 'success', key: 'oauth', testid: 'notice-oauth', title: `${name} is connected`, detail: 'You can run the first sync from “Your tools” below.' });
    return { connectionId: connected, integrationId, reconnected };
  }
  if (failure === 'access_denied') {
    notify({
      tone: 'info', key: 'oauth', testid: 'notice-oauth',
      title: reconnecting ? `You declined access to ${name} — nothing was changed` : `You declined access to ${name} — nothing was connected`,
      detail: reconnecting ? `${name} stays disconnected until you sign in again.` : 'You can connect it whenever you like.',
    });
    return null;
  }
  if (failure === 'already_connected') {
    notify({ tone: 'info', key: 'oauth', testid: 'notice-oauth', title: `That ${name} account is already connected`, detail: 'You will find it under “Your tools”. Nothing new was connected.' });
    return null;
  }
  if (failure === 'plan_limit_reached') {
    notify({ tone: 'warning', key: 'oauth', testid: 'notice-oauth', title: `We could not connect ${name}: you have reached your plan’s limit`, detail: 'Disconnect a tool you no longer use, or upgrade to Premium for more. Nothing was connected.' });
    return null;
  }
  if (failure === 'different_account') {
    notify({ tone: 'error', key: 'oauth', testid: 'notice-oauth', title: `You signed in to a different ${name} account`, detail: 'To reconnect, sign in with the account that was connected before. Nothing was changed.' });
    return null;
  }
  notify({
    tone: 'error', key: 'oauth', testid: 'notice-oauth', title: `We could not ${reconnecting ? 'reconnect' : 'connect'} ${name}`,
    detail: `${REASONS[failure] || 'The sign-in did not complete.'} ${reconnecting ? 'Nothing was changed' : 'Nothing was connected'}; please try again. (Reason: ${failure})`,
  });
  return null;
}
