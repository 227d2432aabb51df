/**
 * The SSRF fence around client ID metadata documents: the address policy, the URL policy, and the https fetcher
 * itself. The fetcher runs against a real TLS server on 127.0.0.1 with a certificate made by openssl for a
 * made-up host name; an injected DNS lookup answers for that name. With the default address policy every
 * non-public answer is refused before any connection is made (the fixture counts connections); the positive path
 * widens the policy to exactly 127.0.0.1 and trusts the fixture's certificate.
 */
import { execFileSync } from 'node:child_process';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_METADATA_BYTES, MetadataFetchError, UNREACHABLE, httpsMetadataFetcher, isPublicAddress, limitedMetadataFetcher, metadataUrlProblem, type HttpsMetadataFetcherOptions, type MetadataFetcher } from '../../lambda/oauth/client-metadata.js';
import { sendJson } from '../support/json-bodies.js';

describe('isPublicAddress', () => {
  test.each([
    '127.0.0.1', '127.255.255.254', '10.0.0.5', '172.16.3.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '169.254.170.2',
    '100.64.0.1', '0.0.0.0', '192.0.0.192', '198.18.0.1', '224.0.0.251', '255.255.255.255', '192.0.2.1',
    '::', '::1', 'fe80::1', 'fd00:ec2::254', 'fc00::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:10.1.2.3',
    '64:ff9b::a9fe:a9fe', '2001:db8::1',
    'localhost', 'not-an-ip', '',
  ])('%s is not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  // The attack forms: loopback and private IPv4 hidden in IPv6 forms that an IPv6 stack (or a relay) may still
  // deliver to the embedded IPv4 address, and ranges missing from the old list.
  test.each([
    ['IPv4-compatible loopback, hex', '::7f00:1'],
    ['IPv4-compatible loopback, dotted', '::127.0.0.1'],
    ['IPv4-compatible metadata service', '::169.254.169.254'],
    ['IPv4-compatible private', '::a00:1'],
    ['IPv4-translated loopback (SIIT)', '::ffff:0:7f00:1'],
    ['IPv4-translated loopback, dotted', '::ffff:0:127.0.0.1'],
    ['IPv4-mapped loopback, fully written', '0:0:0:0:0:ffff:7f00:1'],
    ['6to4 of loopback', '2002:7f00:1::1'],
    ['6to4 of the metadata service', '2002:a9fe:a9fe::'],
    ['6to4 of a public address (all of 2002::/16)', '2002:808:808::1'],
    ['NAT64 of loopback', '64:ff9b::127.0.0.1'],
    ['NAT64 local-use', '64:ff9b:1::a00:1'],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    ['benchmarking', '2001:2::1'],
    ['ORCHIDv2', '2001:20::1'],
    ['site-local', 'fec0::1'],
    ['site-local, upper end', 'feff:ffff::1'],
    ['discard-only', '100::1'],
    ['documentation 3fff::/20', '3fff::1'],
    ['segment routing', '5f00::1'],
    ['AS112 direct delegation', '2620:4f:8000::1'],
    ['outside 2000::/3 (unallocated)', '4000::1'],
    ['link-local with a zone', 'fe80::1%eth0'],
    ['AS112-v4', '192.31.196.1'],
    ['AMT', '192.52.193.1'],
    ['6to4 relay anycast', '192.88.99.1'],
    ['AS112 direct delegation v4', '192.175.48.1'],
    ['TEST-NET-2', '198.51.100.7'],
    ['TEST-NET-3', '203.0.113.7'],
  ])('%s (%s) is not public', (_what, address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  test.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '2001:4860:4860::8888', '2a00:1450:4001:81c::200e', '2001:200::1'])('%s is public', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe('metadataUrlProblem', () => {
  test.each(['https://app.example/client.json', 'https://app.example:8443/oauth/client-metadata.json', 'https://app.example/c?v=1'])('%s is fine', (url) => {
    expect(metadataUrlProblem(url)).toBeUndefined();
  });

  test.each([
    ['not a URL', 'nope', /not a URL/],
    ['http', 'http://app.example/client.json', /https/],
    ['file', 'file:///etc/passwd', /https/],
    ['credentials', 'https://u:p@app.example/client.json', /credentials/],
    ['a user name', 'https://u@app.example/client.json', /credentials/],
    ['a fragment', 'https://app.example/client.json#x', /fragment/],
    ['an empty fragment', 'https://app.example/client.json#', /fragment/],
    ['no path', 'https://app.example', /path/],
    ['the root path', 'https://app.example/', /path/],
    ['an IPv4 literal', 'https://169.254.169.254/latest/meta-data', /IP address/],
    ['an IPv6 literal', 'https://[::1]/client.json', /IP address/],
    ['a dot segment', 'https://app.example/a/../client.json', /normalized|dot segments/],
    ['an encoded dot segment', 'https://app.example/a/%2e%2e/client.json', /normalized|dot segments/],
    ['an upper-case host', 'https://APP.example/client.json', /normalized/],
    ['a default port written out', 'https://app.example:443/client.json', /normalized/],
  ])('%s is refused', (_what, url, reason) => {
    expect(metadataUrlProblem(url)).toMatch(reason);
  });
});

describe('httpsMetadataFetcher', () => {
  const HOST = 'client.test';
  let dir: string;
  let cert: string;
  let server: Server;
  let port: number;
  let connections = 0;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ormcp-cimd-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      const doc = { client_id: `https://${HOST}:${port}${req.url}`, client_name: 'Fixture', redirect_uris: ['http://127.0.0.1:1/cb'] };
      switch (req.url) {
        case '/ok.json':
          sendJson(res, 200, doc);
          return;
        case '/redirect.json':
          res.writeHead(302, { Location: '/ok.json' }).end();
          return;
        case '/moved.json':
          res.writeHead(307, { Location: `https://${HOST}:${port}/ok.json` }).end();
          return;
        case '/big.json':
          sendJson(res, 200, { ...doc, pad: 'x'.repeat(MAX_METADATA_BYTES) });
          return;
        case '/big-chunked.json':
          // No content-length: the cap must hold while streaming.
          res.writeHead(200, { 'Content-Type': 'application/json' });
          for (let i = 0; i < 8; i++) res.write('x'.repeat(1024));
          res.end();
          return;
        case '/stall-headers.json':
          return; // never answers
        case '/stall-body.json':
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write('{"client_id":');
          return; // never finishes
        case '/trickle.json': {
          // Never idle long enough for a socket timeout: only a deadline on the whole fetch ends it.
          res.writeHead(200, { 'Content-Type': 'application/json' });
          const tick = setInterval(() => res.write(' '), 20);
          res.on('close', () => clearInterval(tick));
          return;
        }
        case '/not-json.json':
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('<html>');
          return;
        default:
          res.writeHead(404).end();
      }
    });
    server.on('connection', (s: Socket) => {
      connections++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((done) => server.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A DNS answer for every name, given by the test. */
  function lookupAnswering(addresses: string[]): NonNullable<HttpsMetadataFetcherOptions['lookup']> {
    return ((_host: string, _opts: unknown, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
      process.nextTick(() => callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))));
    }) as unknown as NonNullable<HttpsMetadataFetcherOptions['lookup']>;
  }

  /** Reaches the fixture: the name resolves to 127.0.0.1, which the (widened) policy allows, and its cert is trusted. */
  const fixtureFetcher = (extra: HttpsMetadataFetcherOptions = {}) =>
    httpsMetadataFetcher({ lookup: lookupAnswering(['127.0.0.1']), isAllowedAddress: (a) => a === '127.0.0.1', ca: cert, ...extra });
  const url = (path: string) => new URL(`https://${HOST}:${port}${path}`);

  async function refusal(promise: Promise<unknown>): Promise<string> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MetadataFetchError);
    return (err as Error).message;
  }

  test('fetches and parses a document from an allowed address', async () => {
    expect(await fixtureFetcher().fetchJson(url('/ok.json'))).toEqual({ client_id: `https://${HOST}:${port}/ok.json`, client_name: 'Fixture', redirect_uris: ['http://127.0.0.1:1/cb'] });
  });

  test.each([
    ['loopback', ['127.0.0.1']],
    ['loopback IPv6', ['::1']],
    ['a private address', ['10.0.0.5']],
    ['a 172.16/12 address', ['172.20.1.1']],
    ['a 192.168/16 address', ['192.168.0.10']],
    ['link-local', ['169.254.10.20']],
    ['the cloud metadata service', ['169.254.169.254']],
    ['the ECS credentials endpoint', ['169.254.170.2']],
    ['the IPv6 metadata service', ['fd00:ec2::254']],
    ['IPv6 link-local', ['fe80::1']],
    ['an IPv4-mapped loopback', ['::ffff:127.0.0.1']],
    ['an IPv4-compatible loopback', ['::7f00:1']],
    ['an IPv4-compatible loopback, dotted', ['::127.0.0.1']],
    ['an IPv4-translated loopback', ['::ffff:0:7f00:1']],
    ['a 6to4 address', ['2002:7f00:1::1']],
    ['a site-local address', ['fec0::1']],
    ['carrier-grade NAT', ['100.64.1.1']],
    ['0.0.0.0', ['0.0.0.0']],
    ['no address at all', []],
  ])('refuses a host resolving to %s, without connecting', async (_what, addresses) => {
    const before = connections;
    // The default policy: even though the fixture listens on 127.0.0.1, nothing may reach it.
    const message = await refusal(httpsMetadataFetcher({ lookup: lookupAnswering(addresses), ca: cert }).fetchJson(url('/ok.json')));
    expect(message).toBe(UNREACHABLE);
    expect(connections).toBe(before);
  });

  test('refuses a host when any one of its addresses is not allowed, even if the first one is', async () => {
    const before = connections;
    // The first answer is the (allowed) fixture: only checking every address keeps the fetch from reaching it.
    const message = await refusal(fixtureFetcher({ lookup: lookupAnswering(['127.0.0.1', '10.0.0.1']) }).fetchJson(url('/ok.json')));
    expect(message).toBe(UNREACHABLE);
    expect(connections).toBe(before);
  });

  test('a failing DNS lookup is a fetch failure', async () => {
    const failing = ((_h: string, _o: unknown, cb: (err: NodeJS.ErrnoException) => void) => process.nextTick(() => cb(Object.assign(new Error('nope'), { code: 'ENOTFOUND' })))) as unknown as NonNullable<HttpsMetadataFetcherOptions['lookup']>;
    expect(await refusal(httpsMetadataFetcher({ lookup: failing }).fetchJson(url('/ok.json')))).toBe(UNREACHABLE);
  });

  test('"not public", "does not resolve" and "nothing listens" read the same (the fetcher is no oracle)', async () => {
    const failing = ((_h: string, _o: unknown, cb: (err: NodeJS.ErrnoException) => void) => process.nextTick(() => cb(Object.assign(new Error('nope'), { code: 'ENOTFOUND' })))) as unknown as NonNullable<HttpsMetadataFetcherOptions['lookup']>;
    const notPublic = await refusal(httpsMetadataFetcher({ lookup: lookupAnswering(['10.0.0.5']) }).fetchJson(url('/ok.json')));
    const noName = await refusal(httpsMetadataFetcher({ lookup: failing }).fetchJson(url('/ok.json')));
    // Port 1 on loopback: allowed by the widened policy, but nothing listens there.
    const refused = await refusal(fixtureFetcher().fetchJson(new URL(`https://${HOST}:1/ok.json`)));
    expect(new Set([notPublic, noName, refused])).toEqual(new Set([UNREACHABLE]));
  });

  test.each([
    ['http', () => new URL(`http://${HOST}:${port}/ok.json`), /https/],
    ['an IP literal (which would skip the lookup)', () => new URL(`https://127.0.0.1:${port}/ok.json`), /IP address/],
    ['credentials', () => new URL(`https://u:p@${HOST}:${port}/ok.json`), /credentials/],
  ])('refuses a URL with %s without connecting', async (_what, makeUrl, reason) => {
    const before = connections;
    expect(await refusal(fixtureFetcher({ isAllowedAddress: () => false }).fetchJson(makeUrl()))).toMatch(reason);
    expect(connections).toBe(before);
  });

  test.each(['/redirect.json', '/moved.json'])('does not follow a redirect (%s)', async (path) => {
    expect(await refusal(fixtureFetcher().fetchJson(url(path)))).toMatch(/redirects are not followed/);
  });

  test.each(['/big.json', '/big-chunked.json'])('refuses a document over the size cap (%s)', async (path) => {
    expect(await refusal(fixtureFetcher().fetchJson(url(path)))).toMatch(new RegExp(`larger than ${MAX_METADATA_BYTES} bytes`));
  });

  test('a smaller cap applies when configured', async () => {
    expect(await refusal(fixtureFetcher({ maxBytes: 20 }).fetchJson(url('/ok.json')))).toMatch(/larger than 20 bytes/);
  });

  test.each(['/stall-headers.json', '/stall-body.json', '/trickle.json'])('gives up on a server that stalls (%s)', async (path) => {
    expect(await refusal(fixtureFetcher({ timeoutMs: 200 }).fetchJson(url(path)))).toMatch(/timed out/);
  });

  test('refuses an HTTP error and a body that is not JSON', async () => {
    expect(await refusal(fixtureFetcher().fetchJson(url('/missing.json')))).toMatch(/HTTP 404/);
    expect(await refusal(fixtureFetcher().fetchJson(url('/not-json.json')))).toMatch(/not JSON/);
  });

  test('refuses a certificate it does not trust', async () => {
    expect(await refusal(httpsMetadataFetcher({ lookup: lookupAnswering(['127.0.0.1']), isAllowedAddress: (a) => a === '127.0.0.1' }).fetchJson(url('/ok.json')))).toMatch(/could not be reached/);
  });
});

