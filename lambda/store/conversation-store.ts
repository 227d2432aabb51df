/**
 * Conversations that continue: the turns of a user's chat, kept so a later call sends only its new messages
 * (keys in schema.ts):
 *
 *   head    USER#<id> / CONV#<conversation id>  version, turn count, times, TTL, which snapshot holds the turns, and
 *           the metadata (title, models used, cost so far) encrypted; a small snapshot's turns (`data`) too.
 *   parts   USER#<id> / CONVPART#<conversation id>#<snapshot>#<nnn>  the turns of a larger snapshot: one AES-GCM
 *           ciphertext of their JSON, cut in parts of at most `partChars` characters so no item nears DynamoDB's
 *           400 KB limit.
 *
 * Every append writes a new snapshot of the whole conversation, then moves the head onto it with one conditional
 * write on the version it read; the loser of two concurrent appends re-reads, adds its turns after the winner's and
 * tries again, so no turn is lost. Superseded snapshots are deleted after the head moves (one left behind by a crash
 * expires with its TTL). Rewriting the whole conversation costs at most `maxBytes` per append, and it lets every
 * item share one expiry: `ttlHours` after the conversation was last used.
 *
 * Most conversations are short: a snapshot of at most `inlineChars` of ciphertext lives in the head itself, so
 * starting a conversation is one conditional write and continuing one is a read and a write (no part items, no
 * query, nothing to delete). The bound keeps heads small, since list() reads them a page at a time.
 *
 * Write-behind (`writeBehind`, what `npm start` sets, one process serving every call): a new conversation's write
 * completes after append() returns, off the caller's path; every later read or write of that user's conversations on
 * this store waits for it first, and settle() (a stop) waits for all. A failed write is logged, and the id then reads
 * as unknown. At most MAX_WRITES_BEHIND are in flight; past that a creation waits for its own write, as without. The Lambda writes before it answers: another instance may serve the next call.
 *
 * The turns are encrypted under the keyring's data key with the user, conversation and snapshot as associated data
 * (as OpenRouter keys are under the user): a ciphertext copied to another user's or conversation's item does not
 * decrypt. Only counts and times are stored in clear.
 *
 * Size bound: when a conversation's turns exceed `maxBytes` (of JSON), its oldest exchanges (one call's new
 * messages and the answer) are dropped, and the append says how many turns went; an exchange larger than the bound
 * on its own is refused (`too_large`) and the conversation stays as it was.
 */
import { randomBytes } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { Keyring } from '../crypto/keyring.js';
import { decryptForUser, encryptForUser } from '../crypto/secrets.js';
import { errorName } from '../observability/error-name.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { keys } from './schema.js';

export const DEFAULT_CONVERSATION_TTL_HOURS = 168;
/** Largest conversation kept, in bytes of turn JSON; older exchanges are dropped beyond it. */
export const DEFAULT_MAX_CONVERSATION_BYTES = 1024 * 1024;
/** Characters of ciphertext per part item: well under DynamoDB's 400 KB item limit with the keys and attributes. */
export const DEFAULT_PART_CHARS = 300_000;
/** Largest snapshot ciphertext kept in the head item (about 23 KB of turn JSON). */
export const DEFAULT_INLINE_CHARS = 32_000;
/** A title is the start of the first user message. */
export const TITLE_CHARS = 80;
const MAX_MODELS = 20;
const MAX_APPEND_ATTEMPTS = 5;
const MAX_PAGE = 100;
/** Write-behind creations in flight at most; past this, append() waits for its write (each holds its exchange). */
const MAX_WRITES_BEHIND = 16;

export const CONVERSATION_ID_PATTERN = /^conv_[0-9a-z]{9}[0-9a-f]{16}$/;

/** One message as sent upstream (a validated chat message, or the assistant's answer). */
export type Turn = Record<string, unknown>;

export interface ConversationMeta {
  title: string;
  models: string[];
  costUsd: number;
}

