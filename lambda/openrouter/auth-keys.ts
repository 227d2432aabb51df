/**
 * Getting a user an OpenRouter key without copy and paste: OpenRouter's OAuth PKCE flow (the user approves at
 * openrouter.ai/auth, we exchange the code at `POST /auth/keys`), and, where the operator configured a
 * management key, creating a per-user key with a credit limit (`POST /keys`). Keys returned here go straight to
 * the account store's encryption; they are never logged or shown.
 */
import * as z from 'zod';
import { trimTrailingSlashes } from '../http/path.js';
import { challengeFor } from '../oauth/pkce.js';

export class KeyExchangeError extends Error {
  override readonly name = 'KeyExchangeError';
}

const ExchangeResponse = z.object({ key: z.string().min(8).max(512) });
const CreateKeyResponse = z.object({ key: z.string().min(8).max(512) });

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

/** Creates a key for one user with the operator's management key (which is never the user's). */
export async function createProvisionedKey(options: OpenRouterAuthOptions, managementKey: string, details: { name: string; limitUsd?: number }): Promise<string> {
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
  return parsed.data.key;
}
