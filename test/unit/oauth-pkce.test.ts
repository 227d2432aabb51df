import { challengeFor, isValidChallenge, isValidVerifier, newVerifier, verifyS256 } from '../../lambda/crypto/pkce.js';

// RFC 7636 Appendix B.
const RFC_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const RFC_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

test('S256 matches the RFC 7636 example', () => {
  expect(challengeFor(RFC_VERIFIER)).toBe(RFC_CHALLENGE);
  expect(verifyS256(RFC_VERIFIER, RFC_CHALLENGE)).toBe(true);
});

test('a different verifier, or the verifier itself as challenge (plain), does not verify', () => {
  expect(verifyS256(`${RFC_VERIFIER.slice(0, -1)}l`, RFC_CHALLENGE)).toBe(false);
  expect(verifyS256(RFC_VERIFIER, RFC_VERIFIER)).toBe(false);
  expect(verifyS256(RFC_VERIFIER, `${RFC_CHALLENGE.slice(0, -1)}N`)).toBe(false);
});

test('verifiers: 43–128 characters of the unreserved set', () => {
  expect(isValidVerifier('a'.repeat(43))).toBe(true);
  expect(isValidVerifier('a'.repeat(128))).toBe(true);
  expect(isValidVerifier('A-._~9z'.padEnd(43, 'x'))).toBe(true);
  expect(isValidVerifier('a'.repeat(42))).toBe(false);
  expect(isValidVerifier('a'.repeat(129))).toBe(false);
  for (const bad of ['+', '/', '=', ' ', '%', '\n', 'é']) expect(isValidVerifier(`${'a'.repeat(42)}${bad}`)).toBe(false);
});

test('challenges: exactly 43 base64url characters; malformed ones never verify', () => {
  expect(isValidChallenge(RFC_CHALLENGE)).toBe(true);
  expect(isValidChallenge(RFC_CHALLENGE.slice(1))).toBe(false);
  expect(isValidChallenge(`${RFC_CHALLENGE}=`)).toBe(false);
  expect(isValidChallenge(RFC_CHALLENGE.replace('-', '+'))).toBe(false);
  // Even a verifier whose digest "matches" after lenient decoding is refused when the challenge is malformed.
  expect(verifyS256(RFC_VERIFIER, `${RFC_CHALLENGE}=`)).toBe(false);
  expect(verifyS256('short', challengeFor('short'))).toBe(false);
});

test('new verifiers are valid, random, and verify against their own challenge', () => {
  const a = newVerifier();
  const b = newVerifier();
  expect(isValidVerifier(a)).toBe(true);
  expect(a).not.toBe(b);
  expect(verifyS256(a, challengeFor(a))).toBe(true);
  expect(verifyS256(b, challengeFor(a))).toBe(false);
});
