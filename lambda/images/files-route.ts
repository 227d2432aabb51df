/**
 * `GET /files/<id>`: a stored image, for `npm start`. The response can only ever be the image: its type pinned to
 * the stored (sniffed) type, no sniffing, shown inline, and a CSP that lets nothing run should a browser render it
 * as a document. Unknown, malformed and expired ids are all the same 404.
 */
import { FILES_PATH, type ImageFileReader } from './local-image-store.js';

export function isFilesPath(path: string): boolean {
  return path.startsWith(`${FILES_PATH}/`);
}

export async function serveImageFile(reader: ImageFileReader, request: Request, path: string): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return new Response('Method not allowed.\n', { status: 405, headers: { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  const image = await reader.read(path.slice(FILES_PATH.length + 1));
  if (!image) return new Response('Not found (the link is wrong or has expired).\n', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' } });
  const maxAge = Math.max(0, Math.floor((image.expiresAt.getTime() - Date.now()) / 1000));
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(image.bytes), {
    status: 200,
    headers: {
      'Content-Type': image.mimeType,
      'Content-Length': String(image.bytes.byteLength),
      'X-Content-Type-Options': 'nosniff',
      'Content-Disposition': 'inline',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': `private, max-age=${maxAge}`,
    },
  });
}
