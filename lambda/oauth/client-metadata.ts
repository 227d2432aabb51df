/**
 * Client ID Metadata Documents: a client whose `client_id` is an https URL publishes its registration there.
 * Fetching a URL chosen by anyone is a server-side request forgery risk, so the fetch is fenced: https only,
 * no credentials or fragment in the URL, every resolved address must be public (checked at connect time, so a
 * DNS answer cannot change between check and use), no redirects, a size cap and a time cap. Documents are
 * cached per process for a bounded time; failures are not cached.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export const MAX_METADATA_BYTES = 5 * 1024;

export class MetadataFetchError extends Error {
  override readonly name = 'MetadataFetchError';
}

/** Non-public IPv4/IPv6 ranges (RFC 6890 special-purpose registries plus cloud metadata). */
const BLOCKED = (() => {
  const b = new BlockList();
  for (const [net, prefix] of [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
    ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ] as const) b.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of [
    // No ::ffff:0:0/96 here: BlockList matches every IPv4 address against that rule (it would block them all);
    // IPv4-mapped addresses are judged by the IPv4 rules instead (see isPublicAddress).
    ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
    ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
  ] as const) b.addSubnet(net, prefix, 'ipv6');
  return b;
})();

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return !BLOCKED.check(mapped[1]!, 'ipv4');
  return !BLOCKED.check(address, family === 6 ? 'ipv6' : 'ipv4');
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
        return callback(Object.assign(new Error('the host resolves to a non-public address'), { code: 'ENOTPUBLIC' }), '', 0);
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
        req.on('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ENOTPUBLIC' ? 'the host resolves to a non-public address' : 'the host could not be reached'));
        req.on('close', () => clearTimeout(deadline));
        req.end();
      }),
  };
}
