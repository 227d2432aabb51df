/**
 * Images for `npm start`: files under the data dir, served by the app at `/files/<id>` (files-route.ts). The id is
 * 32 random bytes, so the link is the capability; each file expires (checked on every read, removed on the next
 * write) and the directory is bounded in bytes, oldest first out.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { trimTrailingSlashes } from '../http/path.js';
import { IMAGE_ID_PATTERN, IMAGE_MIME_TYPES, type ImageMimeType, type ImageStore, type StoredImage } from './image-store.js';

export const FILES_PATH = '/files';

export interface LocalImageStoreOptions {
  dir: string;
  /** The server's public base URL; links are `<baseUrl>/files/<id>`. */
  baseUrl: string;
  /** How long a link works. @default 24 hours */
  ttlMs?: number;
  /** Most bytes the directory holds; the oldest images go first to make room. @default 256 MB */
  maxBytes?: number;
  /** Most images it holds (each write lists the directory, so the count is bounded too). @default 1000 */
  maxImages?: number;
  now?: () => number;
}

/** What the files route needs: one stored image by id, or nothing when it is unknown or expired. */
export interface ImageFileReader {
  read(id: string): Promise<{ bytes: Buffer; mimeType: ImageMimeType; expiresAt: Date } | undefined>;
}

const Meta = z.object({ mimeType: z.enum(IMAGE_MIME_TYPES), expiresAt: z.number(), size: z.number() });
type Meta = z.infer<typeof Meta>;

export const LOCAL_IMAGE_TTL_MS = 24 * 3600_000;
export const LOCAL_IMAGES_MAX_BYTES = 256 * 1024 * 1024;
export const LOCAL_IMAGES_MAX_COUNT = 1000;

/** An image larger than the whole directory may hold. */
export class ImageTooLarge extends Error {
  override readonly name = 'ImageTooLarge';
}

export class LocalImageStore implements ImageStore, ImageFileReader {
  private readonly ttlMs: number;
  private readonly maxBytes: number;
  private readonly maxImages: number;
  private readonly now: () => number;
  private readonly baseUrl: string;

  constructor(private readonly options: LocalImageStoreOptions) {
    this.ttlMs = options.ttlMs ?? LOCAL_IMAGE_TTL_MS;
    this.maxBytes = options.maxBytes ?? LOCAL_IMAGES_MAX_BYTES;
    this.maxImages = options.maxImages ?? LOCAL_IMAGES_MAX_COUNT;
    this.now = options.now ?? Date.now;
    this.baseUrl = trimTrailingSlashes(options.baseUrl);
  }

  async put(_userId: string, bytes: Uint8Array, mimeType: ImageMimeType): Promise<StoredImage> {
    if (bytes.byteLength > this.maxBytes) throw new ImageTooLarge(`the image (${bytes.byteLength} bytes) is larger than the image directory's limit`);
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    await this.makeRoom(bytes.byteLength);
    const id = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + this.ttlMs;
    const meta: Meta = { mimeType, expiresAt, size: bytes.byteLength };
    await writeFile(this.dataPath(id), bytes, { mode: 0o600 });
    await writeFile(this.metaPath(id), JSON.stringify(meta), { mode: 0o600 });
    return { url: `${this.baseUrl}${FILES_PATH}/${id}`, expiresAt: new Date(expiresAt) };
  }

  async read(id: string): Promise<{ bytes: Buffer; mimeType: ImageMimeType; expiresAt: Date } | undefined> {
    if (!IMAGE_ID_PATTERN.test(id)) return undefined;
    const meta = await this.meta(id);
    if (!meta) return undefined;
    if (meta.expiresAt <= this.now()) {
      await this.remove(id);
      return undefined;
    }
    const bytes = await readFile(this.dataPath(id)).catch(() => undefined);
    return bytes ? { bytes, mimeType: meta.mimeType, expiresAt: new Date(meta.expiresAt) } : undefined;
  }

  /** Removes expired images, then the oldest until one more image of `incoming` bytes fits under both limits. */
  async makeRoom(incoming: number): Promise<void> {
    const now = this.now();
    const live: { id: string; meta: Meta }[] = [];
    for (const name of await readdir(this.options.dir)) {
      const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : undefined;
      if (!id || !IMAGE_ID_PATTERN.test(id)) continue;
      const meta = await this.meta(id);
      if (!meta || meta.expiresAt <= now) await this.remove(id);
      else live.push({ id, meta });
    }
    let total = live.reduce((sum, image) => sum + image.meta.size, 0);
    let count = live.length;
    live.sort((a, b) => a.meta.expiresAt - b.meta.expiresAt);
    for (const image of live) {
      if (total + incoming <= this.maxBytes && count + 1 <= this.maxImages) break;
      await this.remove(image.id);
      total -= image.meta.size;
      count--;
    }
  }

  private async meta(id: string): Promise<Meta | undefined> {
    try {
      const parsed = Meta.safeParse(JSON.parse(await readFile(this.metaPath(id), 'utf8')));
      if (!parsed.success) return undefined;
      // A size that does not match the file means a half-written or altered entry: treat it as absent.
      const size = (await stat(this.dataPath(id))).size;
      return size === parsed.data.size ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  private async remove(id: string): Promise<void> {
    await rm(this.metaPath(id), { force: true });
    await rm(this.dataPath(id), { force: true });
  }

  private dataPath(id: string): string {
    return join(this.options.dir, `${id}.img`);
  }

  private metaPath(id: string): string {
    return join(this.options.dir, `${id}.json`);
  }
}