describe('limitedMetadataFetcher', () => {
  /** A fetcher that answers from a table (throwing for unknown URLs) and can hold fetches open until released. */
  function scripted(documents: Record<string, unknown> = {}) {
    const calls: string[] = [];
    const held: Array<() => void> = [];
    let hold = false;
    const fetcher: MetadataFetcher = {
      async fetchJson(u) {
        calls.push(u.href);
        if (hold) await new Promise<void>((release) => held.push(release));
        if (u.href in documents) return documents[u.href];
        throw new MetadataFetchError(UNREACHABLE);
      },
    };
    return {
      fetcher,
      calls,
      holdAll: () => (hold = true),
      releaseAll: () => {
        hold = false;
        for (const r of held.splice(0)) r();
      },
    };
  }
  const settle = (p: Promise<unknown>) => p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e: e as Error }));

  test('a failed fetch is answered from memory for the failure TTL, then tried again', async () => {
    let t = 1_000_000;
    const inner = scripted();
    const f = limitedMetadataFetcher(inner.fetcher, { failureTtlMs: 60_000, now: () => t });
    const u = new URL('https://gone.example/client.json');
    for (let i = 0; i < 5; i++) {
      const r = await settle(f.fetchJson(u));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.e).toBeInstanceOf(MetadataFetchError);
        expect(r.e.message).toBe(UNREACHABLE);
      }
    }
    expect(inner.calls).toHaveLength(1);
    t += 59_999;
    await settle(f.fetchJson(u));
    expect(inner.calls).toHaveLength(1);
    t += 1;
    await settle(f.fetchJson(u));
    expect(inner.calls).toHaveLength(2);
  });

  test('successes are not held back by the negative cache of another URL on the same host', async () => {
    const good = 'https://app.example/good.json';
    const inner = scripted({ [good]: { client_id: good } });
    const f = limitedMetadataFetcher(inner.fetcher);
    await settle(f.fetchJson(new URL('https://app.example/bad.json')));
    expect(await f.fetchJson(new URL(good))).toEqual({ client_id: good });
  });

  test('one host gets at most maxInFlightPerHost fetches at once; others are refused without a fetch', async () => {
    const inner = scripted();
    const f = limitedMetadataFetcher(inner.fetcher, { maxInFlightPerHost: 2, maxPerHostPerWindow: 100 });
    inner.holdAll();
    const pending = [1, 2, 3, 4, 5].map((i) => settle(f.fetchJson(new URL(`https://slow.example/c${i}.json`))));
    // Another host is not blocked by the busy one.
    const other = settle(f.fetchJson(new URL('https://other.example/c.json')));
    await new Promise((r) => setImmediate(r));
    expect(inner.calls.filter((c) => c.startsWith('https://slow.example/'))).toHaveLength(2);
    expect(inner.calls).toContain('https://other.example/c.json');
    inner.releaseAll();
    const results = await Promise.all(pending);
    const refusals = results.filter((r) => !r.ok && /too many fetches/.test(r.e.message));
    expect(refusals).toHaveLength(3);
    for (const r of refusals) expect(!r.ok && r.e).toBeInstanceOf(MetadataFetchError);
    await other;
  });

  test('requests for a URL already being fetched share that one fetch', async () => {
    const good = 'https://popular.example/client.json';
    const inner = scripted({ [good]: { client_id: good } });
    const f = limitedMetadataFetcher(inner.fetcher, { maxInFlightPerHost: 1 });
    inner.holdAll();
    const all = Array.from({ length: 20 }, () => f.fetchJson(new URL(good)));
    await new Promise((r) => setImmediate(r));
    inner.releaseAll();
    expect(await Promise.all(all)).toEqual(Array(20).fill({ client_id: good }));
    expect(inner.calls).toEqual([good]);
  });

  test('one host gets at most maxPerHostPerWindow fetches per window (fresh URLs each time)', async () => {
    let t = 0;
    const inner = scripted();
    const f = limitedMetadataFetcher(inner.fetcher, { maxPerHostPerWindow: 3, windowMs: 60_000, now: () => t });
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await settle(f.fetchJson(new URL(`https://evil.example/${i}.json`))));
    expect(inner.calls).toHaveLength(3);
    expect(results.slice(3).every((r) => !r.ok && /too many fetches/.test(r.e.message))).toBe(true);
    t += 60_000;
    await settle(f.fetchJson(new URL('https://evil.example/next.json')));
    expect(inner.calls).toHaveLength(4);
  });

  test('all hosts together get at most maxInFlight fetches at once (a wildcard DNS name is many hosts)', async () => {
    const inner = scripted();
    const f = limitedMetadataFetcher(inner.fetcher, { maxInFlight: 4 });
    inner.holdAll();
    const pending = Array.from({ length: 12 }, (_, i) => settle(f.fetchJson(new URL(`https://h${i}.wild.example/c.json`))));
    await new Promise((r) => setImmediate(r));
    expect(inner.calls).toHaveLength(4);
    inner.releaseAll();
    expect((await Promise.all(pending)).filter((r) => !r.ok && /too many fetches/.test(r.e.message))).toHaveLength(8);
  });

  test('the failure cache and the host table stay within maxEntries', async () => {
    const inner = scripted();
    const f = limitedMetadataFetcher(inner.fetcher, { maxEntries: 5, maxPerHostPerWindow: 1 });
    for (let i = 0; i < 50; i++) await settle(f.fetchJson(new URL(`https://h${i}.example/c.json`)));
    expect(inner.calls).toHaveLength(50);
    // The oldest failures were evicted, so h0 is fetched again (its host window was forgotten too); the newest is still cached.
    await settle(f.fetchJson(new URL('https://h0.example/c.json')));
    expect(inner.calls).toHaveLength(51);
    await settle(f.fetchJson(new URL('https://h49.example/c.json')));
    expect(inner.calls).toHaveLength(51);
  });

  test('a thrown non-MetadataFetchError is reported and cached as a MetadataFetchError without its details', async () => {
    const f = limitedMetadataFetcher({ fetchJson: async () => { throw new Error('ECONNRESET 10.1.2.3:443'); } });
    const r = await settle(f.fetchJson(new URL('https://x.example/c.json')));
    expect(!r.ok && r.e).toBeInstanceOf(MetadataFetchError);
    expect(!r.ok && r.e.message).toBe('the fetch failed');
  });
});
