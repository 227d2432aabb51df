/**
 * Helpers for the fault-injection suite: a watch on unhandled promise rejections in the real Node process,
 * a raw dump of a DynamoDB table (to prove a fault changed nothing stored), and a "did not hang" guard.
 */
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { runInThisContext } from 'node:vm';
import { dynamoClient } from '../../lambda/store/dynamo.js';

export interface RejectionWatch {
  readonly seen: unknown[];
  stop(): void;
}

/**
 * Records every unhandled rejection in this process. Jest gives each test file a copy of `process` whose
 * listeners never fire, so the listener goes on the real one (the main context's global).
 */
export function watchUnhandledRejections(): RejectionWatch {
  const real = runInThisContext('process') as NodeJS.Process;
  const seen: unknown[] = [];
  const listener = (reason: unknown) => {
    seen.push(reason);
  };
  real.on('unhandledRejection', listener);
  return { seen, stop: () => void real.off('unhandledRejection', listener) };
}

/** Every item of the table as stored (raw attribute values), in key order, as one comparable string. */
export async function dumpTable(endpoint: string, tableName: string, options: { skip?: (item: Record<string, AttributeValue>) => boolean } = {}): Promise<string> {
  const client = dynamoClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...(page.Items ?? []).filter((i) => !options.skip?.(i)));
      start = page.LastEvaluatedKey;
    } while (start);
    const key = (i: Record<string, AttributeValue>) => JSON.stringify([i.pk, i.sk]);
    items.sort((a, b) => key(a).localeCompare(key(b)));
    return JSON.stringify(items, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? sortKeys(v as Record<string, unknown>) : v), 1);
  } finally {
    client.destroy();
  }
}

/** Per-user limit counters: every call is meant to change them (they expire by TTL), unlike account data. */
export const isLimitCounter = (item: Record<string, AttributeValue>): boolean => item.type?.S === 'limits';

/**
 * What a tool call is meant to write besides account data: the limit counters, its usage-ledger record, the
 * per-window usage counters and (a successful chat) its stored conversation. A fault must leave everything else as it was.
 */
export const isCallAccounting = (item: Record<string, AttributeValue>): boolean => isLimitCounter(item) || /^(LEDGER|USAGE|CONV|CONVPART)#/.test(item.sk?.S ?? '');

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/**
 * Resolves with `work`'s outcome, or fails naming `what` if it has not settled after `ms`. Only a guard
 * against hangs: the limit is generous and nothing here measures speed.
 */
export async function settlesWithin<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}
