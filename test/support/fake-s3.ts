/**
 * A loopback stand-in for S3, enough for the image store: PutObject and GetObject, path-style
 * (`/<bucket>/<key>`) or virtual-host (`<bucket>.s3.<region>.amazonaws.com` in the Host header). It checks what
 * real S3 would: a PUT must carry a valid SigV4 Authorization header, a GET a valid presigned query (recomputed with
 * aws4 from the known credentials) that has not expired. Anything else is refused with S3's status codes.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import aws4 from 'aws4';

export interface StoredObject {
  body: Buffer;
  contentType: string;
  contentDisposition?: string;
}

export const FAKE_S3_CREDENTIALS = { accessKeyId: 'AKIAFAKES3TEST000001', secretAccessKey: 'fake-s3-secret-key-for-tests-only-0000000' };
const MAX_OBJECT_BYTES = 32 * 1024 * 1024;

export class FakeS3 {
  readonly objects = new Map<string, StoredObject>();
  /** Why requests were refused, newest last (tests assert on them). */
  readonly refusals: string[] = [];
  /** Added to the clock when checking a presigned link's expiry, to test expiry without waiting. */
  clockSkewMs = 0;
  endpoint = '';
  private server: Server | undefined;

  /** The credentials signatures must verify with; replace them to make every request fail its check. */
  credentials = FAKE_S3_CREDENTIALS;

  constructor(readonly region = 'us-east-1') {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://s3');
    const host = req.headers.host ?? '';
    const located = this.locate(host, url.pathname);
    if (!located) return this.refuse(res, 400, 'InvalidRequest', 'no bucket in the host or path');
    const objectKey = `${located.bucket}/${located.key}`;
    if (req.method === 'PUT') {
      const body = await readBody(req);
      if (!body) return this.refuse(res, 413, 'EntityTooLarge', 'object too large');
      if (!this.validHeaderSignature(req, url, body)) return this.refuse(res, 403, 'SignatureDoesNotMatch', 'PUT signature');
      this.objects.set(objectKey, { body, contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'), ...(req.headers['content-disposition'] ? { contentDisposition: String(req.headers['content-disposition']) } : {}) });
      res.writeHead(200, { ETag: '"fake"' }).end();
      return;
    }
    if (req.method === 'GET') {
      const problem = this.presignProblem(req, url);
      if (problem) return this.refuse(res, 403, problem === 'expired' ? 'AccessDenied' : 'SignatureDoesNotMatch', problem);
      const object = this.objects.get(objectKey);
      if (!object) return this.refuse(res, 404, 'NoSuchKey', 'no such key');
      res.writeHead(200, { 'Content-Type': object.contentType, 'Content-Length': String(object.body.length), ...(object.contentDisposition ? { 'Content-Disposition': object.contentDisposition } : {}) });
      res.end(object.body);
      return;
    }
    this.refuse(res, 405, 'MethodNotAllowed', `${req.method}`);
  }

  private locate(host: string, pathname: string): { bucket: string; key: string } | undefined {
    const virtual = /^([a-z0-9.-]+)\.s3\.[a-z0-9-]+\.amazonaws\.com(:\d+)?$/.exec(host);
    const path = decodeURIComponent(pathname).replace(/^\//, '');
    if (virtual) return path ? { bucket: virtual[1]!, key: path } : undefined;
    const slash = path.indexOf('/');
    return slash > 0 && slash < path.length - 1 ? { bucket: path.slice(0, slash), key: path.slice(slash + 1) } : undefined;
  }

  /** Recomputes the Authorization header over the same signed headers and body. */
  private validHeaderSignature(req: IncomingMessage, url: URL, body: Buffer): boolean {
    const auth = String(req.headers.authorization ?? '');
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';');
    if (!signedHeaders) return false;
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) if (name !== 'host') headers[name] = String(req.headers[name] ?? '');
    const resigned = aws4.sign({ host: req.headers.host, path: url.pathname + url.search, method: 'PUT', service: 's3', region: this.region, headers, body }, this.credentials);
    const expected = (resigned.headers as Record<string, string>).Authorization;
    return expected === auth && headers['x-amz-content-sha256'] === createHash('sha256').update(body).digest('hex');
  }

  /** Why a presigned GET is refused, or undefined when it is good. */
  private presignProblem(req: IncomingMessage, url: URL): string | undefined {
    const q = url.searchParams;
    const signature = q.get('X-Amz-Signature');
    const date = q.get('X-Amz-Date');
    const expires = Number(q.get('X-Amz-Expires'));
    if (!signature || !date || !Number.isInteger(expires) || expires < 1 || expires > 604_800) return 'not presigned';
    const unsigned = new URLSearchParams(q);
    unsigned.delete('X-Amz-Signature');
    const resigned = aws4.sign({ host: req.headers.host, path: `${url.pathname}?${unsigned.toString()}`, method: 'GET', service: 's3', region: this.region, signQuery: true }, this.credentials);
    const expected = new URL(resigned.path ?? '', 'http://s3').searchParams.get('X-Amz-Signature');
    if (expected !== signature) return 'signature mismatch';
    const signedAt = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8), +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
    if (Date.now() + this.clockSkewMs > signedAt + expires * 1000) return 'expired';
    return undefined;
  }

  private refuse(res: ServerResponse, status: number, code: string, why: string): void {
    this.refusals.push(`${code}: ${why}`);
    res.writeHead(status, { 'Content-Type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code></Error>`);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_OBJECT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size <= MAX_OBJECT_BYTES ? Buffer.concat(chunks) : undefined));
  });
}
