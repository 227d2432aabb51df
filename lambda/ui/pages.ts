/**
 * The pages, as pure functions from data to a Response. Every form carries the session's CSRF value and posts
 * to this server; nothing here runs inline script or style (see html.ts for the CSP).
 */
import type { Session } from './session.js';
import { html, page, type Html } from './html.js';

export function errorPage(base: string, title: string, message: string, status = 400, cookies: string[] = []): Response {
  return page({
    base,
    title,
    status,
    headers: cookies.length ? { 'Set-Cookie': cookies } : {},
    body: html`<section class="card" role="alert"><h1>${title}</h1><p>${message}</p><p><a href="${base}/">Back to the start page</a></p></section>`,
  });
}

/** /app on a server without sign-in: what the operator has to configure, as a page (never raw JSON). */
export function signInNotConfiguredPage(base: string): Response {
  return page({
    base,
    title: 'Sign-in is not configured',
    status: 404,
    body: html`<section class="card" role="alert"><h1>Sign-in is not configured</h1>
<p>This server has no identity provider, so there is nothing to sign in to here. The MCP endpoint still works with personal tokens (<code>npx ormcp token issue --user &lt;name&gt;</code>).</p>
<p>To turn the pages and OAuth sign-in on, set <code>ORMCP_OIDC_ISSUER</code> and <code>ORMCP_OIDC_CLIENT_ID</code> (and <code>ORMCP_OIDC_CLIENT_SECRET</code> for a confidential client) to your OpenID Connect provider. The deployed stack sets them to its Cognito user pool; <code>npm start</code> without them runs its own local sign-in.</p>
<p><a href="${base}/">Back to the start page</a></p></section>`,
  });
}

function csrfField(session: Session): Html {
  return html`<input type="hidden" name="csrf" value="${session.csrf}">`;
}

/**
 * Shown during an authorization (and on the dashboard) while the user has no OpenRouter key yet. "Connect
 * OpenRouter" is a form post (not a link) so that no other site can start the flow; the page showing it must allow
 * OpenRouter's consent page as a form-action, since the post ends in a redirect there.
 */
export function connectKeyForms(base: string, session: Session, next: string): Html {
  return html`<div class="connect">
<form method="post" action="${base}/app/openrouter/connect">
${csrfField(session)}
<input type="hidden" name="next" value="${next}">
<button type="submit" class="primary">Connect OpenRouter</button>
</form>
<p class="muted">Signs you in at OpenRouter and creates a key for this server.</p>
<form method="post" action="${base}/app/key" class="stack">
${csrfField(session)}
<input type="hidden" name="next" value="${next}">
<label for="openrouter-key">Or paste an OpenRouter API key</label>
<input id="openrouter-key" name="key" type="password" autocomplete="off" spellcheck="false" required minlength="8" maxlength="512" placeholder="sk-or-v1-…">
<button type="submit">Save key</button>
</form>
</div>`;
}

/** `formActions`: OpenRouter's consent page origin, where "Connect OpenRouter" redirects. */
export function connectKeyPage(base: string, session: Session, next: string, clientName: string, formActions: string[] = []): Response {
  return page({
    base,
    title: 'Connect OpenRouter',
    formActions,
    body: html`<section class="card"><h1>Connect OpenRouter first</h1>
<p>${clientName} will use OpenRouter through your account. Connect your OpenRouter key once; it is stored encrypted and used only for your requests.</p>
${connectKeyForms(base, session, next)}
</section>`,
  });
}

export interface ConsentDetails {
  clientName: string;
  /** Where the client's code will be sent (host or app scheme). */
  redirectHost: string;
  userName: string;
  /** The pending request this page shows: the decision is refused unless it comes back unchanged. */
  requestId: string;
}

/**
 * The CSP source that lets a form post end at `uri`: its origin for http(s); for an app scheme (`cursor://…`, whose
 * origin is opaque) the scheme itself. Undefined when `uri` is not a URL.
 */
export function formActionSource(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : undefined;
}

/** `redirectUris`: where the decision may send the browser (the client's redirect URI). */
export function consentPage(base: string, session: Session, details: ConsentDetails, redirectUris: string[]): Response {
  return page({
    base,
    title: 'Authorize access',
    // After the decision the browser is redirected to the client: Chrome checks that redirect against form-action.
    formActions: redirectUris.map(formActionSource).filter((s): s is string => s !== undefined),
    body: html`<section class="card"><h1>Allow ${details.clientName}?</h1>
<p><strong>${details.clientName}</strong> wants to use the OpenRouter MCP server as <strong>${details.userName}</strong>: it can call OpenRouter models with your key and spend its credit.</p>
<p class="muted">After you decide, you return to <strong>${details.redirectHost}</strong>. Only allow applications you just connected yourself.</p>
<form method="post" action="${base}/oauth/consent" class="actions">
${csrfField(session)}
<input type="hidden" name="request" value="${details.requestId}">
<button type="submit" name="decision" value="approve" class="primary">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</section>`,
  });
}

export interface ReplaceKeyDetails {
  /** When the current key was connected (ISO), if known. */
  connectedAt?: string;
}

/** After OpenRouter handed over a new key while one is connected: nothing is replaced until the user says so. */
export function replaceKeyPage(base: string, session: Session, details: ReplaceKeyDetails): Response {
  return page({
    base,
    title: 'Replace your OpenRouter key?',
    body: html`<section class="card"><h1>Replace your OpenRouter key?</h1>
<p data-testid="replace-key-status">You already have an OpenRouter key connected${details.connectedAt ? html` (since ${details.connectedAt.slice(0, 10)})` : ''}. OpenRouter just created a new key for this server.</p>
<p>If you replace it, your requests use the new key from now on. Only replace it if you just pressed "Connect OpenRouter" yourself.</p>
<form method="post" action="${base}/app/openrouter/confirm" class="actions">
${csrfField(session)}
<button type="submit" name="decision" value="replace" class="primary">Replace my key</button>
<button type="submit" name="decision" value="keep">Keep my current key</button>
</form>
</section>`,
  });
}