export interface Conversation extends ConversationMeta {
  id: string;
  version: number;
  turns: Turn[];
  turnCount: number;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
}

export type ConversationSummary = Omit<Conversation, 'turns' | 'version'>;

/** What one call adds: its new messages and the answer, the model that answered and what it cost. */
export interface Exchange {
  turns: Turn[];
  model: string;
  costUsd?: number | undefined;
}

export interface AppendResult {
  conversation: ConversationSummary;
  /** Turns dropped from the start to keep the conversation within the size bound. */
  droppedTurns: number;
}

export class ConversationError extends Error {
  override readonly name = 'ConversationError';
  constructor(
    readonly code: 'not_found' | 'busy' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

export interface ConversationStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  keyring: Keyring;
  /** `ORMCP_CONVERSATION_TTL_HOURS` (> 0): how long after its last use a conversation is kept. */
  ttlHours?: number;
  maxBytes?: number;
  partChars?: number;
  /** Snapshots up to this many characters of ciphertext live in the head (0: always in parts). */
  inlineChars?: number;
  /** A new conversation's write lands after append() returns (see above); for a host that is one process. */
  writeBehind?: boolean;
  logger?: Logger;
  now?: () => Date;
}

/** What list() reads of a head (all but `data`). */
const SUMMARY_FIELDS = ['pk', 'sk', 'version', 'turnCount', 'createdAt', 'lastUsedAt', 'ttl', 'snapshot', 'parts', 'kv', 'meta'] as const;

const MetaJson = z.object({ title: z.string(), models: z.array(z.string()), costUsd: z.number() });
const TurnsJson = z.array(z.array(z.record(z.string(), z.unknown())));

interface Head {
  version: number;
  turnCount: number;
  createdAt: string;
  lastUsedAt: string;
  ttl: number;
  snapshot: string;
  /** Part items holding the snapshot; 0 when it is inline (`data`). */
  parts: number;
  /** The snapshot's sealed turns, when they fit in the head. */
  data?: string;
  kv: string;
  meta: string;
}

type Item = Record<string, unknown>;

export class ConversationStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly keyring: Keyring;
  private readonly ttlSeconds: number;
  readonly maxBytes: number;
  private readonly partChars: number;
  private readonly inlineChars: number;
  private readonly writeBehind: boolean;
  private readonly log: Logger;
  private readonly now: () => Date;
  /** Write-behind creations still being written, by user, and how many in all. */
  private readonly pending = new Map<string, Set<Promise<void>>>();
  private writesBehind = 0;

  constructor(options: ConversationStoreOptions) {
    this.db = options.client;
    this.table = options.tableName;
    this.keyring = options.keyring;
    this.ttlSeconds = Math.round((options.ttlHours ?? DEFAULT_CONVERSATION_TTL_HOURS) * 3600);
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_CONVERSATION_BYTES;
    this.partChars = options.partChars ?? DEFAULT_PART_CHARS;
    this.inlineChars = Math.min(options.inlineChars ?? DEFAULT_INLINE_CHARS, this.partChars);
    this.writeBehind = options.writeBehind ?? false;
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? (() => new Date());
  }

