/** The start page, the signed-in dashboard and the one-time token page. */
import { CLIENTS, clientSetup, type ClientName } from '../mcp-clients/client-snippets.js';
import type { ServerUrls } from '../oauth/metadata.js';
import type { Grant, TokenInfo, User } from '../store/account-store.js';
import { html, page, type Html } from '../ui/html.js';
import { connectKeyForms } from '../ui/pages.js';
import type { Session } from '../ui/session.js';

export interface DashboardData {
  user: User;
  session: Session;
  tokens: TokenInfo[];
  grants: Grant[];
  key?: { status: 'ok'; info: KeyUsage } | { status: 'rejected' | 'unavailable' | 'unreadable' };
  provisioningAvailable: boolean;
  /** The usage page (and, for admins, the operator page) are served. */
  teamViews?: boolean;
  /** Origins a form post may end up at (the identity provider's logout). */
  formActions?: string[];
  /** What the action that led here did. */
  notice?: Notice;
}

/** The confirmations the dashboard shows after an action; only these fixed texts, never text from the URL. */
const NOTICES = {
  'key-connected': 'Your OpenRouter key is connected.',
  'key-removed': 'Your OpenRouter key was removed. The tools stop working until you connect one again.',
  'key-kept': 'Your current OpenRouter key was kept. The key OpenRouter just created was not stored; you can delete it in your OpenRouter account.',
  'token-revoked': 'The token was revoked. Clients using it are refused from now on.',
  'app-disconnected': 'The application was disconnected. It has to ask you again to get back in.',
} as const;
export type Notice = keyof typeof NOTICES;

export function isNotice(value: unknown): value is Notice {
  return typeof value === 'string' && Object.hasOwn(NOTICES, value);
}

export interface KeyUsage {
  limit?: number | null;
  limit_remaining?: number | null;
  usage?: number | null;
  is_free_tier?: boolean | null;
}

const CLIENT_TITLES: Record<ClientName, string> = {
  'claude-code': 'Claude Code',
  cursor: 'Cursor',
  vscode: 'VS Code',
  'claude-desktop': 'Claude Desktop / Claude.ai',
  chatgpt: 'ChatGPT',
};

export function landingPage(urls: ServerUrls, signedIn: boolean, signInAvailable: boolean): Response {
  return page({
    base: urls.base,
    title: 'Welcome',
    body: html`<section class="card"><h1>OpenRouter MCP server</h1>
<p>Every OpenRouter model in your MCP client (ChatGPT, Claude, Claude Code, Cursor, VS Code), billed to your own OpenRouter key.</p>
${copyField('mcp-url', 'MCP server URL', urls.resource)}
${
  signInAvailable
    ? html`<p><a class="button primary" href="${urls.base}/app${signedIn ? '' : '/login'}">${signedIn ? 'Open your account' : 'Sign in'}</a></p>
<p class="muted">Clients that support OAuth (ChatGPT, Claude, Claude Code, VS Code, Cursor) only need the URL: they send you here to sign in.</p>`
    : html`<p class="muted">Ask the operator for a personal MCP token and send it as <code>Authorization: Bearer &lt;token&gt;</code>.</p>`
}
</section>`,
  });
}

