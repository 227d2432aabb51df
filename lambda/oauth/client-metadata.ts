/**
 * Client ID Metadata Documents: a client whose `client_id` is an https URL publishes its registration there.
 * Fetching a URL chosen by anyone is a server-side request forgery risk, so the fetch is fenced: https only,
 * no credentials or fragment in the URL, every resolved address must be public (checked at connect time, so a
 * DNS answer cannot change between check and use; the address policy is in public-address.ts), no redirects, a
 * size cap and a time cap. A host that resolves to a non-public address gets the same answer as one that cannot
 * be reached, so the fetcher cannot be used to map which names point inside a network.
 *
 * Unauthenticated callers choose these URLs, so `limitedMetadataFetcher` bounds the cost: failures are cached
 * briefly (a failing URL is fetched at most once a minute per instance), and each host gets a few concurrent and
 * recent fetches. Successful documents are cached by the ClientDirectory.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from './public-address.js';

export { isPublicAddress } from './public-address.js';

export const MAX_METADATA_BYTES = 5 * 1024;

/** The one answer for "resolves to a non-public address", "does not resolve" and "refused the connection". */
export const UNREACHABLE = 'the host could not be reached';

export class MetadataFetchError extends Error {
  override readonly name = 'MetadataFetchError';
}

/** Why a client id URL cannot be a metadata document URL, or undefined when it can. */
export function metadataUrlProblem(clientId: string): string | undefined {
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:') return 'must use https';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash || clientId.includes('#')) return 'must not contain a fragment';
  if (url.pathname === '/' || url.pathname === '') return 'must have a path';
  if (/\/\.\.?(\/|$)/.test(url.pathname)) return 'must not contain dot segments';
  if (isIP(url.hostname.replace(/^\[|\]$/g, ''))) return 'must use a host name, not an IP address';
  if (url.href !== clientId) return 'must be in normalized form';
  return undefined;
}

export interface MetadataFetcher {
  /** The parsed JSON document at `url` (already checked with metadataUrlProblem). */
  fetchJson(url: URL): Promise<unknown>;
}

export interface HttpsMetadataFetcherOptions {
  timeoutMs?: number;
  maxBytes?: number;
  /** DNS lookup (tests substitute one). */
  lookup?: typeof dnsLookup;
  /** Address policy (tests may widen it to reach a loopback fixture). */
  isAllowedAddress?: (address: string) => boolean;
  /** Extra CA certificates (tests' self-signed fixture). */
  ca?: string | Buffer;
}

export function httpsMetadataFetcher(options: HttpsMetadataFetcherOptions = {}): MetadataFetcher {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxBytes = options.maxBytes ?? MAX_METADATA_BYTES;
  const resolve = options.lookup ?? dnsLookup;
  const allowed = options.isAllowedAddress ?? isPublicAddress;

  // Resolve, refuse unless every address is allowed, and connect to the checked address only.
  const guardedLookup: LookupFunction = (hostname, opts, callback) => {
    resolve(hostname, { all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      if (!addresses.length || !addresses.every((a) => allowed(a.address))) {
        return callback(Object.assign(new Error(UNREACHABLE), { code: 'ENOTPUBLIC' }), '', 0);
      }
      const first = addresses[0]!;
      if ((opts as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, first.address, first.family);
    });
  };

  return {
    fetchJson: (url) =>
      new Promise((resolveJson, reject) => {
        const fail = (message: string) => reject(new MetadataFetchError(message));
        // Checked again here, not only by the caller: an IP-literal host would skip the guarded lookup entirely.
        const problem = metadataUrlProblem(url.href);
        if (problem) return fail(`the URL ${problem}`);
        const req = request(
          url,
          // agent: false: a fresh connection per fetch, so every fetch passes the guarded lookup (a pooled keep-alive
          // socket would skip it) and no idle socket outlives the fetch.
          { method: 'GET', agent: false, lookup: guardedLookup, headers: { Accept: 'application/json' }, timeout: timeoutMs, ...(options.ca ? { ca: options.ca } : {}) },
          (res) => {
            if (res.statusCode !== 200) {
              res.resume();
              return fail(res.statusCode && res.statusCode >= 300 && res.statusCode < 400 ? 'redirects are not followed' : `HTTP ${res.statusCode}`);
            }
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size > maxBytes) {
                req.destroy();
                fail(`the document is larger than ${maxBytes} bytes`);
                return;
              }
              chunks.push(chunk);
            });
            res.on('end', () => {
              if (size > maxBytes) return;
              try {
                resolveJson(JSON.parse(Buffer.concat(chunks).toString('utf8')));
              } catch {
                fail('the document is not JSON');
              }
            });
            res.on('error', () => fail('the connection failed'));
          },
        );
        const deadline = setTimeout(() => {
          req.destroy();
          fail('the fetch timed out');
        }, timeoutMs);
        req.on('timeout', () => {
          req.destroy();
          fail('the fetch timed out');
        });
        // One text for every way of not getting a connection: a distinct "non-public" answer would be an oracle.
        req.on('error', () => fail(UNREACHABLE));
        req.on('close', () => clearTimeout(deadline));
        req.end();
      }),
  };
}

