/**
 * The one door to the single DynamoDB table that every store goes through: get, put, conditional update, delete,
 * mark revoked, query (index or sort-key range), batch get and batch put, in plain objects. A failed condition is mapped here,
 * once, to ConditionFailedError. No SDK command type appears in this API, so the transport underneath (today the
 * SDK's DocumentClient) can be replaced by a smaller DynamoDB client without touching the stores.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE } from './schema.js';

export type Item = Record<string, unknown>;
export interface ItemKey {
  pk: string;
  sk: string;
}

/** A condition (and the names and values its expressions use) that a write must meet. */
export interface Conditional {
  condition?: string;
  names?: Record<string, string>;
  values?: Record<string, unknown>;
}

export interface UpdateInput extends Conditional {
  key: ItemKey;
  /** The UpdateExpression: SET / REMOVE / ADD clauses. */
  update: string;
  /** Which attributes come back: the whole item after or before the write, or the changed ones as they were. */
  returns?: 'ALL_NEW' | 'ALL_OLD' | 'UPDATED_OLD';
}

export interface RangeQuery {
  /** The index partition (gsi1pk), or with `range`, the table partition (pk) whose sort keys lie within it. */
  partition: string;
  range?: { from: string; to: string };
  ascending: boolean;
  /** Stop after this many items (all pages otherwise). */
  limit?: number;
}

/** A conditional write whose condition did not hold; nothing was written. */
export class ConditionFailedError extends Error {
  override readonly name = 'ConditionFailedError';
  constructor() {
    super('the item did not meet the write condition');
  }
}

/** True for a failed condition, mapped (ConditionFailedError) or as the service names it. */
export function isConditionFailure(err: unknown): boolean {
  if (err instanceof ConditionFailedError) return true;
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

/** The TTL attribute for an item DynamoDB may delete `keepSeconds` after `end`. */
export function expiresAfter(end: Date | number, keepSeconds: number): { [TABLE.ttlAttribute]: number } {
  const ms = typeof end === 'number' ? end : end.getTime();
  return { [TABLE.ttlAttribute]: Math.floor(ms / 1000) + keepSeconds };
}

/** BatchGetItem takes at most 100 keys; unprocessed keys (throttling) are retried a few times with backoff. */
const BATCH_MAX = 100;
const BATCH_RETRIES = 5;
/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_MAX = 25;

export interface TableOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
}

export class Table {
  private readonly db: DynamoDBDocumentClient;
  readonly name: string;

  constructor(options: TableOptions) {
    this.db = options.client;
    this.name = options.tableName;
  }

