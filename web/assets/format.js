// Numbers, durations and dates in plain words.

const numberFormat = new Intl.NumberFormat(undefined);
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const shortDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const longDay = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' });

export const count = (n) => numberFormat.format(Math.round(Number(n) || 0));

/** "1 item", "142 items". */
export function items(n) {
  const value = Math.round(Number(n) || 0);
  return `${count(value)} ${value === 1 ? 'item' : 'items'}`;
}

/** Minutes as hours and minutes, in parts: [{ value: '4', unit: 'h' }, { value: '44', unit: 'min' }]. */
export function durationParts(minutes) {
  const total = Math.max(0, Math.round(Number(minutes) || 0));
  if (total < 60) return [{ value: String(total), unit: 'min' }];
  const hours = Math.floor(total / 60);
  const rest = total % 60;
  const parts = [{ value: count(hours), unit: 'h' }];
  if (rest) parts.push({ value: String(rest), unit: 'min' });
  return parts;
}

/** "45 min", "4 h 44 min", "12 h". */
export const duration = (minutes) => durationParts(minutes).map((p) => `${p.value} ${p.unit}`).join(' ');

/** "in 25 minutes", "5 minutes ago", "yesterday". */
export function fromNow(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const seconds = Math.round((at - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return seconds <= 0 ? 'just now' : 'in a moment';
  if (abs < 3570) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 84600) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86400), 'day');
}

export const when = (iso) => (Number.isNaN(Date.parse(iso)) ? '' : dateTime.format(new Date(iso)));
export const clock = (date) => timeOnly.format(date);

/** "Nov 12" for a "YYYY-MM-DD" day. */
export const day = (ymd) => shortDay.format(new Date(`${ymd}T00:00:00Z`));
export const dayLong = (ymd) => longDay.format(new Date(`${ymd}T00:00:00Z`));

const weekdayDay = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric', timeZone: 'UTC' });
/** "Thu, Dec 3" for a "YYYY-MM-DD" day. */
export const dayShort = (ymd) => weekdayDay.format(new Date(`${ymd}T00:00:00Z`));

/** Whether a value is a plain date ("YYYY-MM-DD", an all-day event or a date-only due date). */
export const isDateOnly = (value) => /^\d{4}-\d{2}-\d{2}$/.test(String(value ?? ''));

const ymdFormats = new Map();
/** The calendar day ("YYYY-MM-DD") of an instant in a time zone (the browser's when not given). */
export function ymdIn(date, timeZone) {
  const key = timeZone || '';
  let format = ymdFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone: timeZone || undefined, year: 'numeric', month: '2-digit', day: '2-digit' });
    ymdFormats.set(key, format);
  }
  const parts = Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** The day of a due date or start: a plain date as it is, a time as its day in the browser's zone. */
export const dayOf = (value) => (isDateOnly(value) ? value : Number.isNaN(Date.parse(value)) ? null : ymdIn(new Date(value)));

/** Whole days from one "YYYY-MM-DD" to another (negative when `to` is earlier). */
export function daysBetween(from, to) {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** "1 day", "3 days". */
export const days = (n) => `${count(n)} day${Math.abs(n) === 1 ? '' : 's'}`;

/** "2 minutes", "45 seconds", "1 hour". */
export function wait(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const hrs = Math.ceil(m / 60);
  return `${hrs} hour${hrs === 1 ? '' : 's'}`;
}

/** "1.2 s", "3 min 5 s". */
export function elapsed(ms) {
  const s = Math.max(0, Number(ms) || 0) / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** What the page says instead of sync controls for a connection that cannot sync (canSync: false). */
export const RECEIVES_POSTS = 'Director of One posts to this webhook; there is nothing to sync from it.';

/** The interval choices' labels: "15 min", "1 h", "24 h" (and "1 h 30 min" for odd ones). */
export const interval = (minutes) => duration(minutes);

/**
 * A message from the service as a sentence: trimmed, capitalised, with a full stop
 * ("the connection was removed" → "The connection was removed.").
 */
export function sentence(text) {
  const t = String(text ?? '').trim();
  if (!t) return '';
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}

/** "Google Calendar" → "GC", for monograms and avatars. */
export function initials(name) {
  const words = String(name || '?').trim().split(/[\s._@-]+/).filter(Boolean);
  return (words.length > 1 ? words[0][0] + words[1][0] : (words[0] || '?').slice(0, 2)).toUpperCase();
}
