/**
 * DynamoDB for the Lambda without the AWS SDK: its JSON protocol (x-amz-json-1.0, `DynamoDB_20120810.<Operation>`)
 * over http/aws-json-rpc.ts, and `documentClientOverRpc`, a stand-in for lib-dynamodb's DocumentClient that the stores
 * call unchanged (`send(new GetCommand({...}))`, plain JavaScript values in and out).
 *
 * The commands the stores build are plain `{ input }` objects: lib-dynamodb's classes in tests and `npm start`,
 * the look-alikes of document-commands.ts in the Lambda bundle (which replaces lib-dynamodb with them, so the SDK
 * is not bundled). Either way the operation is known from the command: its `operation` field (the look-alikes),
 * else its class name (lib-dynamodb's). Values are converted with @aws-sdk/util-dynamodb, the converter
 * lib-dynamodb itself uses (5 KB, no SDK client), with the options documentClient() in dynamo.ts sets.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall, type NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { createJsonRpcClient, endpointFor, type CallOptions, type JsonRpcClient, type JsonRpcOptions } from '../http/aws-json-rpc.js';
import { DYNAMO_TIMEOUTS, type DynamoTimeouts } from './dynamo-timeouts.js';

/** DynamoDB's largest answer is a BatchGetItem of 16 MB of items; the JSON around them stays below twice that. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export interface DynamoRpcOptions {
  /** Default: the regional endpoint. */
  endpoint?: string;
  region: string;
  credentials: JsonRpcOptions['credentials'];
  timeouts?: Partial<DynamoTimeouts>;
  userAgent?: string;
  backoffMs?: JsonRpcOptions['backoffMs'];
  headers?: JsonRpcOptions['headers'];
}

/** A DynamoDB client speaking the JSON protocol: `call('GetItem', { TableName, Key: { pk: { S: '…' } } })`. */
export function dynamoRpc(o: DynamoRpcOptions): JsonRpcClient {
  return createJsonRpcClient({
    signingName: 'dynamodb',
    targetPrefix: 'DynamoDB_20120810',
    contentType: 'application/x-amz-json-1.0',
    endpoint: o.endpoint ?? endpointFor({}, 'DYNAMODB', 'dynamodb', o.region),
    region: o.region,
    credentials: o.credentials,
    timeouts: { ...DYNAMO_TIMEOUTS, ...o.timeouts },
    maxResponseBytes: MAX_RESPONSE_BYTES,
    ...(o.userAgent ? { userAgent: o.userAgent } : {}),
    ...(o.backoffMs ? { backoffMs: o.backoffMs } : {}),
    ...(o.headers ? { headers: o.headers } : {}),
  });
}

/** A document command: lib-dynamodb's or a look-alike from document-commands.ts. */
export interface DocumentCommandLike {
  readonly input: object;
  readonly operation?: string;
}

/** What the stores call on a DocumentClient. */
export interface DocumentSender {
  send(command: DocumentCommandLike, options?: CallOptions): Promise<Record<string, any>>;
}

type Item = Record<string, NativeAttributeValue>;
type Wire = Record<string, unknown>;

/** The operations the stores use, by lib-dynamodb's class name. */
const OPERATIONS: Record<string, string> = {
  GetCommand: 'GetItem',
  PutCommand: 'PutItem',
  UpdateCommand: 'UpdateItem',
  DeleteCommand: 'DeleteItem',
  QueryCommand: 'Query',
  BatchGetCommand: 'BatchGetItem',
  BatchWriteCommand: 'BatchWriteItem',
};
const SUPPORTED = new Set(Object.values(OPERATIONS));

const MARSHALL = { removeUndefinedValues: true } as const;

export function operationOf(command: DocumentCommandLike): string {
  const op = command.operation ?? OPERATIONS[command.constructor?.name ?? ''];
  if (!op || !SUPPORTED.has(op)) throw new TypeError(`documentClientOverRpc does not support ${command.operation ?? command.constructor?.name ?? 'this command'}`);
  return op;
}

/** lib-dynamodb's DocumentClient, for the commands the stores send, over the JSON-protocol client. */
export function documentClientOverRpc(rpc: Pick<JsonRpcClient, 'call'>): DocumentSender {
  return {
    async send(command, options) {
      const op = operationOf(command);
      const out = await rpc.call<Wire>(op, toWire(op, command.input as Wire), options);
      return fromWire(out);
    },
  };
}

