/**
 * The two image stores. S3: PutObject signed with aws4 against the loopback stand-in, which recomputes every
 * signature; the presigned link serves the bytes until it expires, and a tampered or expired link is refused. Local:
 * files under a directory, an unguessable id, expiry enforced on read, and the directory bounded in bytes.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_ID_PATTERN, sniffImageType } from '../../lambda/images/image-store.js';
import { LocalImageStore } from '../../lambda/images/local-image-store.js';
import { ImageStoreError, S3ImageStore } from '../../lambda/images/s3-image-store.js';
import { FAKE_S3_CREDENTIALS, FakeS3 } from '../support/fake-s3.js';
import { tinyPng } from '../support/fake-openrouter.js';

describe('S3 image store against the stand-in', () => {
  const s3 = new FakeS3('eu-west-1');
  beforeAll(() => s3.start());
  afterAll(() => s3.stop());
  afterEach(() => {
    s3.clockSkewMs = 0;
  });
  const store = (over: Partial<ConstructorParameters<typeof S3ImageStore>[0]> = {}) =>
    new S3ImageStore({ bucket: 'images-bucket', region: 'eu-west-1', credentials: FAKE_S3_CREDENTIALS, endpoint: s3.endpoint, ...over });

  test('PutObject stores the bytes with their type; the presigned GET serves them', async () => {
    const png = tinyPng();
    const before = Date.now();
    const stored = await store().put('user-1', png, 'image/png');
    expect(stored.expiresAt.getTime()).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    const url = new URL(stored.url);
    expect(url.pathname).toMatch(/^\/images-bucket\/images\/[0-9a-f]{16}\/[A-Za-z0-9_-]{43}\.png$/);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(url.searchParams.get('X-Amz-Credential')).toContain('/eu-west-1/s3/aws4_request');
    const res = await fetch(stored.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toBe('inline');
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(png))).toBe(true);
  });

  test('a tampered link (another key, or a longer lifetime) is refused', async () => {
    const stored = await store().put('user-1', tinyPng(), 'image/png');
    const other = await store().put('user-2', tinyPng(), 'image/png');
    const swapped = new URL(stored.url);
    swapped.pathname = new URL(other.url).pathname;
    expect((await fetch(swapped)).status).toBe(403);
    const longer = new URL(stored.url);
    longer.searchParams.set('X-Amz-Expires', '604800');
    expect((await fetch(longer)).status).toBe(403);
    const unsigned = new URL(stored.url);
    unsigned.search = '';
    expect((await fetch(unsigned)).status).toBe(403);
    expect(s3.refusals.slice(-3)).toEqual(['SignatureDoesNotMatch: signature mismatch', 'SignatureDoesNotMatch: signature mismatch', 'SignatureDoesNotMatch: not presigned']);
  });

  test('an expired link is refused', async () => {
    const stored = await store({ urlTtlSeconds: 60 }).put('user-1', tinyPng(), 'image/png');
    expect((await fetch(stored.url)).status).toBe(200);
    s3.clockSkewMs = 61_000;
    expect((await fetch(stored.url)).status).toBe(403);
    expect(s3.refusals.at(-1)).toBe('AccessDenied: expired');
  });

  test('wrong credentials: PutObject fails with the status only, nothing stored', async () => {
    const count = s3.objects.size;
    const wrong = store({ credentials: { accessKeyId: FAKE_S3_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' } });
    const err = await wrong.put('user-1', tinyPng(), 'image/png').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageStoreError);
    expect((err as Error).message).toBe('S3 PutObject failed: HTTP 403');
    expect(s3.objects.size).toBe(count);
  });

  test('an unreachable endpoint fails within the timeout as a network error', async () => {
    const err = await store({ endpoint: 'http://127.0.0.1:9', timeoutMs: 2000 }).put('user-1', tinyPng(), 'image/png').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageStoreError);
  });

  test('without an endpoint the link is the bucket\'s virtual host over https', async () => {
    const real = new S3ImageStore({ bucket: 'b', region: 'eu-west-1', credentials: FAKE_S3_CREDENTIALS });
    // Only the URL shape is checked: nothing is sent, because the PUT would go to AWS.
    const target = (real as unknown as { target(key: string): { protocol: string; host: string; path: string } }).target('images/x.png');
    expect(target).toEqual({ protocol: 'https:', host: 'b.s3.eu-west-1.amazonaws.com', path: '/images/x.png' });
  });
});

describe('local image store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ormcp-images-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('an image is read back by its unguessable id until it expires, then it is gone', async () => {
    let now = 1_000_000;
    const store = new LocalImageStore({ dir, baseUrl: 'http://127.0.0.1:8787/', ttlMs: 60_000, now: () => now });
    const stored = await store.put('u', tinyPng(), 'image/png');
    const id = stored.url.slice('http://127.0.0.1:8787/files/'.length);
    expect(id).toMatch(IMAGE_ID_PATTERN);
    expect(stored.expiresAt.getTime()).toBe(1_060_000);
    expect((await store.read(id))?.mimeType).toBe('image/png');
    expect(await store.read(id.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')))).toBeUndefined();
    expect(await store.read('../../etc/passwd')).toBeUndefined();
    now = 1_060_000;
    expect(await store.read(id)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  test('the directory stays under its byte limit: expired images go first, then the oldest', async () => {
    let now = 0;
    const png = tinyPng();
    const store = new LocalImageStore({ dir, baseUrl: 'http://x', ttlMs: 10_000, maxBytes: png.length * 2, now: () => now });
    const first = await store.put('u', png, 'image/png');
    now = 1;
    const second = await store.put('u', png, 'image/png');
    now = 2;
    const third = await store.put('u', png, 'image/png');
    const idOf = (url: string) => url.split('/').pop()!;
    expect(await store.read(idOf(first.url))).toBeUndefined();
    expect(await store.read(idOf(second.url))).toBeDefined();
    expect(await store.read(idOf(third.url))).toBeDefined();
    expect(readdirSync(dir)).toHaveLength(4);
    await expect(new LocalImageStore({ dir, baseUrl: 'http://x', maxBytes: 10 }).put('u', png, 'image/png')).rejects.toThrow('larger than');
  });

  test('the directory holds at most maxImages images, oldest out first', async () => {
    let now = 0;
    const store = new LocalImageStore({ dir, baseUrl: 'http://x', maxImages: 2, now: () => now++ });
    const urls = [];
    for (let i = 0; i < 4; i++) urls.push((await store.put('u', tinyPng(), 'image/png')).url);
    const present = await Promise.all(urls.map(async (u) => (await store.read(u.split('/').pop()!)) !== undefined));
    expect(present).toEqual([false, false, true, true]);
    expect(readdirSync(dir)).toHaveLength(4);
  });

  test('types come from the bytes, not from what anyone claims', () => {
    expect(sniffImageType(tinyPng())).toBe('image/png');
    expect(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffImageType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))).toBeUndefined();
    expect(sniffImageType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
  });
});
