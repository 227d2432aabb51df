/**
 * Attack: another local process, or a web page that finds the port, talks to the embedded table of a running
 * `npm start` directly — dynalite accepts any credentials and would answer CORS preflights from any origin. The table
 * must answer only this server and the `ormcp` CLI (which read the per-run key from the 0600 file in the data dir).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { openLocalStore, type LocalStore } from '../../lambda/local/local-store.js';
import { TABLE_KEY_HEADER } from '../../lambda/local/table-guard.js';
import { keys } from '../../lambda/store/schema.js';

let dataDir: string;
let server: LocalStore;
let endpoint: string;
let tableKey: string;
let victimId: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ormcp-local-table-'));
  // As `npm start` opens it: owning the LevelDB, advertising the running table in the data dir.
  server = await openLocalStore(dataDir, { advertise: true });
  victimId = (await server.store.createUser('victim')).userId;
  await server.store.setOpenRouterKey(victimId, 'sk-or-v1-victim-0123456789abcdef');
  // Versions before the guard advertised the bare URL (read that too, so this attack runs against them as well).
  const advertised = readFileSync(join(dataDir, 'dynamodb-endpoint'), 'utf8').trim();
  ({ endpoint, tableKey } = advertised.startsWith('{') ? (JSON.parse(advertised) as { endpoint: string; tableKey: string }) : { endpoint: advertised, tableKey: '' });
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const TABLE = 'ormcp';
const dynamoBody = (target: string, body: unknown) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `DynamoDB_20120810.${target}`, Authorization: 'AWS4-HMAC-SHA256 Credential=any/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=00', 'X-Amz-Date': '20260101T000000Z' },
  body: JSON.stringify(body),
});

describe('another local process with a plain DynamoDB client', () => {
  let attacker: DynamoDBClient;
  beforeAll(() => {
    attacker = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'anything', secretAccessKey: 'anything' }, maxAttempts: 1 });
  });
  afterAll(() => attacker.destroy());

  test('cannot list, read or scan the table', async () => {
    await expect(attacker.send(new ListTablesCommand({}))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await expect(attacker.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: keys.user(victimId).pk }, sk: { S: 'PROFILE' } } }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    await expect(attacker.send(new ScanCommand({ TableName: TABLE }))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
  });

  test('cannot write to it, and the server still sees its data unchanged', async () => {
    await expect(
      attacker.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: keys.user(victimId).pk }, sk: { S: 'PROFILE' }, userId: { S: 'attacker' }, name: { S: 'victim' } } })),
    ).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    const user = await server.store.getUser(victimId);
    expect(user).toMatchObject({ userId: victimId, name: 'victim', hasKey: true });
  });

  test('a wrong or missing table key is refused', async () => {
    for (const headers of [{}, { [TABLE_KEY_HEADER]: 'A'.repeat(43) }, { [TABLE_KEY_HEADER]: `${tableKey}x` }] as Record<string, string>[]) {
      const init = dynamoBody('ListTables', {});
      const res = await fetch(endpoint, { ...init, headers: { ...init.headers, ...headers } });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ __type: expect.stringMatching(/#UnrecognizedClientException$/), message: expect.any(String) });
    }
  });

  test('a refused request cannot stream an unbounded body into the server: the connection is cut', async () => {
    const url = new URL(endpoint);
    const CHUNKS = 1024; // 64 MiB in 64 KiB chunks, far more than socket buffers hold
    const sent = await new Promise<number>((resolveSent) => {
      const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { 'Content-Type': 'application/x-amz-json-1.0' } });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let n = 0;
      req.on('response', (res) => res.resume());
      req.on('error', () => undefined);
      req.on('close', () => resolveSent(n));
      const pump = () => {
        while (n < CHUNKS && !req.destroyed) {
          n++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(sent).toBeLessThan(1024);
  });
});

describe('a web page', () => {
  test('gets no CORS preflight answer', async () => {
    const res = await fetch(endpoint, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-amz-target,authorization' },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')).toBeNull();
  });

  test('cannot read even with the table key, because it sends an Origin', async () => {
    const init = dynamoBody('GetItem', { TableName: TABLE, Key: { pk: { S: keys.user(victimId).pk }, sk: { S: 'PROFILE' } } });
    const res = await fetch(endpoint, { ...init, headers: { ...init.headers, Origin: 'https://evil.example', [TABLE_KEY_HEADER]: tableKey } });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(await res.text()).not.toContain(victimId);
  });
});

describe('this server and its CLI', () => {
  test('the advertised key is in a file only the owner can read', async () => {
    expect(statSync(join(dataDir, 'dynamodb-endpoint')).mode & 0o077).toBe(0);
    expect(tableKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('the key and no Origin reaches the table', async () => {
    const init = dynamoBody('ListTables', {});
    const res = await fetch(endpoint, { ...init, headers: { ...init.headers, [TABLE_KEY_HEADER]: tableKey } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ TableNames: [TABLE] });
  });

  test('the CLI path (a second openLocalStore on the data dir) reads and writes through the running table', async () => {
    const cli = await openLocalStore(dataDir);
    try {
      expect((await cli.store.listUsers()).map((u) => u.name)).toContain('victim');
      const { token } = await cli.store.issueToken(victimId, { label: 'from the cli' });
      expect((await server.store.authenticate(token))?.userId).toBe(victimId);
    } finally {
      await cli.close();
    }
  });
});
