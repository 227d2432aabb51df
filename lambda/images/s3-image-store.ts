/**
 * Images on AWS: PutObject into the stack's private bucket, then a presigned GET link with a short lifetime. Signed
 * with aws4 over node:http(s) rather than the S3 SDK, which would more than double the Lambda bundle for two calls.
 * The bucket's lifecycle rule deletes objects after a day; the link dies sooner (URL_TTL_SECONDS).
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import aws4 from 'aws4';
import type { AwsCredentials } from '../http/aws-json-rpc.js';
import { IMAGE_EXTENSIONS, type ImageMimeType, type ImageStore, type StoredImage } from './image-store.js';

export interface S3ImageStoreOptions {
  bucket: string;
  region: string;
  /** The Lambda's role credentials, as its other AWS clients take them (aws/clients.ts). */
  credentials: AwsCredentials;
  /** Named in each request's User-Agent (CloudTrail shows which app called). */
  userAgent?: string | undefined;
  /** An S3-compatible endpoint (path-style addressing), e.g. a local stand-in; default: the bucket's virtual host. */
  endpoint?: string | undefined;
  /** How long a presigned link works. @default 3600 */
  urlTtlSeconds?: number;
  /** Whole PutObject exchange. @default 10 s */
  timeoutMs?: number;
}

export const S3_URL_TTL_SECONDS = 3600;
const S3_TIMEOUT_MS = 10_000;
const MAX_ERROR_BODY_BYTES = 4096;

/** S3 refused or could not be reached; the message names the status only (S3 error bodies can quote the request). */
export class ImageStoreError extends Error {
  override readonly name = 'ImageStoreError';
}

interface Target {
  protocol: 'http:' | 'https:';
  host: string;
  path: string;
}

export class S3ImageStore implements ImageStore {
  constructor(private readonly options: S3ImageStoreOptions) {}

  async put(userId: string, bytes: Uint8Array, mimeType: ImageMimeType): Promise<StoredImage> {
    // Grouped by a hash of the user, so one user's images can be found (and deleted) without a listing of ids.
    const owner = createHash('sha256').update(userId).digest('hex').slice(0, 16);
    const key = `images/${owner}/${randomBytes(32).toString('base64url')}.${IMAGE_EXTENSIONS[mimeType]}`;
    const target = this.target(key);
    const { credentials, userAgent } = this.options;
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const signed = aws4.sign(
      { host: target.host, path: target.path, method: 'PUT', service: 's3', region: this.options.region, headers: { 'Content-Type': mimeType, 'Content-Disposition': 'inline', ...(userAgent ? { 'User-Agent': userAgent } : {}) }, body },
      credentials,
    );
    await send(target.protocol, signed, body, this.options.timeoutMs ?? S3_TIMEOUT_MS);
    const ttl = this.options.urlTtlSeconds ?? S3_URL_TTL_SECONDS;
    const expiresAt = new Date(Date.now() + ttl * 1000);
    const presigned = aws4.sign(
      { host: target.host, path: `${target.path}?X-Amz-Expires=${ttl}`, method: 'GET', service: 's3', region: this.options.region, signQuery: true },
      credentials,
    );
    return { url: `${target.protocol}//${target.host}${presigned.path ?? ''}`, expiresAt };
  }

  private target(key: string): Target {
    const encodedKey = key.split('/').map(encodeURIComponent).join('/');
    if (this.options.endpoint) {
      const endpoint = new URL(this.options.endpoint);
      return { protocol: endpoint.protocol === 'http:' ? 'http:' : 'https:', host: endpoint.host, path: `/${this.options.bucket}/${encodedKey}` };
    }
    return { protocol: 'https:', host: `${this.options.bucket}.s3.${this.options.region}.amazonaws.com`, path: `/${encodedKey}` };
  }
}

/** One signed request; resolves on 2xx, rejects with the status otherwise, and never waits past `timeoutMs`. */
function send(protocol: Target['protocol'], signed: aws4.Request, body: Buffer, timeoutMs: number): Promise<void> {
  const request = protocol === 'http:' ? httpRequest : httpsRequest;
  const [hostname, port] = splitHost(signed.host ?? '');
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, ...(port ? { port } : {}), path: signed.path, method: signed.method, headers: signed.headers as Record<string, string>, signal: AbortSignal.timeout(timeoutMs), timeout: timeoutMs },
      (res) => {
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ERROR_BODY_BYTES) res.destroy();
        });
        res.on('close', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new ImageStoreError(`S3 PutObject failed: HTTP ${status}`));
        });
        res.on('error', () => undefined);
      },
    );
    req.on('timeout', () => req.destroy(new ImageStoreError('S3 PutObject timed out')));
    req.on('error', (err) => reject(err instanceof ImageStoreError ? err : new ImageStoreError(`S3 PutObject failed: ${err.name === 'AbortError' ? 'timed out' : 'network error'}`)));
    req.end(body);
  });
}

function splitHost(host: string): [string, number | undefined] {
  const match = /^(.*):(\d+)$/.exec(host);
  return match ? [match[1]!, Number(match[2])] : [host, undefined];
}