  /** One item, read consistently (every read here decides something: a credential, a lease, a condition). */
  async get(key: ItemKey): Promise<Item | undefined> {
    const res = await this.db.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true }));
    return res.Item;
  }

  async put(item: Item & ItemKey, c: Conditional = {}): Promise<void> {
    await this.write(() => this.db.send(new PutCommand({ TableName: this.name, Item: item, ...expressions(c) })));
  }

  /** Puts only if no item has this key yet (ConditionFailedError otherwise). */
  async create(item: Item & ItemKey): Promise<void> {
    await this.put(item, { condition: 'attribute_not_exists(pk)' });
  }

  /** Updates (or creates, unless the condition forbids it); returns the attributes `returns` asks for. */
  async update(u: UpdateInput): Promise<Item | undefined> {
    const res = await this.write(() =>
      this.db.send(new UpdateCommand({ TableName: this.name, Key: u.key, UpdateExpression: u.update, ...expressions(u), ...(u.returns ? { ReturnValues: u.returns } : {}) })),
    );
    return res.Attributes;
  }

  /** An update that reports a failed condition as false instead of throwing. */
  async tryUpdate(u: UpdateInput): Promise<boolean> {
    try {
      await this.update(u);
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }

  async delete(key: ItemKey, c: Conditional = {}): Promise<void> {
    await this.write(() => this.db.send(new DeleteCommand({ TableName: this.name, Key: key, ...expressions(c) })));
  }

  /**
   * Stamps `revokedAt` once (revoking twice keeps the first time) and lets TTL delete the item `keepSeconds` later;
   * returns the item as it now is. ConditionFailedError when there is no such item.
   */
  async markRevoked(key: ItemKey, now: Date, keepSeconds: number): Promise<Item> {
    const attributes = await this.update({
      key,
      update: 'SET revokedAt = if_not_exists(revokedAt, :now), #ttl = if_not_exists(#ttl, :ttl)',
      condition: 'attribute_exists(pk)',
      names: { '#ttl': TABLE.ttlAttribute },
      values: { ':now': now.toISOString(), ':ttl': expiresAfter(now, keepSeconds)[TABLE.ttlAttribute] },
      returns: 'ALL_NEW',
    });
    return attributes ?? {};
  }

  /** Items of one index partition (gsi1), or of one table partition within a sort-key range, in sort-key order. */
  async query(q: RangeQuery): Promise<Item[]> {
    const onIndex = !q.range;
    const limit = q.limit ?? Infinity;
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const res = await this.db.send(
        new QueryCommand({
          TableName: this.name,
          ...(onIndex ? { IndexName: TABLE.index.name } : {}),
          KeyConditionExpression: onIndex ? '#pk = :pk' : '#pk = :pk AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: onIndex ? { '#pk': TABLE.index.partitionKey } : { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
          ExpressionAttributeValues: { ':pk': q.partition, ...(q.range ? { ':from': q.range.from, ':to': q.range.to } : {}) },
          ScanIndexForward: q.ascending,
          ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...((res.Items ?? []) as Item[]));
      start = res.LastEvaluatedKey;
    } while (start && items.length < limit);
    return items;
  }

  /** The items that exist among `wanted` (in no particular order), read consistently, in as few round trips as DynamoDB allows. */
  async batchGet(wanted: readonly ItemKey[]): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < wanted.length; i += BATCH_MAX) {
      let pending: Item[] | undefined = wanted.slice(i, i + BATCH_MAX).map((k) => ({ pk: k.pk, sk: k.sk }));
      for (let attempt = 0; pending && pending.length > 0; attempt++) {
        // Fail rather than answer as if the unprocessed items did not exist.
        if (attempt > BATCH_RETRIES) throw new Error('DynamoDB left keys unprocessed after retries');
        const res = await this.db.send(new BatchGetCommand({ RequestItems: { [this.name]: { Keys: pending, ConsistentRead: true } } }));
        out.push(...((res.Responses?.[this.name] ?? []) as Item[]));
        pending = res.UnprocessedKeys?.[this.name]?.Keys as Item[] | undefined;
        if (pending?.length) await sleep(20 * 2 ** attempt);
      }
    }
    return out;
  }

  /** Puts every item (unconditionally), 25 to a round trip; unprocessed ones are retried like batchGet's. */
  async batchPut(items: readonly (Item & ItemKey)[]): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
      let pending: Item[] | undefined = items.slice(i, i + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending && pending.length > 0; attempt++) {
        if (attempt > BATCH_RETRIES) throw new Error('DynamoDB left items unwritten after retries');
        const res = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.name]: pending as never } }));
        pending = res.UnprocessedItems?.[this.name] as Item[] | undefined;
        if (pending?.length) await sleep(20 * 2 ** attempt);
      }
    }
  }

  /** Sends a write, mapping a failed condition to ConditionFailedError (the one place that mapping happens). */
  private async write<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      if (isConditionFailure(err)) throw new ConditionFailedError();
      throw err;
    }
  }
}

function expressions(c: Conditional): { ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
  return {
    ...(c.condition ? { ConditionExpression: c.condition } : {}),
    ...(c.names && Object.keys(c.names).length ? { ExpressionAttributeNames: c.names } : {}),
    ...(c.values && Object.keys(c.values).length ? { ExpressionAttributeValues: c.values } : {}),
  };
}
