/**
 * HTML pages without a framework: a tiny template with escaping, one stylesheet and one script served from
 * this server, and a strict Content-Security-Policy (no inline script or style at all), so an injected string can
 * never run. Pages are never cached and never framed.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Tagged template: every interpolated value is escaped unless it is already `Html`. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  return escapeHtml(v);
}

export function contentSecurityPolicy(formActions: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    // Chrome applies form-action to the redirects that follow a form post too (to the identity provider, to
    // the client's redirect URI), so those destinations are listed per response.
    `form-action 'self'${formActions.length ? ` ${formActions.join(' ')}` : ''}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export interface PageOptions {
  title: string;
  /** `<base>`: links and assets are absolute under the public base URL (which may carry a stage path). */
  base: string;
  body: Html;
  status?: number;
  headers?: Record<string, string | string[]>;
  formActions?: readonly string[];
}

export function page(options: PageOptions): Response {
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · OpenRouter MCP</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${options.base}/app/static/app.css">
<script src="${options.base}/app/static/app.js" defer></script>
</head>
<body>
<header class="top"><a class="brand" href="${options.base}/">OpenRouter MCP</a></header>
<main>
${options.body}
</main>
</body>
</html>
`;
  return htmlResponse(doc.value, options.status ?? 200, options.headers, options.formActions);
}

export function htmlResponse(body: string, status = 200, headers: Record<string, string | string[]> = {}, formActions: readonly string[] = []): Response {
  const h = new Headers({
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': contentSecurityPolicy(formActions),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    // same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with every form post, even to
    // this origin, and the same-origin check then refuses them all. Other sites still get no Referer at all (the
    // callback URLs carry one-time codes).
    'Referrer-Policy': 'same-origin',
  });
  appendHeaders(h, headers);
  return new Response(body, { status, headers: h });
}

/** A 303 (after a form post) or 302 redirect carrying cookies. */
export function redirect(location: string, cookies: string[] = [], status: 302 | 303 = 302): Response {
  const h = new Headers({ Location: location, 'Cache-Control': 'no-store', 'Referrer-Policy': 'same-origin' });
  for (const c of cookies) h.append('Set-Cookie', c);
  return new Response(null, { status, headers: h });
}

export function appendHeaders(target: Headers, headers: Record<string, string | string[]>): void {
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) for (const one of v) target.append(k, one);
    else target.set(k, v);
  }
}
