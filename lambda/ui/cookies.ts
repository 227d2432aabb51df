/** Cookie parsing and serialising (RFC 6265), for the few cookies the sign-in pages use. */

export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (!header || header.length > 16_384) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  /** Secure + the `__Host-` prefix; off only for plain-http loopback development. */
  secure: boolean;
  maxAgeSeconds: number;
}

/** HttpOnly, SameSite=Lax (the sign-in redirects arrive as top-level navigations from Cognito), Path=/. */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  const attrs = [`${cookieName(name, options.secure)}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${options.maxAgeSeconds}`];
  if (options.secure) attrs.push('Secure');
  return attrs.join('; ');
}

export function clearCookie(name: string, secure: boolean): string {
  return setCookie(name, '', { secure, maxAgeSeconds: 0 });
}

/** `__Host-` binds the cookie to this exact host, Secure and Path=/ (no subdomain can set or read it). */
export function cookieName(name: string, secure: boolean): string {
  return secure ? `__Host-${name}` : name;
}
