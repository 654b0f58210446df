// The web UI's only script, loaded from this origin (the CSP allows no inline script). It runs in <head> so the
// theme is applied before the first paint; the rest waits for the document. Every page works without it.
(() => {
  const KEY = 'portcullis-theme';
  const root = document.documentElement;
  const stored = (() => {
    try {
      return localStorage.getItem(KEY);
    } catch {
      return null;
    }
  })();
  if (stored === 'light' || stored === 'dark' || stored === 'system') root.dataset.theme = stored;

  document.addEventListener('DOMContentLoaded', () => {
    const picker = document.querySelector('[data-theme-picker]');
    const select = document.getElementById('theme-select');
    if (picker && select) {
      select.value = root.dataset.theme || 'system';
      picker.hidden = false;
      select.addEventListener('change', () => {
        root.dataset.theme = select.value;
        try {
          localStorage.setItem(KEY, select.value);
        } catch {
          // Private windows may refuse storage: the choice then lasts for this page.
        }
      });
    }

    // Copy buttons: navigator.clipboard needs a secure context (https or localhost); elsewhere the text is selected
    // for the user to copy.
    for (const button of document.querySelectorAll('[data-copy]')) {
      const input = document.getElementById(button.getAttribute('data-copy'));
      const status = document.querySelector('[data-copy-status]');
      if (!input) continue;
      button.hidden = false;
      button.addEventListener('click', async () => {
        input.focus();
        input.select();
        try {
          await navigator.clipboard.writeText(input.value);
          if (status) status.textContent = 'Copied to the clipboard.';
        } catch {
          if (status) status.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
        }
      });
    }

    // Times are rendered in UTC on the server; shown in the reader's own time zone here.
    const format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    for (const time of document.querySelectorAll('time[data-local-time]')) {
      const date = new Date(time.getAttribute('datetime'));
      if (!Number.isNaN(date.getTime())) {
        time.title = time.textContent;
        time.textContent = format.format(date);
      }
    }

    // After log out, on to the provider's end-session endpoint (a link the reader can follow without script).
    const follow = document.querySelector('a[data-follow]');
    if (follow) window.location.replace(follow.href);
  });
})();
