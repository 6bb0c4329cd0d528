// Tiny DOM helpers: build elements declaratively, keep focus across re-renders.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key in el && !(el instanceof SVGElement) && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h('button', { class: 'btn', onClick }, 'Label'). */
export function h(tag, props, ...children) {
  return append(apply(document.createElement(tag), props), children);
}

/** An SVG element. */
export function s(tag, props, ...children) {
  return append(apply(document.createElementNS(SVG_NS, tag), props), children);
}

/**
 * What makes an element the same one after a re-render: its `data-key` (set on controls that are
 * rebuilt, e.g. `manage:<connectionId>`), else its id. Never a test id: two elements for the
 * same integration (two Trello connections) must stay apart.
 */
export const identity = (el) => el?.getAttribute?.('data-key') || el?.id || null;

/** Replaces the children of `container`, re-focusing the element with the same identity. */
export function render(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? identity(active) : null;
  container.replaceChildren();
  append(container, children);
  if (key) {
    const again = [...container.querySelectorAll('[data-key], [id]')].find((el) => identity(el) === key);
    if (again) again.focus({ preventScroll: true });
  }
}

let uid = 0;
/** A unique id for aria-* references. */
export function uniqueId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** Moves focus to an element, making it focusable if needed, and scrolls it into view. */
export function focusOn(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && el.tabIndex < 0) el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: true });
  el.scrollIntoView({ behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth', block: 'center' });
}
