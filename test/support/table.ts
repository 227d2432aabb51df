/**
 * Snapshots of a harness's whole table, to prove that a run of hostile requests changed nothing stored (or only
 * what it was allowed to): dump before, dump after, compare item by item.
 */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Harness } from './harness.js';

export type TableItem = Record<string, unknown>;

/** Every item in the table, page by page, as stored. */
export async function scanAll(client: DynamoDBDocumentClient, tableName: string): Promise<TableItem[]> {
  const items: TableItem[] = [];
  let start: TableItem | undefined;
  do {
    const res = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...((res.Items ?? []) as TableItem[]));
    start = res.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Every item in the table (after background writes settle), sorted by key: compare two dumps to prove nothing changed. */
export async function dumpTable(h: Harness, options: { skip?: (item: TableItem) => boolean } = {}): Promise<TableItem[]> {
  await h.app.settle();
  const items = (await scanAll(h.dynamo.client, h.dynamo.tableName)).filter((i) => !options.skip?.(i));
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** What every tool call is meant to write besides account data: its usage-ledger record and the usage counters. */
export const isCallAccounting = (item: TableItem): boolean => item.type === 'limits' || /^(LEDGER|USAGE)#/.test(String(item.sk));

/** Items that differ between two dumps, by key: what was added, removed, or changed (before → after). */
export function tableDiff(before: TableItem[], after: TableItem[]): { added: TableItem[]; removed: TableItem[]; changed: { before: TableItem; after: TableItem }[] } {
  const was = new Map(before.map((i) => [key(i), i]));
  const now = new Map(after.map((i) => [key(i), i]));
  return {
    added: after.filter((i) => !was.has(key(i))),
    removed: before.filter((i) => !now.has(key(i))),
    changed: after.filter((i) => was.has(key(i)) && JSON.stringify(was.get(key(i))) !== JSON.stringify(i)).map((i) => ({ before: was.get(key(i))!, after: i })),
  };
}

export type TableDiff = ReturnType<typeof tableDiff>;

/** One line per item a diff added, removed or changed (its new value), for a failure report; `redact` hides secrets. */
export function diffLines(diff: TableDiff, redact: (s: string) => string): string[] {
  const lines: string[] = [];
  for (const [what, items] of [['added', diff.added], ['removed', diff.removed], ['changed', diff.changed.map((x) => x.after)]] as const) {
    for (const item of items) lines.push(`table item ${what}: ${redact(JSON.stringify(item)).slice(0, 400)}`);
  }
  return lines;
}

function key(i: TableItem): string {
  return `${String(i.pk)}\u0000${String(i.sk)}`;
}
