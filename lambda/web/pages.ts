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

/** Shown during an authorization (and on the dashboard) while the user has no OpenRouter key yet. */
export function connectKeyForms(base: string, session: Session, next: string): Html {
  return html`<div class="connect">
<a class="button primary" href="${base}/app/openrouter/connect?next=${encodeURIComponent(next)}">Connect OpenRouter</a>
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

export function connectKeyPage(base: string, session: Session, next: string, clientName: string): Response {
  return page({
    base,
    title: 'Connect OpenRouter',
    formActions: [],
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
<button type="submit" name="decision" value="approve" class="primary">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</section>`,
  });
}
