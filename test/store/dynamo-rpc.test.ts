/**
 * The Lambda's SDK-free DynamoDB client (store/dynamo-rpc.ts over http/aws-json-rpc.ts) against a real DynamoDB API
 * (dynalite): every operation the stores send, with lib-dynamodb's command classes and with the bundle's
 * look-alikes, values read back identically through the SDK's DocumentClient; errors named by their AWS type;
 * retries only for throttling, 5xx and network failures (a loopback proxy in front of dynalite answers some
 * requests itself); every call ends in bounded time (a TCP proxy stalls or stops); and the SigV4 signature is the
 * one the AWS SDK's own signer computes for the same request (dynalite does not verify signatures).
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCommand as SdkGet, PutCommand as SdkPut } from '@aws-sdk/lib-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsServiceError, createJsonRpcClient, type JsonRpcClient } from '../../lambda/http/aws-json-rpc.js';
import { secretsRpc } from '../../lambda/aws/secrets-rpc.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '../../lambda/store/document-commands.js';
import { documentClientOverRpc, dynamoRpc, fromWire, operationOf, toWire, type DocumentSender } from '../../lambda/store/dynamo-rpc.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const CREDENTIALS = { accessKeyId: 'AKIDRPCTEST', secretAccessKey: 'rpc-test-secret', sessionToken: 'rpc-test-session' };
const NO_WAIT = () => 1;
const HANG_GUARD_MS = 10_000;

let dynamo: LocalDynamo;
let doc: DocumentSender;
const rpcs: JsonRpcClient[] = [];
let pk = 0;

function rpcAt(endpoint: string, timeouts: { connectionTimeoutMs?: number; requestTimeoutMs?: number; maxAttempts?: number } = {}): JsonRpcClient {
  const rpc = dynamoRpc({ endpoint, region: 'eu-west-1', credentials: CREDENTIALS, timeouts, backoffMs: NO_WAIT });
  rpcs.push(rpc);
  return rpc;
}

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms)));
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

async function failure(p: Promise<unknown>): Promise<Error & { $metadata?: { attempts?: number; httpStatusCode?: number } }> {
  return within(HANG_GUARD_MS, p.then(() => new Error('expected a failure'), (err: unknown) => err as Error));
}

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  doc = documentClientOverRpc(rpcAt(dynamo.endpoint));
});

afterAll(async () => {
  for (const r of rpcs) r.destroy();
  await dynamo.close();
});

const ITEM = {
  type: 'sample',
  label: 'héllo ✓',
  n: 42,
  ratio: 0.125,
  negative: -7,
  yes: true,
  no: false,
  nothing: null,
  tags: ['a', 1, false, { deep: ['x'] }],
  nested: { a: { b: { c: 'd' } }, empty: {} },
  names: new Set(['x', 'y']),
  bytes: new Uint8Array([0, 1, 254, 255]),
};

describe('every operation the stores send, on dynalite', () => {
  test('PutItem then GetItem (look-alike and lib-dynamodb commands): the SDK reads the same values, undefined fields dropped', async () => {
    const key = { pk: `RPC#${++pk}`, sk: 'ITEM' };
    await doc.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...key, ...ITEM, dropped: undefined }, ConditionExpression: 'attribute_not_exists(pk)' }));
    const viaRpc = await doc.send(new GetCommand({ TableName: dynamo.tableName, Key: key, ConsistentRead: true }));
    const viaSdk = await dynamo.client.send(new SdkGet({ TableName: dynamo.tableName, Key: key, ConsistentRead: true }));
    expect(viaRpc.Item).toEqual(viaSdk.Item);
    expect(viaRpc.Item).toEqual({ ...key, ...ITEM });
    expect(viaRpc.Item).not.toHaveProperty('dropped');
    // lib-dynamodb's own classes (what the stores build outside the Lambda bundle) work the same.
    await doc.send(new SdkPut({ TableName: dynamo.tableName, Item: { ...key, sk: 'SDK', n: 1 } }));
    expect((await doc.send(new SdkGet({ TableName: dynamo.tableName, Key: { ...key, sk: 'SDK' } }))).Item).toEqual({ ...key, sk: 'SDK', n: 1 });
    expect((await doc.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: 'RPC#absent', sk: 'ITEM' } }))).Item).toBeUndefined();
  });

  test('UpdateItem: ADD/SET/REMOVE with names and values, ReturnValues ALL_NEW and UPDATED_OLD', async () => {
    const key = { pk: `RPC#${++pk}`, sk: 'COUNTER' };
    const add = (by: number) =>
      doc.send(
        new UpdateCommand({
          TableName: dynamo.tableName,
          Key: key,
          UpdateExpression: 'ADD #n :by SET #t = :t',
          ConditionExpression: 'attribute_not_exists(#n) OR #n < :max',
          ExpressionAttributeNames: { '#n': 'n', '#t': 'type' },
          ExpressionAttributeValues: { ':by': by, ':max': 10, ':t': 'counter' },
          ReturnValues: 'ALL_NEW',
        }),
      );
    expect((await add(3)).Attributes).toEqual({ ...key, n: 3, type: 'counter' });
    expect((await add(4)).Attributes).toEqual({ ...key, n: 7, type: 'counter' });
    const old = await doc.send(new UpdateCommand({ TableName: dynamo.tableName, Key: key, UpdateExpression: 'REMOVE #t', ExpressionAttributeNames: { '#t': 'type' }, ReturnValues: 'UPDATED_OLD' }));
    expect(old.Attributes).toEqual({ type: 'counter' });
  });

  test('a failed condition is ConditionalCheckFailedException, not retried, and changes nothing', async () => {
    const key = { pk: `RPC#${++pk}`, sk: 'ONCE' };
    await doc.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...key, v: 1 } }));
    const err = await failure(doc.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...key, v: 2 }, ConditionExpression: 'attribute_not_exists(pk)' })));
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err.name).toBe('ConditionalCheckFailedException');
    expect(err.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
    const update = await failure(
      doc.send(new UpdateCommand({ TableName: dynamo.tableName, Key: key, UpdateExpression: 'SET v = :v', ConditionExpression: 'v = :old', ExpressionAttributeValues: { ':v': 3, ':old': 99 } })),
    );
    expect(update.name).toBe('ConditionalCheckFailedException');
    expect((await doc.send(new GetCommand({ TableName: dynamo.tableName, Key: key, ConsistentRead: true }))).Item).toEqual({ ...key, v: 1 });
  });

  test('DeleteItem with a condition and ReturnValues ALL_OLD', async () => {
    const key = { pk: `RPC#${++pk}`, sk: 'GONE' };
    await doc.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...key, v: 'x' } }));
    const res = await doc.send(new DeleteCommand({ TableName: dynamo.tableName, Key: key, ConditionExpression: 'attribute_exists(pk)', ReturnValues: 'ALL_OLD' }));
    expect(res.Attributes).toEqual({ ...key, v: 'x' });
    expect((await failure(doc.send(new DeleteCommand({ TableName: dynamo.tableName, Key: key, ConditionExpression: 'attribute_exists(pk)' })))).name).toBe('ConditionalCheckFailedException');
  });

  test('Query on the table and on the index, in pages (Limit, ExclusiveStartKey ↔ LastEvaluatedKey), both directions', async () => {
    const p = `RPC#${++pk}`;
    for (let i = 0; i < 5; i++) {
      await doc.send(new PutCommand({ TableName: dynamo.tableName, Item: { pk: p, sk: `T#${i}`, gsi1pk: `IDX#${p}`, gsi1sk: `S#${i}`, i } }));
    }
    const pages: number[][] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await doc.send(
        new QueryCommand({
          TableName: dynamo.tableName,
          KeyConditionExpression: 'pk = :p AND begins_with(sk, :t)',
          ExpressionAttributeValues: { ':p': p, ':t': 'T#' },
          ScanIndexForward: false,
          Limit: 2,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      pages.push((res.Items as { i: number }[]).map((item) => item.i));
      start = res.LastEvaluatedKey as Record<string, unknown> | undefined;
    } while (start && pages.length < 10);
    expect(pages.flat()).toEqual([4, 3, 2, 1, 0]);
    expect(pages[0]).toEqual([4, 3]);
    const byIndex = await doc.send(
      new QueryCommand({ TableName: dynamo.tableName, IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :g', ExpressionAttributeValues: { ':g': `IDX#${p}` } }),
    );
    expect((byIndex.Items as { i: number }[]).map((item) => item.i)).toEqual([0, 1, 2, 3, 4]);
  });

  test('BatchGetItem: Responses per table, missing keys simply absent', async () => {
    const p = `RPC#${++pk}`;
    for (const sk of ['A', 'B']) await doc.send(new PutCommand({ TableName: dynamo.tableName, Item: { pk: p, sk, v: sk.toLowerCase() } }));
    const res = await doc.send(
      new BatchGetCommand({ RequestItems: { [dynamo.tableName]: { Keys: [{ pk: p, sk: 'A' }, { pk: p, sk: 'B' }, { pk: p, sk: 'MISSING' }], ConsistentRead: true } } }),
    );
    const items = (res.Responses![dynamo.tableName] as { sk: string; v: string }[]).sort((a, b) => a.sk.localeCompare(b.sk));
    expect(items).toEqual([{ pk: p, sk: 'A', v: 'a' }, { pk: p, sk: 'B', v: 'b' }]);
    expect(res.UnprocessedKeys?.[dynamo.tableName]).toBeUndefined();
  });

  test('BatchWriteItem: puts (binary and nested values included) land as the SDK would write them; unprocessed items come back as plain values', async () => {
    const p = `RPC#${++pk}`;
    const items = [
      { pk: p, sk: 'A', n: 1, tags: { nested: ['x', 2] } },
      { pk: p, sk: 'B', bytes: new Uint8Array([0, 1, 255]) },
    ];
    const res = await doc.send(new BatchWriteCommand({ RequestItems: { [dynamo.tableName]: items.map((Item) => ({ PutRequest: { Item } })) } }));
    expect(res.UnprocessedItems?.[dynamo.tableName] ?? []).toEqual([]);
    const back = await Promise.all(['A', 'B'].map(async (sk) => (await doc.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: p, sk } }))).Item));
    expect(back).toEqual(items);
    expect(toWire('BatchWriteItem', { RequestItems: { t: [{ PutRequest: { Item: { pk: 'p', n: 1 } } }, { DeleteRequest: { Key: { pk: 'p', sk: 's' } } }] } })).toEqual({
      RequestItems: { t: [{ PutRequest: { Item: { pk: { S: 'p' }, n: { N: '1' } } } }, { DeleteRequest: { Key: { pk: { S: 'p' }, sk: { S: 's' } } } }] },
    });
    expect(fromWire({ UnprocessedItems: { t: [{ PutRequest: { Item: { pk: { S: 'p' }, b: { B: 'AAH/' } } } }] } })).toEqual({ UnprocessedItems: { t: [{ PutRequest: { Item: { pk: 'p', b: new Uint8Array([0, 1, 255]) } } }] } });
  });

  test('a missing table is ResourceNotFoundException; a bad request is a ValidationException; neither is retried', async () => {
    const missing = await failure(doc.send(new GetCommand({ TableName: 'no-such-table', Key: { pk: 'x', sk: 'y' } })));
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.$metadata?.attempts).toBe(1);
    const invalid = await failure(doc.send(new UpdateCommand({ TableName: dynamo.tableName, Key: { pk: 'x', sk: 'y' }, UpdateExpression: 'SET = broken' })));
    expect(invalid.name).toBe('ValidationException');
  });

  test('a command it does not know is refused before anything is sent', async () => {
    class ScanCommand {
      constructor(readonly input: object) {}
    }
    expect(() => operationOf(new ScanCommand({}))).toThrow(TypeError);
    await expect(doc.send(new ScanCommand({ TableName: dynamo.tableName }))).rejects.toThrow(/does not support ScanCommand/);
  });
});

/** An HTTP proxy in front of dynalite that answers the next requests itself, from a script. */
class ScriptedProxy {
  script: ({ status: number; type: string } | 'reset')[] = [];
  requests: IncomingHttpHeaders[] = [];
  private server: Server | undefined;
  constructor(private readonly target: string) {}
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests.push(req.headers);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const step = this.script.shift();
        if (step === 'reset') return req.socket.destroy();
        if (step) {
          res.writeHead(step.status, { 'Content-Type': 'application/x-amz-json-1.0' });
          return res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${step.type}`, message: 'scripted' }));
        }
        const target = new URL(this.target);
        const forward = request({ hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        });
        forward.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => this.server!.close(() => resolve()));
  }
}

describe('retries: throttling, 5xx and network failures only, within the attempt bound', () => {
  let proxy: ScriptedProxy;
  let endpoint: string;
  beforeAll(async () => {
    proxy = new ScriptedProxy(dynamo.endpoint);
    endpoint = await proxy.start();
  });
  afterAll(() => proxy.stop());
  beforeEach(() => {
    proxy.requests = [];
    proxy.script = [];
  });

  const get = (client: DocumentSender) => client.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: 'RPC#retry', sk: 'X' } }));

  test.each([
    [{ status: 400, type: 'ProvisionedThroughputExceededException' }],
    [{ status: 400, type: 'ThrottlingException' }],
    [{ status: 500, type: 'InternalServerError' }],
    [{ status: 503, type: 'ServiceUnavailable' }],
    ['reset' as const],
  ])('one %j, then the answer: retried once, succeeds', async (step) => {
    proxy.script = [step];
    const res = await within(HANG_GUARD_MS, get(documentClientOverRpc(rpcAt(endpoint))));
    expect(res.Item).toBeUndefined();
    expect(proxy.requests).toHaveLength(2);
  });

  test('failing every attempt: the last error, named, with the attempts made (the production bound: 2)', async () => {
    proxy.script = [{ status: 500, type: 'InternalServerError' }, { status: 400, type: 'ProvisionedThroughputExceededException' }, { status: 500, type: 'InternalServerError' }];
    const err = await failure(get(documentClientOverRpc(rpcAt(endpoint))));
    expect(err.name).toBe('ProvisionedThroughputExceededException');
    expect(err.$metadata?.attempts).toBe(2);
    expect(proxy.requests).toHaveLength(2);
  });

  test('a client error (4xx that is not throttling) is not retried', async () => {
    proxy.script = [{ status: 400, type: 'AccessDeniedException' }];
    const err = await failure(get(documentClientOverRpc(rpcAt(endpoint))));
    expect(err.name).toBe('AccessDeniedException');
    expect(proxy.requests).toHaveLength(1);
  });

  test('the request is signed: a SigV4 Authorization header of the right shape, with the session token', async () => {
    await get(documentClientOverRpc(rpcAt(endpoint)));
    const headers = proxy.requests[0]!;
    expect(headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    expect(headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
    const auth = /^AWS4-HMAC-SHA256 Credential=AKIDRPCTEST\/(\d{8})\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(String(headers.authorization));
    expect(auth).not.toBeNull();
    expect(auth![2]!.split(';')).toEqual(expect.arrayContaining(['content-type', 'host', 'x-amz-date', 'x-amz-security-token', 'x-amz-target']));
    expect(String(headers['x-amz-date']).slice(0, 8)).toBe(auth![1]);
  });
});

/** The AWS SDK's signer over node:crypto, to check the signature independently of aws4. */
class NodeSha256 {
  private readonly h;
  constructor(secret?: string | Uint8Array) {
    this.h = secret ? createHmac('sha256', secret) : createHash('sha256');
  }
  update(data: string | Uint8Array): void {
    this.h.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

test("aws4's signature equals the AWS SDK signer's for the same request (Secrets Manager's GetSecretValue)", async () => {
  const seen: { headers: IncomingHttpHeaders; body: string; url: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ headers: req.headers, body, url: req.url ?? '' });
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ SecretString: 'the-secret' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secrets = secretsRpc({ endpoint, region: 'eu-west-1', credentials: CREDENTIALS, timeouts: { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_000, maxAttempts: 1 } });
  try {
    expect(await secrets.getSecretValue({ SecretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:x' })).toEqual({ SecretString: 'the-secret' });
    const { headers, body } = seen[0]!;
    expect(headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(headers['content-type']).toBe('application/x-amz-json-1.1');
    const auth = /SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(String(headers.authorization))!;
    const signedNames = auth[1]!.split(';');
    const amzDate = String(headers['x-amz-date']);
    const signingDate = new Date(Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15)));
    const signer = new SignatureV4({ service: 'secretsmanager', region: 'eu-west-1', credentials: CREDENTIALS, sha256: NodeSha256 as never, applyChecksum: false });
    const signed = await signer.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: Number(new URL(endpoint).port),
        path: '/',
        query: {},
        headers: Object.fromEntries(signedNames.filter((n) => n !== 'x-amz-date' && n !== 'x-amz-security-token').map((n) => [n, String(headers[n])])),
        body,
      },
      { signingDate, signableHeaders: new Set(signedNames) },
    );
    expect(String(signed.headers.authorization)).toBe(String(headers.authorization));
  } finally {
    secrets.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe('bounded in time', () => {
  let tcp: TcpProxy;
  beforeAll(async () => {
    tcp = new TcpProxy(Number(new URL(dynamo.endpoint).port));
    await tcp.start();
  });
  afterAll(() => tcp.stop());

  test('a stalled DynamoDB: TimeoutError after each attempt\'s limit, both attempts made', async () => {
    tcp.delayMs = 5_000;
    try {
      const client = documentClientOverRpc(rpcAt(tcp.endpoint, { requestTimeoutMs: 200, maxAttempts: 2 }));
      const before = tcp.accepted;
      const err = await failure(client.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: 'RPC#slow', sk: 'X' } })));
      expect(err.name).toBe('TimeoutError');
      expect(err.$metadata?.attempts).toBe(2);
      expect(tcp.accepted - before).toBeGreaterThanOrEqual(1);
    } finally {
      tcp.delayMs = 0;
    }
  });

  test('DynamoDB gone (connections refused): the network error, retried, then reported with its code', async () => {
    const client = documentClientOverRpc(rpcAt(tcp.endpoint, { maxAttempts: 2 }));
    await tcp.stop();
    try {
      const err = await failure(client.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: 'RPC#gone', sk: 'X' } })));
      expect((err as { code?: string }).code).toBe('ECONNREFUSED');
      expect(err.$metadata?.attempts).toBe(2);
    } finally {
      await tcp.start();
    }
    // Back: the same client serves again.
    expect((await client.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: 'RPC#gone', sk: 'X' } }))).Item).toBeUndefined();
  });

  test('an abort signal ends the call at once, without further attempts', async () => {
    tcp.delayMs = 5_000;
    try {
      const client = documentClientOverRpc(rpcAt(tcp.endpoint, { requestTimeoutMs: 5_000, maxAttempts: 2 }));
      const err = await failure(client.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: 'RPC#abort', sk: 'X' } }), { abortSignal: AbortSignal.timeout(100) }));
      expect(err.name).toBe('TimeoutError');
      expect(err.$metadata?.attempts).toBe(1);
    } finally {
      tcp.delayMs = 0;
    }
  });

  test('a response larger than the bound is refused, not buffered', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ Item: { pk: { S: 'x'.repeat(4096) } } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const rpc = createJsonRpcClient({
      signingName: 'dynamodb',
      targetPrefix: 'DynamoDB_20120810',
      contentType: 'application/x-amz-json-1.0',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      timeouts: { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_000, maxAttempts: 2 },
      maxResponseBytes: 1024,
    });
    try {
      const err = await failure(rpc.call('GetItem', {}));
      expect(err.name).toBe('ResponseTooLarge');
      expect(err.$metadata?.attempts).toBe(1);
    } finally {
      rpc.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
