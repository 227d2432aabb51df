/**
 * The local identity provider's pages (sign-in, sign-out, errors), in the look of the server's own pages: the
 * same layout and stylesheet (served by the provider from its own origin) and the same strict CSP, labelled fields.
 */
import { Html, html, page } from '../ui/html.js';

export interface LoginPageOptions {
  /** The provider's base URL (its pages' assets are served under it). */
  base: string;
  /** The MCP server's base URL: where the sign-in ends (its callback), allowed as a form-post redirect target. */
  serverUrl: string;
  uid: string;
  name?: string;
  error?: string;
  status?: number;
}

export function loginPage(o: LoginPageOptions): Response {
  return page({
    base: o.base,
    title: 'Sign in',
    status: o.status ?? 200,
    formActions: [new URL(o.serverUrl).origin],
    body: html`<section class="card"><h1>Sign in</h1>
<p>Sign in with the local account of this OpenRouter MCP server.</p>
${o.error ? html`<p class="warn" role="alert" id="login-error">${o.error}</p>` : ''}
<form method="post" action="${o.base}/interaction/${o.uid}/login" class="stack">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" spellcheck="false" autocapitalize="none" required maxlength="128" value="${o.name ?? ''}"${o.error ? html` aria-describedby="login-error"` : ''}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>
<form method="post" action="${o.base}/interaction/${o.uid}/abort"><button type="submit" class="link">Cancel</button></form>
<p class="muted">No password yet? The operator sets one with <code>npx ormcp user set-password &lt;name&gt;</code>.</p>
</section>`,
  });
}

/** A page of the provider that only says something (errors, sign-out done). */
export function messagePage(base: string, serverUrl: string, title: string, message: string, status = 200): Response {
  return page({
    base,
    title,
    status,
    body: html`<section class="card" role="${status >= 400 ? 'alert' : 'status'}"><h1>${title}</h1><p>${message}</p><p><a href="${serverUrl}/">Back to the start page</a></p></section>`,
  });
}

/** The sign-out confirmation; `form` is the provider's own form element (an action URL and its xsrf field). */
export function logoutPage(base: string, serverUrl: string, form: string): Response {
  return page({
    base,
    title: 'Sign out',
    formActions: [new URL(serverUrl).origin],
    body: html`<section class="card"><h1>Sign out of the local sign-in?</h1>
${new Html(form)}
<div class="actions"><button type="submit" form="op.logoutForm" value="yes" name="logout" class="primary">Sign out</button>
<button type="submit" form="op.logoutForm">Stay signed in</button></div>
</section>`,
  });
}
