// A confirmation dialog for actions that cannot be undone. The action runs inside the dialog:
// while it runs the buttons are busy; if it fails, the reason is shown there and the dialog
// stays open. Resolves true when the action succeeded, false when cancelled.

import { h, render } from './dom.js';
import { icon } from './icons.js';
import { describe } from './problem.js';

export function confirmAction({ title, text, confirmLabel, busyLabel, testid = 'confirm', errorContext, action }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    let busy = false;
    let done = false;
    const error = h('div', { class: 'dialog__error', role: 'alert', hidden: true, 'data-testid': `${testid}-error` });
    const cancel = h('button', { type: 'button', class: 'btn btn--secondary', 'data-testid': `${testid}-cancel` }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'btn btn--danger', 'data-testid': testid }, confirmLabel);
    const dialog = h('dialog', {
      class: 'dialog dialog--narrow', role: 'alertdialog', 'aria-labelledby': `${testid}-title`, 'aria-describedby': `${testid}-text`,
    });
    render(dialog,
      h('div', { class: 'dialog__head' },
        h('span', { class: 'dialog__warning-icon' }, icon('unplug', { size: 20 })),
        h('h2', { class: 'dialog__title', id: `${testid}-title` }, title)),
      h('p', { class: 'dialog__text', id: `${testid}-text` }, text),
      error,
      h('div', { class: 'dialog__actions' }, cancel, confirm));

    const close = () => { if (!busy) dialog.close(); };
    cancel.addEventListener('click', close);
    dialog.addEventListener('cancel', (event) => { if (busy) event.preventDefault(); });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (!done && opener?.isConnected) opener.focus();
      resolve(done);
    });
    confirm.addEventListener('click', async () => {
      busy = true;
      confirm.disabled = true;
      cancel.disabled = true;
      confirm.replaceChildren(h('span', { class: 'spinner spinner--light', 'aria-hidden': 'true' }), busyLabel || `${confirmLabel}…`);
      error.hidden = true;
      try {
        await action();
        done = true;
        busy = false;
        dialog.close();
      } catch (err) {
        busy = false;
        confirm.disabled = false;
        cancel.disabled = false;
        confirm.textContent = confirmLabel;
        const m = describe(err, errorContext);
        error.replaceChildren(icon('alert'), h('div', {}, h('p', { class: 'dialog__error-lead' }, m.lead), h('p', { class: 'dialog__error-detail' }, m.detail)));
        error.hidden = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
