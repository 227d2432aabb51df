/**
 * Getting a user an OpenRouter key without copy and paste: OpenRouter's OAuth PKCE flow (the user approves at
 * openrouter.ai/auth, we exchange the code at `POST /auth/keys`), and, where the operator configured a
 * management key, creating a per-user key with a credit limit (`POST /keys`) and deleting it again
 * (`DELETE /keys/{hash}`). Keys returned here go straight to the account store's encryption; they are never logged
 * or shown.
 */
import * as z from 'zod';
import { challengeFor } from '../crypto/pkce.js';
import { trimTrailingSlashes } from '../http/path.js';

export class KeyExchangeError extends Error {
  override readonly name = 'KeyExchangeError';
}

const ExchangeResponse = z.object({ key: z.string().min(8).max(512) });
/** The hash is OpenRouter's id for the key (`DELETE /keys/{hash}`); it goes into a URL path, so only URL-safe ones are taken. */
const KeyHash = z.string().regex(/^[A-Za-z0-9_-]{1,200}$/);
const CreateKeyResponse = z.object({ key: z.string().min(8).max(512), data: z.object({ hash: KeyHash }) });

/** A key created with the management key: the secret (stored encrypted) and its hash (to delete it later). */
export interface ProvisionedKey {
  key: string;
  hash: string;
}

export interface OpenRouterAuthOptions {
  /** API base, e.g. https://openrouter.ai/api/v1 */
  baseUrl: string;
  /** The consent page, e.g. https://openrouter.ai/auth */
  authUrl: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** Where to send the user to approve a key for this server. */
export function openRouterAuthorizeUrl(options: OpenRouterAuthOptions, callbackUrl: string, verifier: string): string {
  const url = new URL(options.authUrl);
  url.searchParams.set('callback_url', callbackUrl);
  url.searchParams.set('code_challenge', challengeFor(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}

export async function exchangeOpenRouterCode(options: OpenRouterAuthOptions, code: string, verifier: string): Promise<string> {
  const res = await (options.fetch ?? fetch)(`${trimTrailingSlashes(options.baseUrl)}/auth/keys`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ code, code_verifier: verifier, code_challenge_method: 'S256' }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  }).catch(() => {
    throw new KeyExchangeError('OpenRouter could not be reached');
  });
  if (!res.ok) throw new KeyExchangeError(res.status === 400 || res.status === 403 ? 'OpenRouter refused the authorization code (it may have expired)' : `OpenRouter answered HTTP ${res.status}`);
  const parsed = ExchangeResponse.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) throw new KeyExchangeError('OpenRouter returned no key');
  return parsed.data.key;
}

/**
 * Deletes a key created with the management key. A 404 counts as deleted: the key is already gone (an operator
 * deleted it at openrouter.ai), which is the state we want.
 */
export async function deleteProvisionedKey(options: OpenRouterAuthOptions, managementKey: string, hash: string): Promise<void> {
  if (!KeyHash.safeParse(hash).success) throw new KeyExchangeError('the stored key hash is malformed');
  const res = await (options.fetch ?? fetch)(`${trimTrailingSlashes(options.baseUrl)}/keys/${encodeURIComponent(hash)}`, {
    method: 'DELETE',
    headers: { Accept: 'application/json', Authorization: `Bearer ${managementKey}` },
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  }).catch(() => {
    throw new KeyExchangeError('OpenRouter could not be reached');
  });
  await res.body?.cancel().catch(() => undefined);
  if (!res.ok && res.status !== 404) throw new KeyExchangeError(`OpenRouter refused to delete the key (HTTP ${res.status})`);
}

/** Creates a key for one user with the operator's management key (which is never the user's). */
export async function createProvisionedKey(options: OpenRouterAuthOptions, managementKey: string, details: { name: string; limitUsd?: number }): Promise<ProvisionedKey> {
  const res = await (options.fetch ?? fetch)(`${trimTrailingSlashes(options.baseUrl)}/keys`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: `Bearer ${managementKey}` },
    body: JSON.stringify({ name: details.name.slice(0, 100), ...(details.limitUsd !== undefined ? { limit: details.limitUsd } : {}) }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  }).catch(() => {
    throw new KeyExchangeError('OpenRouter could not be reached');
  });
  if (!res.ok) throw new KeyExchangeError(`OpenRouter refused to create a key (HTTP ${res.status})`);
  const parsed = CreateKeyResponse.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) throw new KeyExchangeError('OpenRouter returned no key');
  return { key: parsed.data.key, hash: parsed.data.data.hash };
}