export interface MetadataFetchLimits {
  /** How long a failed fetch is answered from memory. @default 60 s */
  failureTtlMs?: number;
  /** Fetches to one host at the same time. @default 2 */
  maxInFlightPerHost?: number;
  /** Fetches to one host per window. @default 10 */
  maxPerHostPerWindow?: number;
  /** @default 60 s */
  windowMs?: number;
  /** Fetches at the same time, all hosts together (a wildcard DNS name gives an attacker endless hosts). @default 8 */
  maxInFlight?: number;
  /** Entries kept in each of the failure cache and the host table. @default 1000 */
  maxEntries?: number;
  now?: () => number;
}

interface HostUse {
  inFlight: number;
  windowStart: number;
  count: number;
}

/** Drops the oldest entries (Map keeps insertion order) until there is room for one more. */
function makeRoom<K, V>(map: Map<K, V>, max: number, evictable: (v: V) => boolean = () => true): boolean {
  for (const [key, value] of map) {
    if (map.size < max) break;
    if (evictable(value)) map.delete(key);
  }
  return map.size < max;
}

/**
 * Wraps a fetcher with a negative cache and per-host caps. A refusal by a cap is a MetadataFetchError (the
 * caller answers invalid_client) and is not itself cached: the host may be fine a moment later.
 */
export function limitedMetadataFetcher(inner: MetadataFetcher, limits: MetadataFetchLimits = {}): MetadataFetcher {
  const failureTtlMs = limits.failureTtlMs ?? 60_000;
  const maxInFlightPerHost = limits.maxInFlightPerHost ?? 2;
  const maxPerHostPerWindow = limits.maxPerHostPerWindow ?? 10;
  const windowMs = limits.windowMs ?? 60_000;
  const maxInFlight = limits.maxInFlight ?? 8;
  const maxEntries = limits.maxEntries ?? 1_000;
  const now = limits.now ?? Date.now;
  const failures = new Map<string, { message: string; until: number }>();
  const hosts = new Map<string, HostUse>();
  // Requests for a URL already being fetched share that fetch (many users adding one new client at once).
  const pending = new Map<string, Promise<unknown>>();
  let inFlight = 0;
  const busy = () => new MetadataFetchError('too many fetches of client metadata documents from this host right now; try again in a minute');

  async function limitedFetch(url: URL): Promise<unknown> {
    const t = now();
    const failed = failures.get(url.href);
    if (failed && failed.until > t) throw new MetadataFetchError(failed.message);
    if (failed) failures.delete(url.href);

    const host = url.hostname.toLowerCase();
    let use = hosts.get(host);
    if (use && t - use.windowStart >= windowMs) {
      use.count = 0;
      use.windowStart = t;
    }
    if (!use) {
      // Hosts with nothing in flight can be forgotten; their window restarts if they come back.
      if (!makeRoom(hosts, maxEntries, (u) => u.inFlight === 0)) throw busy();
      use = { inFlight: 0, windowStart: t, count: 0 };
      hosts.set(host, use);
    }
    if (inFlight >= maxInFlight || use.inFlight >= maxInFlightPerHost || use.count >= maxPerHostPerWindow) throw busy();

    inFlight++;
    use.inFlight++;
    use.count++;
    try {
      return await inner.fetchJson(url);
    } catch (err) {
      const message = err instanceof MetadataFetchError ? err.message : 'the fetch failed';
      failures.delete(url.href);
      makeRoom(failures, maxEntries);
      failures.set(url.href, { message, until: now() + failureTtlMs });
      throw err instanceof MetadataFetchError ? err : new MetadataFetchError(message);
    } finally {
      inFlight--;
      use.inFlight--;
    }
  }

  return {
    fetchJson(url) {
      const shared = pending.get(url.href);
      if (shared) return shared;
      const fetch = limitedFetch(url).finally(() => pending.delete(url.href));
      pending.set(url.href, fetch);
      return fetch;
    },
  };
}