/**
 * The adapter typed as what the stores take. They call nothing but `send` with the commands above (a command
 * it does not know is a TypeError, not a silent no-op).
 */
export function asDocumentClient(sender: DocumentSender): DynamoDBDocumentClient {
  return sender as unknown as DynamoDBDocumentClient;
}

/** The request with every attribute value in DynamoDB's typed form ({ S: … }, { N: … }, …). */
export function toWire(op: string, input: Wire): Wire {
  const out: Wire = { ...input };
  for (const field of ['Key', 'Item', 'ExpressionAttributeValues', 'ExclusiveStartKey'] as const) {
    if (input[field] !== undefined) out[field] = recordToWire(input[field] as Item);
  }
  if (op === 'BatchGetItem' && input.RequestItems) {
    out.RequestItems = mapValues(input.RequestItems as Record<string, Wire>, (req) => ({ ...req, Keys: (req.Keys as Item[]).map(recordToWire) }));
  }
  if (op === 'BatchWriteItem' && input.RequestItems) out.RequestItems = mapValues(input.RequestItems as Record<string, Wire[]>, (reqs) => reqs.map((r) => writeRequest(r, recordToWire)));
  return out;
}

function recordToWire(record: Item): Wire {
  return mapValues(marshall(record, MARSHALL) as Wire, binaryToBase64);
}

function recordFromWire(record: unknown): Record<string, any> {
  return unmarshall(mapValues(record as Wire, binaryFromBase64) as never);
}

/** The JSON protocol carries binary (B, BS) as base64, which marshall leaves as bytes. */
function binaryToBase64(av: unknown): unknown {
  const v = av as Record<string, any>;
  if (v.B !== undefined) return { B: Buffer.from(v.B as Uint8Array).toString('base64') };
  if (v.BS !== undefined) return { BS: [...(v.BS as Uint8Array[])].map((b) => Buffer.from(b).toString('base64')) };
  if (v.L !== undefined) return { L: (v.L as unknown[]).map(binaryToBase64) };
  if (v.M !== undefined) return { M: mapValues(v.M as Wire, binaryToBase64) };
  return av;
}

/** Base64 binary (B, BS) back to bytes, as the SDK returns them. */
function binaryFromBase64(av: unknown): unknown {
  const v = av as Record<string, any>;
  const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
  if (typeof v.B === 'string') return { B: bytes(v.B) };
  if (Array.isArray(v.BS)) return { BS: (v.BS as string[]).map(bytes) };
  if (Array.isArray(v.L)) return { L: v.L.map(binaryFromBase64) };
  if (v.M !== undefined && typeof v.M === 'object') return { M: mapValues(v.M as Wire, binaryFromBase64) };
  return av;
}

/** The answer with every typed attribute value back as a plain JavaScript value. */
export function fromWire(out: Wire): Record<string, any> {
  const res: Record<string, any> = { ...out };
  for (const field of ['Item', 'Attributes', 'LastEvaluatedKey'] as const) {
    if (out[field] !== undefined) res[field] = recordFromWire(out[field]);
  }
  if (Array.isArray(out.Items)) res.Items = out.Items.map(recordFromWire);
  if (out.Responses) res.Responses = mapValues(out.Responses as Record<string, unknown[]>, (items) => items.map(recordFromWire));
  if (out.UnprocessedKeys) {
    res.UnprocessedKeys = mapValues(out.UnprocessedKeys as Record<string, Wire>, (req) => ({ ...req, Keys: ((req.Keys as unknown[]) ?? []).map(recordFromWire) }));
  }
  if (out.UnprocessedItems) res.UnprocessedItems = mapValues(out.UnprocessedItems as Record<string, Wire[]>, (reqs) => reqs.map((r) => writeRequest(r, recordFromWire)));
  return res;
}

/** One BatchWriteItem request (`{ PutRequest: { Item } }` or `{ DeleteRequest: { Key } }`) with its record converted. */
function writeRequest(r: Wire, convert: (record: any) => Wire): Wire {
  const put = r.PutRequest as { Item: Item } | undefined;
  const del = r.DeleteRequest as { Key: Item } | undefined;
  if (put) return { PutRequest: { ...put, Item: convert(put.Item) } };
  if (del) return { DeleteRequest: { ...del, Key: convert(del.Key) } };
  return r;
}

function mapValues<A, B>(record: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}
