/**
 * How generated images reach the caller, whichever tool made them: each is stored for a link (some clients drop
 * image blocks, and a link is shown by all) and returned as an MCP image block while the result stays under
 * MAX_INLINE_BASE64_CHARS. A larger image is left out of the blocks with a notice pointing at its link: shrinking
 * it would need an image codec, which the server does not carry. Only real PNG, JPEG, WebP and GIF bytes are kept.
 */
import * as z from 'zod';
import { sniffImageType, type ImageMimeType } from '../images/image-store.js';
import type { ToolDeps } from './context.js';

/** Base64 characters of image blocks per result: what clients accept in one message without choking. */
export const MAX_INLINE_BASE64_CHARS = 1_500_000;
/** A decoded image larger than this is not stored or shown. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

export const ImageLink = z.object({
  url: z.string(),
  expires_at: z.string(),
  mime_type: z.string(),
  bytes: z.number(),
  /** Whether it is also in the result as an image block. */
  inline: z.boolean(),
});
export type ImageLink = z.infer<typeof ImageLink>;

export const IMAGE_LINK_DESCRIPTION = '{url, expires_at, mime_type, bytes, inline}';

export interface PublishedImages {
  links: ImageLink[];
  blocks: { data: string; mimeType: ImageMimeType }[];
  notices: string[];
}

/** Decodes, checks, stores and inlines each image (base64 or a data: URL), in order. */
export async function publishImages(sources: string[], deps: Pick<ToolDeps, 'images' | 'principal' | 'logger'>): Promise<PublishedImages> {
  const out: PublishedImages = { links: [], blocks: [], notices: [] };
  let inlineChars = 0;
  for (const [index, source] of sources.entries()) {
    const label = sources.length > 1 ? `Image ${index + 1}` : 'The image';
    const base64 = base64Of(source);
    if (base64 === undefined) {
      out.notices.push(`${label} came back as a link, not as data: ${source.slice(0, 300)}`);
      continue;
    }
    const bytes = Buffer.from(base64, 'base64');
    const mimeType = sniffImageType(bytes);
    if (!mimeType || bytes.byteLength > MAX_IMAGE_BYTES) {
      out.notices.push(`${label} was left out: ${mimeType ? `it is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MB` : 'it is not a PNG, JPEG, WebP or GIF image'}.`);
      continue;
    }
    const data = bytes.toString('base64');
    const inline = inlineChars + data.length <= MAX_INLINE_BASE64_CHARS;
    if (inline) {
      inlineChars += data.length;
      out.blocks.push({ data, mimeType });
    }
    const stored = await store(deps, bytes, mimeType);
    if (stored) out.links.push({ url: stored.url, expires_at: stored.expiresAt.toISOString(), mime_type: mimeType, bytes: bytes.byteLength, inline });
    if (!inline) {
      out.notices.push(`${label} (${megabytes(bytes.byteLength)} MB) is over the ${megabytes(MAX_INLINE_BASE64_CHARS)} MB inline limit and is not in the result as an image; ${stored ? 'open its link' : 'it could not be stored either'}.`);
    } else if (!stored) {
      out.notices.push(`${label} could not be stored, so it has no link; it is in the result as an image.`);
    }
  }
  return out;
}

/** The base64 payload of a data: URL (or of bare base64); undefined for a link. */
function base64Of(source: string): string | undefined {
  if (/^https?:\/\//i.test(source)) return undefined;
  const match = /^data:[^,;]*(?:;[^,;]*)*;base64,/i.exec(source);
  return match ? source.slice(match[0].length) : source.startsWith('data:') ? '' : source;
}

async function store(deps: Pick<ToolDeps, 'images' | 'principal' | 'logger'>, bytes: Buffer, mimeType: ImageMimeType) {
  if (!deps.images) return undefined;
  try {
    return await deps.images.put(deps.principal.userId, bytes, mimeType);
  } catch (err) {
    // The generation is paid for already: a storage failure costs the link, not the answer.
    deps.logger.warn('image store failed', { error: err instanceof Error ? err.name : 'unknown' });
    return undefined;
  }
}

function megabytes(n: number): string {
  return (n / 1_000_000).toFixed(1);
}

/** The text lines that carry the links, for clients that show text only. */
export function linkLines(links: ImageLink[]): string[] {
  return links.map((l, i) => `${links.length > 1 ? `Image ${i + 1}` : 'Image'}: ${l.url} (${l.mime_type}, ${l.bytes} bytes, link expires ${l.expires_at})`);
}