export function dashboardPage(urls: ServerUrls, d: DashboardData): Response {
  const csrf = html`<input type="hidden" name="csrf" value="${d.session.csrf}">`;
  return page({
    base: urls.base,
    title: 'Your account',
    formActions: d.formActions ?? [],
    body: html`<section class="card"><div class="row"><h1>Your account</h1>
<form method="post" action="${urls.base}/app/logout">${csrf}<button type="submit" class="link">Sign out</button></form></div>
${d.notice ? html`<p class="notice" role="status" data-testid="notice">${NOTICES[d.notice]}</p>` : ''}
<p>Signed in as <strong data-testid="user-name">${d.user.name}</strong>.</p>
${d.teamViews ? html`<p class="links"><a href="${urls.base}/app/usage">Your usage and defaults</a>${d.session.admin ? html` · <a href="${urls.base}/admin">Operator page</a>` : ''}</p>` : ''}
${copyField('mcp-url', 'MCP server URL', urls.resource)}
</section>

<section class="card" aria-labelledby="key-h"><h2 id="key-h">OpenRouter key</h2>
${d.user.hasKey ? keyStatus(urls, d, csrf) : html`<p data-testid="key-status">No key connected yet: connect one to use the tools.</p>
${connectKeyForms(urls.base, d.session, '/app')}
${d.provisioningAvailable ? html`<form method="post" action="${urls.base}/app/key/provision">${csrf}<button type="submit">Create a key for me</button></form>` : ''}`}
</section>

<section class="card" aria-labelledby="tokens-h"><h2 id="tokens-h">Personal MCP tokens</h2>
<p class="muted">For clients configured with a static header. OAuth clients do not need one.</p>
${
  d.tokens.length
    ? html`<table><caption class="visually-hidden">Active personal tokens</caption><thead><tr><th scope="col">Label</th><th scope="col">Id</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>
${d.tokens.map(
  (t) => html`<tr data-token-id="${t.tokenId}"><td>${t.label}</td><td><code>${t.tokenId}</code></td><td>${day(t.createdAt)}</td><td>${t.expiresAt ? day(t.expiresAt) : 'never'}</td><td>${t.lastUsedAt ? day(t.lastUsedAt) : '—'}</td>
<td><form method="post" action="${urls.base}/app/tokens/revoke">${csrf}<input type="hidden" name="token_id" value="${t.tokenId}"><button type="submit" class="danger" aria-label="Revoke token ${t.label} (${t.tokenId})">Revoke</button></form></td></tr>`,
)}</tbody></table>`
    : html`<p data-testid="no-tokens">No active tokens.</p>`
}
<form method="post" action="${urls.base}/app/tokens" class="inline">${csrf}
<label for="token-label">Label</label><input id="token-label" name="label" maxlength="100" placeholder="e.g. laptop">
<label for="token-expires">Expires</label><select id="token-expires" name="expires"><option value="30d">in 30 days</option><option value="90d" selected>in 90 days</option><option value="365d">in a year</option><option value="never">never</option></select>
<button type="submit" class="primary">Create token</button></form>
</section>

<section class="card" aria-labelledby="apps-h"><h2 id="apps-h">Connected applications</h2>
${
  d.grants.length
    ? html`<ul class="plain">${d.grants.map(
        (g) => html`<li data-grant-id="${g.grantId}"><strong>${g.clientName}</strong> <span class="muted">since ${day(g.createdAt)}</span>
<form method="post" action="${urls.base}/app/grants/revoke" class="inline">${csrf}<input type="hidden" name="grant_id" value="${g.grantId}"><button type="submit" class="danger" aria-label="Disconnect ${g.clientName}">Disconnect</button></form></li>`,
      )}</ul>`
    : html`<p>No application has signed in through OAuth yet.</p>`
}
</section>

<section class="card" aria-labelledby="setup-h"><h2 id="setup-h">Set up your client</h2>
${CLIENTS.map((c) => {
  const setup = clientSetup(c, urls.resource, '<your-token>');
  return html`<details><summary>${CLIENT_TITLES[c]}</summary><p class="muted">${setup.before.join(' ')}</p>${copyField(`setup-${c}`, `${CLIENT_TITLES[c]} setup`, setup.snippet, true)}${setup.after.length ? html`<p class="muted">${setup.after.join(' ')}</p>` : ''}</details>`;
})}
</section>`,
  });
}

function keyStatus(urls: ServerUrls, d: DashboardData, csrf: Html): Html {
  const k = d.key;
  const usage =
    k?.status === 'ok'
      ? html`<dl class="usage"><dt>Used</dt><dd data-testid="key-usage">${usd(k.info.usage)}</dd><dt>Limit</dt><dd>${k.info.limit == null ? 'none' : usd(k.info.limit)}</dd><dt>Remaining</dt><dd>${k.info.limit_remaining == null ? '—' : usd(k.info.limit_remaining)}</dd></dl>`
      : k?.status === 'rejected'
        ? html`<p class="warn">OpenRouter rejects this key now (revoked or expired): replace it.</p>`
        : k?.status === 'unreadable'
          ? html`<p class="warn">The stored key cannot be read any more (the server secret changed): connect it again.</p>`
          : html`<p class="muted">Usage is unavailable right now.</p>`;
  return html`<p data-testid="key-status">Connected${d.user.keyUpdatedAt ? html` on ${day(d.user.keyUpdatedAt)}` : ''}.</p>${usage}
<details><summary>Replace the key</summary>${connectKeyForms(urls.base, d.session, '/app')}</details>
<form method="post" action="${urls.base}/app/key/remove" data-confirm="Remove your OpenRouter key? The tools stop working until you connect a key again.">${csrf}<button type="submit" class="danger">Remove key</button></form>`;
}

export function tokenCreatedPage(urls: ServerUrls, token: string, label: string, cookies: string[] = []): Response {
  return page({
    base: urls.base,
    title: 'Token created',
    headers: cookies.length ? { 'Set-Cookie': cookies } : {},
    body: html`<section class="card"><h1>Your new MCP token</h1>
<p class="warn">Copy it now: it is shown only this once.</p>
${copyField('new-token', `Token "${label}"`, token)}
<p>Use it as <code>Authorization: Bearer &lt;token&gt;</code> with <code>${urls.resource}</code>.</p>
<p><a class="button" href="${urls.base}/app">Done</a></p></section>`,
  });
}

/** A read-only field with a copy button (app.js wires the button; without script the text stays selectable). */
function copyField(id: string, label: string, value: string, multiline = false): Html {
  return html`<div class="copy"><label for="${id}" id="${id}-label">${label}</label>
${multiline ? html`<textarea id="${id}" readonly spellcheck="false" rows="${Math.min(12, value.split('\n').length + 1)}">${value}</textarea>` : html`<input id="${id}" readonly spellcheck="false" value="${value}">`}
<button type="button" class="copy-button" data-copy="${id}" aria-describedby="${id}-label">Copy</button></div>`;
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

/** Dollars; amounts under a cent keep four decimals so small usage does not read as zero. */
export function usd(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '—';
  return `$${v.toFixed(v !== 0 && Math.abs(v) < 0.01 ? 4 : 2)}`;
}
