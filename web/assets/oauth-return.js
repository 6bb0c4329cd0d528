// Coming back from a provider's sign-in: the API redirects to /integrations with
// ?connected=<connectionId>&integration=<id> or ?oauthError=<code>&integration=<id>.
// Shows the outcome as a dismissible notice and removes those parameters from the URL.

import { notify } from './notices.js';

const REASONS = {
  invalid_request: 'The sign-in request was not accepted.',
  server_error: 'The provider had a problem on its side.',
  temporarily_unavailable: 'The provider is temporarily unavailable.',
  invalid_state: 'The sign-in took too long or was started in another tab.',
  expired: 'The sign-in took too long.',
};

/** Reads and clears the outcome; returns { connectionId, integrationId } on success, else null. */
export function handleOAuthReturn(nameOf) {
  const url = new URL(location.href);
  const connected = url.searchParams.get('connected');
  const failure = url.searchParams.get('oauthError');
  if (!connected && !failure) return null;
  const integrationId = url.searchParams.get('integration') || '';
  for (const key of ['connected', 'oauthError', 'integration']) url.searchParams.delete(key);
  history.replaceState(null, '', url.pathname + url.search + url.hash);
  const name = nameOf(integrationId) || 'the tool';

  if (connected) {
    notify({ tone: 'success', key: 'oauth', testid: 'notice-oauth', title: `${name} is connected`, detail: 'You can run the first sync from “Your tools” below.' });
    return { connectionId: connected, integrationId };
  }
  if (failure === 'access_denied') {
    notify({ tone: 'info', key: 'oauth', testid: 'notice-oauth', title: `You declined access to ${name} — nothing was connected`, detail: 'You can connect it whenever you like.' });
    return null;
  }
  notify({
    tone: 'error', key: 'oauth', testid: 'notice-oauth', title: `We could not connect ${name}`,
    detail: `${REASONS[failure] || 'The sign-in did not complete.'} Nothing was connected; please try again. (Reason: ${failure})`,
  });
  return null;
}