  /** A fresh id: creation time first (so a user's list reads newest first), then 64 random bits. */
  newId(): string {
    return `conv_${this.now().getTime().toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
  }

  /** The conversation with its turns, or undefined when it does not exist for this user or has expired. */
  async load(userId: string, id: string): Promise<Conversation | undefined> {
    await this.written(userId);
    const found = await this.readAll(userId, id);
    return found && { ...found.summary, version: found.head.version, turns: found.exchanges.flat() };
  }

  /**
   * Adds one exchange, creating the conversation when `id` is new (pass `create: true`), else continuing it.
   * Throws `not_found` for an unknown or expired id, `busy` if concurrent appends kept winning.
   */
  async append(userId: string, id: string, exchange: Exchange, options: { create?: boolean } = {}): Promise<AppendResult> {
    if (options.create && this.writeBehind && this.writesBehind < MAX_WRITES_BEHIND) return this.createBehind(userId, id, exchange);
    await this.written(userId);
    return this.appendNow(userId, id, exchange, options);
  }

  /** Resolves once every write-behind creation started so far has landed (or failed and been logged). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending.values()].flatMap((set) => [...set]));
  }

  /**
   * A new conversation under write-behind: what the write will store is known without reading (a new id drops
   * nothing), so the result is given now and the write finishes after. Too large is still refused here.
   */
  private createBehind(userId: string, id: string, exchange: Exchange): AppendResult {
    this.checkSize(exchange);
    const now = this.now();
    const write = this.appendNow(userId, id, exchange, { create: true }, now).then(
      () => undefined,
      (err: unknown) => this.log.warn('conversation not stored', { conversation_error: err instanceof ConversationError ? err.code : errorName(err) }),
    );
    const own = this.pending.get(userId) ?? new Set<Promise<void>>();
    this.pending.set(userId, own);
    own.add(write);
    this.writesBehind++;
    void write.finally(() => {
      this.writesBehind--;
      own.delete(write);
      if (own.size === 0 && this.pending.get(userId) === own) this.pending.delete(userId);
    });
    const meta: ConversationMeta = { title: titleOf(exchange.turns), models: [exchange.model], costUsd: exchange.costUsd ?? 0 };
    const head = { turnCount: exchange.turns.length, createdAt: now.toISOString(), lastUsedAt: now.toISOString(), ttl: Math.floor(now.getTime() / 1000) + this.ttlSeconds };
    return { conversation: summaryOf(id, head, meta), droppedTurns: 0 };
  }

  /** An exchange larger than a whole conversation may hold is refused (`too_large`); the conversation stays as it was. */
  private checkSize(exchange: Exchange): void {
    // The lengths of its strings are a lower bound of its JSON's UTF-8 size: an exchange far over the bound (megabytes
    // of prompt and echo) is refused without building that JSON, a second copy of it on a server whose heap is bounded.
    const atLeast = stringLength(exchange.turns, this.maxBytes + 1);
    const size = atLeast > this.maxBytes ? atLeast : Buffer.byteLength(JSON.stringify(exchange.turns));
    if (size > this.maxBytes) {
      throw new ConversationError('too_large', `this exchange (${atLeast > this.maxBytes ? 'over ' : ''}${size} bytes) is larger than a conversation may hold (${this.maxBytes} bytes)`);
    }
  }

  /** Before anything reads or changes a user's conversations: their write-behind creations have landed. */
  private async written(userId: string): Promise<void> {
    const own = this.pending.get(userId);
    if (own) await Promise.all([...own]);
  }

  private async appendNow(userId: string, id: string, exchange: Exchange, options: { create?: boolean }, at?: Date): Promise<AppendResult> {
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      // A new id is created with a write conditional on no head: nothing to read first.
      const found = options.create ? undefined : await this.readAll(userId, id);
      if (!found && !options.create) throw notFound(id);
      if (found && options.create) throw new ConversationError('busy', `conversation ${id} already exists`);
      this.checkSize(exchange);
      const { kept, dropped } = boundExchanges([...(found?.exchanges ?? []), exchange.turns], this.maxBytes);
      const prior = found?.summary;
      const meta: ConversationMeta = {
        title: prior?.title ?? titleOf(kept.flat()),
        models: [...new Set([...(prior?.models ?? []), exchange.model])].slice(-MAX_MODELS),
        costUsd: (prior?.costUsd ?? 0) + (exchange.costUsd ?? 0),
      };
      const now = (attempt === 0 && at) || this.now();
      const ttl = Math.floor(now.getTime() / 1000) + this.ttlSeconds;
      const snapshot = randomBytes(6).toString('hex');
      const { parts, data } = await this.writeSnapshot(userId, id, snapshot, kept, ttl);
      const head: Head = {
        version: (found?.head.version ?? 0) + 1,
        turnCount: kept.reduce((n, e) => n + e.length, 0),
        createdAt: found?.head.createdAt ?? now.toISOString(),
        lastUsedAt: now.toISOString(),
        ttl,
        snapshot,
        parts,
        ...(data !== undefined ? { data } : {}),
        kv: this.keyring.currentVersion,
        meta: encryptForUser(this.keyring.current.dataKey, metaContext(userId, id), JSON.stringify(meta)),
      };
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...keys.conversation(userId, id), type: 'conversation', ...head },
            ...(found
              ? { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': found.head.version } }
              : { ConditionExpression: 'attribute_not_exists(pk)' }),
          }),
        );
      } catch (err) {
        await this.deleteSnapshot(userId, id, snapshot, parts);
        if (isConditionFailure(err)) {
          if (options.create) throw new ConversationError('busy', `conversation ${id} already exists`);
          continue;
        }
        throw err;
      }
      if (found) await this.deleteSnapshot(userId, id, found.head.snapshot, found.head.parts);
      return { conversation: summaryOf(id, head, meta), droppedTurns: dropped };
    }
    throw new ConversationError('busy', `conversation ${id} is being continued by other calls right now; try again`);
  }

  /** A page of the user's live conversations, newest first; `cursor` is the last id of the previous page. */
  async list(userId: string, options: { limit?: number; cursor?: string } = {}): Promise<{ conversations: ConversationSummary[]; nextCursor?: string }> {
    await this.written(userId);
    const limit = Math.min(Math.max(options.limit ?? 20, 1), MAX_PAGE);
    const nowSec = Math.floor(this.now().getTime() / 1000);
    const out: ConversationSummary[] = [];
    let start: Item | undefined = options.cursor ? keys.conversation(userId, options.cursor) : undefined;
    // Expired heads DynamoDB has not removed yet are skipped; a bounded number of pages keeps one call bounded.
    for (let page = 0; page < 10 && out.length < limit; page++) {
      const res = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.conversation(userId, '').pk, ':prefix': keys.conversationPrefix() },
          ScanIndexForward: false,
          // Every head field but the inline turns: a page of summaries stays small.
          ProjectionExpression: SUMMARY_FIELDS.map((_, i) => `#f${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(SUMMARY_FIELDS.map((f, i) => [`#f${i}`, f])),
          Limit: limit - out.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of res.Items ?? []) {
        const head = headOf(item);
        const id = String(item.sk).slice(keys.conversationPrefix().length);
        if (!head || head.ttl <= nowSec) continue;
        const meta = this.decryptMeta(userId, id, head);
        if (meta) out.push(summaryOf(id, head, meta));
      }
      start = res.LastEvaluatedKey;
      if (!start) break;
    }
    const last = out.at(-1);
    return { conversations: out, ...(start && last && out.length >= limit ? { nextCursor: last.id } : {}) };
  }

  /** Deletes the conversation and every item of it; false when there was none. */
  async delete(userId: string, id: string): Promise<boolean> {
    await this.written(userId);
    const headKey = keys.conversation(userId, id);
    const res = await this.db.send(new GetCommand({ TableName: this.table, Key: headKey, ConsistentRead: true }));
    const partKeys = await this.partKeys(userId, keys.conversationPartsPrefix(id));
    await Promise.all(partKeys.map((Key) => this.db.send(new DeleteCommand({ TableName: this.table, Key }))));
    if (!res.Item) return false;
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: headKey }));
    const head = headOf(res.Item);
    return head !== undefined && head.ttl > Math.floor(this.now().getTime() / 1000);
  }

  // ---- internals ----------------------------------------------------------------------------------

  private async readAll(userId: string, id: string): Promise<{ head: Head; summary: ConversationSummary; exchanges: Turn[][] } | undefined> {
    if (!CONVERSATION_ID_PATTERN.test(id)) return undefined;
    // A concurrent append may move the head and delete the snapshot just read: read the head again.
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const read = await this.readOnce(userId, id);
      if (read !== 'moved') return read;
    }
    throw new ConversationError('busy', `conversation ${id} is being continued by other calls right now; try again`);
  }

  private async readOnce(userId: string, id: string): Promise<{ head: Head; summary: ConversationSummary; exchanges: Turn[][] } | undefined | 'moved'> {
    const res = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.conversation(userId, id), ConsistentRead: true }));
    const head = res.Item ? headOf(res.Item) : undefined;
    if (!head || head.ttl <= Math.floor(this.now().getTime() / 1000)) return undefined;
    const meta = this.decryptMeta(userId, id, head);
    const dataKey = this.keyring.get(head.kv)?.dataKey;
    if (!meta || !dataKey) return undefined;
    let sealed = head.data;
    if (sealed === undefined) {
      const items = await this.query(userId, `${keys.conversationPartsPrefix(id)}${head.snapshot}#`, false);
      if (items.length !== head.parts) return 'moved';
      sealed = items.map((i) => String(i.data)).join('');
    }
    let exchanges: Turn[][];
    try {
      exchanges = TurnsJson.parse(JSON.parse(decryptForUser(dataKey, turnsContext(userId, id, head.snapshot), sealed)));
    } catch {
      return undefined; // parts moved here from another user, conversation or snapshot, or damaged: as if absent
    }
    return { head, summary: summaryOf(id, head, meta), exchanges };
  }

  private decryptMeta(userId: string, id: string, head: Head): ConversationMeta | undefined {
    const dataKey = this.keyring.get(head.kv)?.dataKey;
    if (!dataKey) return undefined;
    try {
      return MetaJson.parse(JSON.parse(decryptForUser(dataKey, metaContext(userId, id), head.meta)));
    } catch {
      return undefined; // not ours (moved from another user or conversation) or damaged: as if absent
    }
  }

  /** Seals the turns: inline when small (`data`, no part written), else written in parts (how many). */
  private async writeSnapshot(userId: string, id: string, snapshot: string, exchanges: Turn[][], ttl: number): Promise<{ parts: number; data?: string }> {
    const sealed = encryptForUser(this.keyring.current.dataKey, turnsContext(userId, id, snapshot), JSON.stringify(exchanges));
    if (sealed.length <= this.inlineChars) return { parts: 0, data: sealed };
    const chunks: string[] = [];
    for (let i = 0; i < sealed.length; i += this.partChars) chunks.push(sealed.slice(i, i + this.partChars));
    await Promise.all(
      chunks.map((data, part) =>
        this.db.send(new PutCommand({ TableName: this.table, Item: { ...keys.conversationPart(userId, id, snapshot, part), type: 'conversation-part', data, ttl } })),
      ),
    );
    return { parts: chunks.length };
  }

  private async deleteSnapshot(userId: string, id: string, snapshot: string, parts: number): Promise<void> {
    const all = Array.from({ length: parts }, (_, part) => keys.conversationPart(userId, id, snapshot, part));
    await Promise.all(all.map((Key) => this.db.send(new DeleteCommand({ TableName: this.table, Key }))));
  }

  private async partKeys(userId: string, prefix: string): Promise<{ pk: string; sk: string }[]> {
    return (await this.query(userId, prefix, true)).map((i) => ({ pk: String(i.pk), sk: String(i.sk) }));
  }

  /** Every item under the prefix, in key order (parts of one snapshot are few: the size bound caps them). */
  private async query(userId: string, prefix: string, keysOnly: boolean): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    for (let page = 0; page < 100; page++) {
      const res = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.conversation(userId, '').pk, ':prefix': prefix },
          ConsistentRead: true,
          ...(keysOnly ? { ProjectionExpression: 'pk, sk' } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...((res.Items ?? []) as Item[]));
      start = res.LastEvaluatedKey;
      if (!start) break;
    }
    return items;
  }
}

