/**
 * The browser session after sign-in: a sealed cookie holding the user id, a per-session CSRF secret and an
 * expiry. Nothing is stored server-side, so signing out clears the cookie and the session simply ends at its
 * expiry (kept short for that reason).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../crypto/keyring.js';
import { seal, unseal, type SealPurpose } from '../crypto/sealed.js';
import { clearCookie, cookieName, readCookie, setCookie } from './cookies.js';

export interface Session {
  userId: string;
  /** Sent back in every form; a cross-site page cannot read it. */
  csrf: string;
  /** May open the operator page (auth/admin-access.ts), decided at sign-in. */
  admin?: boolean;
}

export const SESSION_TTL_SECONDS = 8 * 3600;
const SESSION_COOKIE = 'ormcp_session';

/** Short-lived sealed cookies that carry one step of a redirect flow to the next. */
export interface FlowCookie {
  name: string;
  purpose: SealPurpose;
  ttlSeconds: number;
}

export const FLOW_COOKIES = {
  /** The client's authorization request while the user signs in and consents. */
  authorization: { name: 'ormcp_authz', purpose: 'authorization', ttlSeconds: 15 * 60 },
  /** Our own login at the identity provider (state, nonce, PKCE verifier, where to go next). */
  upstreamLogin: { name: 'ormcp_login', purpose: 'upstream-login', ttlSeconds: 10 * 60 },
  /** The OpenRouter OAuth PKCE verifier and callback nonce while the user approves at OpenRouter. */
  openRouterConnect: { name: 'ormcp_orconnect', purpose: 'openrouter-connect', ttlSeconds: 10 * 60 },
  /** A key OpenRouter just handed over, held until the user confirms it replaces the key they already have. */
  openRouterReplace: { name: 'ormcp_orreplace', purpose: 'openrouter-replace', ttlSeconds: 10 * 60 },
  /** A token just created, between the form post and the one page that shows it (post/redirect/get). */
  newToken: { name: 'ormcp_newtoken', purpose: 'new-token', ttlSeconds: 5 * 60 },
} as const satisfies Record<string, FlowCookie>;

export class Cookies {
  constructor(
    private readonly keyring: Keyring,
    /** True when the public URL is https. */
    readonly secure: boolean,
  ) {}

  session(request: Request): Session | undefined {
    const s = unseal<{ uid?: unknown; csrf?: unknown; adm?: unknown }>(this.keyring, 'session', readCookie(request, cookieName(SESSION_COOKIE, this.secure)));
    return s && typeof s.uid === 'string' && typeof s.csrf === 'string' ? { userId: s.uid, csrf: s.csrf, ...(s.adm === true ? { admin: true } : {}) } : undefined;
  }

  startSession(userId: string, options: { admin?: boolean } = {}): string {
    const value = seal(this.keyring, 'session', { uid: userId, csrf: randomBytes(24).toString('base64url'), ...(options.admin ? { adm: true } : {}) }, SESSION_TTL_SECONDS);
    return setCookie(SESSION_COOKIE, value, { secure: this.secure, maxAgeSeconds: SESSION_TTL_SECONDS });
  }

  endSession(): string {
    return clearCookie(SESSION_COOKIE, this.secure);
  }

  readFlow<T extends object>(request: Request, flow: FlowCookie): T | undefined {
    return unseal<T>(this.keyring, flow.purpose, readCookie(request, cookieName(flow.name, this.secure)));
  }

  writeFlow(flow: FlowCookie, payload: object): string {
    return setCookie(flow.name, seal(this.keyring, flow.purpose, payload, flow.ttlSeconds), { secure: this.secure, maxAgeSeconds: flow.ttlSeconds });
  }

  clearFlow(flow: FlowCookie): string {
    return clearCookie(flow.name, this.secure);
  }
}

/** Constant-time check of a submitted CSRF value against the session's. */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  return secretMatches(session.csrf, submitted);
}

/** Constant-time check of a submitted value against one only this server and the user's browser know. */
export function secretMatches(expected: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
