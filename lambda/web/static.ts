/** The pages' only stylesheet and script, served from this origin so the CSP needs no 'unsafe-inline'. */

const CSS = `
:root { color-scheme: light dark; --fg: #1b1b1f; --bg: #f6f6f8; --card: #fff; --muted: #5d5d6b; --accent: #4f46e5; --danger: #b42318; --border: #d9d9e0; }
@media (prefers-color-scheme: dark) { :root { --fg: #ececf1; --bg: #121216; --card: #1c1c22; --muted: #a0a0ad; --accent: #8b85ff; --danger: #ff6b5e; --border: #33333d; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
.top { padding: 12px 20px; border-bottom: 1px solid var(--border); background: var(--card); }
.brand { font-weight: 700; color: var(--fg); text-decoration: none; }
main { max-width: 860px; margin: 24px auto; padding: 0 16px; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 10px; padding: 20px 24px; margin-bottom: 20px; }
h1 { font-size: 1.5rem; margin: 0 0 12px; } h2 { font-size: 1.2rem; margin: 0 0 12px; }
.muted { color: var(--muted); font-size: .92rem; } .warn { color: var(--danger); font-weight: 600; }
.row { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; }
.copy { display: grid; grid-template-columns: 1fr auto; gap: 6px 8px; margin: 12px 0; }
.copy label { grid-column: 1 / -1; font-weight: 600; }
input, select, textarea { font: inherit; padding: 8px 10px; border: 1px solid var(--border); border-radius: 6px; background: var(--bg); color: var(--fg); width: 100%; }
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; resize: vertical; }
button, .button { font: inherit; display: inline-block; padding: 8px 14px; border-radius: 6px; border: 1px solid var(--border); background: var(--card); color: var(--fg); cursor: pointer; text-decoration: none; }
button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--danger); } button.link { border: none; background: none; color: var(--accent); padding: 0; }
button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.stack { display: grid; gap: 8px; margin-top: 12px; } .actions { display: flex; gap: 12px; margin-top: 16px; }
.inline { display: inline-flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 8px 0; } .inline input, .inline select { width: auto; }
table { width: 100%; border-collapse: collapse; margin-bottom: 12px; font-size: .92rem; } th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--border); }
.usage { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; } .usage dt { color: var(--muted); } .usage dd { margin: 0; }
.plain { list-style: none; padding: 0; margin: 0; } .plain li { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; padding: 6px 0; }
details { margin: 8px 0; } summary { cursor: pointer; font-weight: 600; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
.notice { border-left: 4px solid var(--accent); padding: 8px 12px; background: var(--bg); border-radius: 4px; }
.chart { width: 100%; height: auto; display: block; } .chart .bar { fill: var(--accent); } .chart .bar.empty { fill: var(--border); }
.chart .axis { stroke: var(--border); stroke-width: 1; } .chart .tick { fill: var(--muted); font-size: 11px; }
meter { width: 120px; vertical-align: middle; margin-left: 6px; }
.badge { font-size: .78rem; padding: 1px 6px; border-radius: 4px; border: 1px solid var(--danger); color: var(--danger); }
tr.sub td { border-bottom: 1px solid var(--border); padding-top: 0; } tr.sub details { margin: 0; } tr.sub summary { font-weight: 400; color: var(--muted); font-size: .88rem; }
.links { display: flex; gap: 8px; flex-wrap: wrap; }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
`;

// Copy buttons (the result is also announced to screen readers through one polite live region) and a confirmation
// before forms marked data-confirm. Without script the fields stay selectable and the forms submit directly. Wrapped
// in a function so nothing lands on window (a global named `status` would be window.status, a string).
const JS = `
(function () {
var live = document.createElement('p');
live.className = 'visually-hidden';
live.setAttribute('role', 'status');
document.body.appendChild(live);
document.addEventListener('click', function (event) {
  var button = event.target.closest && event.target.closest('button[data-copy]');
  if (!button) return;
  var field = document.getElementById(button.getAttribute('data-copy'));
  if (!field) return;
  var label = document.getElementById(field.id + '-label');
  var done = function () {
    button.textContent = 'Copied';
    live.textContent = 'Copied ' + (label ? label.textContent : 'the text') + ' to the clipboard.';
    setTimeout(function () { button.textContent = 'Copy'; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
  else { field.select(); try { document.execCommand('copy'); done(); } catch (e) { /* the text stays selected */ } }
});
document.addEventListener('submit', function (event) {
  var message = event.target.getAttribute && event.target.getAttribute('data-confirm');
  if (message && !window.confirm(message)) event.preventDefault();
});
})();
`;

export const STATIC_ASSETS: Record<string, { type: string; body: string }> = {
  'app.css': { type: 'text/css; charset=utf-8', body: CSS.trim() },
  'app.js': { type: 'text/javascript; charset=utf-8', body: JS.trim() },
};