/** Associated data: a ciphertext decrypts only for the user and conversation (and snapshot) it was written for. */
function metaContext(userId: string, id: string): string {
  return JSON.stringify(['ormcp/conversation-meta/v1', userId, id]);
}

function turnsContext(userId: string, id: string, snapshot: string): string {
  return JSON.stringify(['ormcp/conversation-turns/v1', userId, id, snapshot]);
}

/** The store, or none when the operator turned storage off (`ORMCP_CONVERSATION_TTL_HOURS=0`). */
export function conversationStoreFor(ttlHours: number, options: Omit<ConversationStoreOptions, 'ttlHours'>): ConversationStore | undefined {
  return ttlHours > 0 ? new ConversationStore({ ...options, ttlHours }) : undefined;
}

function notFound(id: string): ConversationError {
  return new ConversationError('not_found', `No conversation "${id}" for this account: it expired, was deleted, or never existed. Start a new one by leaving out conversation_id.`);
}

/** The total length of the strings (values and keys) in `value`, counted until it reaches `stopAt`. */
export function stringLength(value: unknown, stopAt: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && total < stopAt) {
    const v = stack.pop();
    if (typeof v === 'string') total += v.length;
    else if (Array.isArray(v)) stack.push(...v);
    else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        total += k.length;
        stack.push(child);
      }
    }
  }
  return total;
}

