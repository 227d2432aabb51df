/** PKCE (RFC 7636), S256 only: `plain` would hand the verifier to anyone who sees the authorization request. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 43–128 characters of the unreserved set (RFC 7636 §4.1). */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** base64url of a SHA-256 digest: exactly 43 characters. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function isValidVerifier(verifier: string): boolean {
  return VERIFIER.test(verifier);
}

export function isValidChallenge(challenge: string): boolean {
  return CHALLENGE.test(challenge);
}

export function challengeFor(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export function verifyS256(verifier: string, challenge: string): boolean {
  if (!isValidVerifier(verifier) || !isValidChallenge(challenge)) return false;
  return timingSafeEqual(Buffer.from(challengeFor(verifier)), Buffer.from(challenge));
}

export function newVerifier(): string {
  return randomBytes(32).toString('base64url');
}
