/**
 * Where generated images are kept so a result can carry a link to each: some MCP clients drop image blocks, and a
 * link is the one form every client shows. Two implementations: the data dir behind `npm start`
 * (local-image-store.ts) and an S3 bucket with presigned links on AWS (s3-image-store.ts).
 */

/** A stored image: a link that serves it until `expiresAt`, and not after. */
export interface StoredImage {
  url: string;
  expiresAt: Date;
}

export interface ImageStore {
  put(userId: string, bytes: Uint8Array, mimeType: ImageMimeType): Promise<StoredImage>;
}

/** The raster types we store and serve; SVG is not among them (it is a document that can carry script). */
export const IMAGE_MIME_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export type ImageMimeType = (typeof IMAGE_MIME_TYPES)[number];

export const IMAGE_EXTENSIONS: Record<ImageMimeType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif' };

/**
 * The type the bytes really are, from their signature; what upstream claims is not trusted, because the type is
 * what a browser will be told when it opens the link.
 */
export function sniffImageType(bytes: Uint8Array): ImageMimeType | undefined {
  const starts = (sig: number[], at = 0) => bytes.length >= at + sig.length && sig.every((b, i) => bytes[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  if (starts([0x47, 0x49, 0x46, 0x38])) return 'image/gif';
  return undefined;
}

/** 32 random bytes, base64url: the unguessable name of a stored image. */
export const IMAGE_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