/** Drops the oldest exchanges until the JSON fits `maxBytes`; the newest is always kept. */
export function boundExchanges(exchanges: Turn[][], maxBytes: number): { kept: Turn[][]; dropped: number } {
  const sizes = exchanges.map((e) => Buffer.byteLength(JSON.stringify(e)));
  let total = sizes.reduce((a, b) => a + b, 0);
  let first = 0;
  while (total > maxBytes && first < exchanges.length - 1) total -= sizes[first++]!;
  return { kept: exchanges.slice(first), dropped: exchanges.slice(0, first).reduce((n, e) => n + e.length, 0) };
}

/** The start of the first user message's text, on one line. */
export function titleOf(turns: Turn[]): string {
  const first = turns.find((t) => t.role === 'user');
  const content = first?.content;
  const text = typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join(' ')
      : '';
  const line = text.replace(/\s+/g, ' ').trim();
  if (!line) return '(untitled)';
  return line.length > TITLE_CHARS ? `${line.slice(0, TITLE_CHARS - 1)}…` : line;
}

function headOf(item: Item): Head | undefined {
  const h = item as Partial<Head>;
  if (typeof h.version !== 'number' || typeof h.snapshot !== 'string' || typeof h.meta !== 'string' || typeof h.kv !== 'string' || typeof h.ttl !== 'number') return undefined;
  return {
    version: h.version,
    turnCount: typeof h.turnCount === 'number' ? h.turnCount : 0,
    createdAt: String(h.createdAt ?? ''),
    lastUsedAt: String(h.lastUsedAt ?? ''),
    ttl: h.ttl,
    snapshot: h.snapshot,
    parts: typeof h.parts === 'number' ? h.parts : 0,
    ...(typeof h.data === 'string' ? { data: h.data } : {}),
    kv: h.kv,
    meta: h.meta,
  };
}

function summaryOf(id: string, head: Pick<Head, 'turnCount' | 'createdAt' | 'lastUsedAt' | 'ttl'>, meta: ConversationMeta): ConversationSummary {
  return {
    id,
    ...meta,
    turnCount: head.turnCount,
    createdAt: head.createdAt,
    lastUsedAt: head.lastUsedAt,
    expiresAt: new Date(head.ttl * 1000).toISOString(),
  };
}

function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}
