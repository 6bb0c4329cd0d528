// API errors: every error the API sends is application/problem+json. This turns answers,
// network failures and odd responses into one ApiError with words a manager understands.

import { sentence } from './format.js';

export class ApiError extends Error {
  constructor({ status = 0, type = 'about:blank', title, detail = '', extensions = {}, retryAfterSeconds = null }) {
    super(detail || title);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.kind = problemKind(type);
    this.title = title || 'Something went wrong';
    this.detail = detail;
    this.extensions = extensions;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get isNetwork() {
    return this.kind === 'network';
  }
}

/** "/problems/credential-rejected" → "credential-rejected". */
export function problemKind(type) {
  if (!type || type === 'about:blank') return '';
  return String(type).replace(/[?#].*$/, '').split('/').filter(Boolean).pop() || '';
}

export function networkError() {
  return new ApiError({
    type: 'network',
    title: 'We could not reach the server',
    detail: 'Check your internet connection, then try again.',
  });
}

function retryAfter(response, body) {
  if (Number.isFinite(body?.retryAfterSeconds)) return body.retryAfterSeconds;
  const header = response.headers.get('Retry-After');
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.round((at - Date.now()) / 1000));
}

/** Builds an ApiError from a failed response (reads its body). */
export async function errorFromResponse(response) {
  let body = null;
  let text = '';
  try {
    text = await response.text();
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (body && typeof body === 'object' && (body.title || body.type)) {
    const { type, title, status, detail, ...extensions } = body;
    return new ApiError({
      status: status || response.status,
      type,
      title,
      detail,
      extensions,
      retryAfterSeconds: retryAfter(response, body),
    });
  }
  return new ApiError({
    status: response.status,
    type: `http-${response.status}`,
    title: response.status >= 500 ? 'The service is having trouble' : `The request was refused (${response.status})`,
    detail: response.status >= 500
      ? 'Please try again in a moment.'
      : 'The server answered in a way this page did not expect.',
    retryAfterSeconds: retryAfter(response, null),
  });
}

const joined = (...parts) => parts.filter(Boolean).map(sentence).join(' ');

/**
 * A message for people: { lead, detail }. `lead` says what failed (the `context` given, e.g.
 * "We couldn't start the sync", or else the API's title); `detail` the API's own words.
 */
export function describe(error, context) {
  if (!(error instanceof ApiError)) {
    return { lead: context || 'Something went wrong', detail: joined('Please reload the page and try again', String(error?.message || '')) };
  }
  if (error.status === 404) {
    // Something the page showed is gone (removed in another tab, or by another device).
    return {
      lead: context || error.title || 'It is no longer there',
      detail: joined(error.detail || 'We could not find it', 'Reload the page to see what is there now'),
    };
  }
  if (context) return { lead: context, detail: joined(error.title, error.detail) };
  return { lead: error.title, detail: sentence(error.detail) };
}
