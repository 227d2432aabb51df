/**
 * The operator CLI end to end as a child process (`node bin/ormcp.mjs`) on a temporary data dir, plus its
 * help, usage errors and client snippets (mostly in-process through run(), which is the same code).
 * Spawns against one data dir run one at a time: without `npm start` only one process may open its LevelDB.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { COMMANDS } from '../../lambda/cli/commands/index.js';
import { parseExpiry } from '../../lambda/cli/expiry.js';
import { startLocalDynamo } from '../../lambda/local/dynalite.js';
import { openLocalStore } from '../../lambda/local/local-store.js';
import { allFileContents, runCli, spawnCli, TOKEN_LINE } from './support.js';

const hex = () => randomBytes(12).toString('hex');

describe('ormcp on a local data dir (child process)', () => {
  let dataDir: string;
  const aliceKey = `sk-or-v1-alice-${hex()}`;
  const bobKey = `sk-or-v1-bob-${hex()}`;
  const carolKey = `sk-or-v1-carol-${hex()}`;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const d = () => ['--data-dir', dataDir];

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ormcp-cli-'));
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('token issue: key from OPENROUTER_API_KEY; stdout is the token and nothing else', async () => {
    const r = await spawnCli(['token', 'issue', '--user', 'alice', '--label', 'laptop', '--expires', '1h', ...d()], { env: { OPENROUTER_API_KEY: aliceKey } });
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout.endsWith('\n')).toBe(true);
    const lines = r.stdout.split('\n').slice(0, -1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(TOKEN_LINE);
    tokens.alice = lines[0]!;
    ids.alice = tokens.alice.slice(6, 22);
    expect(r.stderr).toContain('Created user "alice"');
    expect(r.stderr).toContain(ids.alice);
    expect(r.stderr).not.toContain(tokens.alice);
    expect(r.stderr).not.toContain(aliceKey);
  }, 30_000);

  test('token issue for a new user without a key: exit 1, nothing on stdout, no user created', async () => {
    const r = await spawnCli(['token', 'issue', '--user', 'bob', ...d()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^ormcp: no user named "bob"; creating one needs their OpenRouter key: set OPENROUTER_API_KEY or pass --openrouter-key-stdin\n$/);
  }, 30_000);

  test('token issue --openrouter-key-stdin: the key comes from stdin (and wins over OPENROUTER_API_KEY)', async () => {
    const r = await spawnCli(['token', 'issue', '--user', 'bob', '--openrouter-key-stdin', ...d()], {
      stdin: `${bobKey}\n`,
      env: { OPENROUTER_API_KEY: `sk-or-v1-not-this-one-${hex()}` },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ormcp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/);
    tokens.bob = r.stdout.trim();
    ids.bob = tokens.bob.slice(6, 22);
    expect(r.stderr).toContain('Created user "bob" with the OpenRouter key from stdin.'); // the failed attempt left no user behind
    expect(r.stderr).not.toContain(bobKey);
  }, 30_000);

  test('token list: ids, users, labels, expiry, status — never a token', async () => {
    const table = await spawnCli(['token', 'list', ...d()]);
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['TOKEN ID', 'USER', 'LABEL', 'KIND', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS']);
    const aliceRow = rows.find((r) => r.startsWith(ids.alice!))!;
    const bobRow = rows.find((r) => r.startsWith(ids.bob!))!;
    expect(aliceRow.split(/\s{2,}/)).toEqual([ids.alice, 'alice', 'laptop', 'personal', expect.stringMatching(/Z$/), expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\dZ$/), '-', 'active']);
    expect(bobRow.split(/\s{2,}/)).toEqual([ids.bob, 'bob', 'default', 'personal', expect.stringMatching(/Z$/), 'never', '-', 'active']);
    for (const t of Object.values(tokens)) expect(table.stdout).not.toContain(t.slice(23));

    const asJson = await spawnCli(['token', 'list', '--user', 'alice', '--json', ...d()]);
    expect(asJson.code).toBe(0);
    const list = JSON.parse(asJson.stdout) as Record<string, unknown>[];
    expect(list).toEqual([
      { tokenId: ids.alice, user: 'alice', userId: expect.any(String), label: 'laptop', kind: 'personal', status: 'active', createdAt: expect.any(String), expiresAt: expect.any(String), lastUsedAt: null, revokedAt: null },
    ]);
    const expiresIn = Date.parse(list[0]!.expiresAt as string) - Date.now();
    expect(expiresIn).toBeGreaterThan(50 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(60 * 60_000);
  }, 30_000);

  test('the stored keys are the ones given; token revoke stops a token at once; an unknown id is exit 1', async () => {
    const local = await openLocalStore(dataDir);
    try {
      expect(await local.store.authenticate(tokens.alice!)).toMatchObject({ tokenId: ids.alice, openRouterKey: aliceKey });
      expect(await local.store.authenticate(tokens.bob!)).toMatchObject({ tokenId: ids.bob, openRouterKey: bobKey });
      await local.store.settle(); // the last-used stamps, before the database closes
    } finally {
      await local.close();
    }

    const revoked = await spawnCli(['token', 'revoke', ids.alice!, ...d()]);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked token ${ids.alice} (user "alice", "laptop").\n` });
    const again = await spawnCli(['token', 'revoke', ids.alice!, ...d()]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already revoked');
    const unknown = await spawnCli(['token', 'revoke', 'ffffffffffffffff', ...d()]);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toBe('ormcp: no token with id ffffffffffffffff (see: ormcp token list)\n');

    const list = JSON.parse((await spawnCli(['token', 'list', '--json', ...d()])).stdout) as { tokenId: string; status: string; revokedAt: string | null }[];
    expect(list.find((t) => t.tokenId === ids.alice)).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
    expect(list.find((t) => t.tokenId === ids.bob)).toMatchObject({ status: 'active', lastUsedAt: expect.any(String) });

    const after = await openLocalStore(dataDir);
    try {
      expect(await after.store.authenticate(tokens.alice!)).toBeUndefined();
    } finally {
      await after.close();
    }
  }, 60_000);

  test('user set-key (key piped on stdin), user list, user remove', async () => {
    const set = await spawnCli(['user', 'set-key', 'carol', ...d()], { stdin: carolKey });
    expect(set).toMatchObject({ code: 0, stdout: 'Created user "carol" with the OpenRouter key from stdin.\n' });
    const replace = await spawnCli(['user', 'set-key', 'carol', ...d()], { env: { OPENROUTER_API_KEY: carolKey } });
    expect(replace).toMatchObject({ code: 0, stdout: 'Replaced the OpenRouter key of "carol" (from OPENROUTER_API_KEY).\n' });

    const users = JSON.parse((await spawnCli(['user', 'list', '--json', ...d()])).stdout) as { name: string; hasKey: boolean; tokens: number; activeTokens: number }[];
    expect(users.map((u) => [u.name, u.hasKey, u.tokens, u.activeTokens])).toEqual([
      ['alice', true, 1, 0],
      ['bob', true, 1, 1],
      ['carol', true, 0, 0],
    ]);

    const removed = await spawnCli(['user', 'remove', 'bob', ...d()]);
    expect(removed).toMatchObject({ code: 0, stdout: 'Removed user "bob" (revoked 1 token).\n' });
    const table = await spawnCli(['user', 'list', ...d()]);
    expect(table.stdout.split('\n')[0]!.split(/\s{2,}/)).toEqual(['NAME', 'USER ID', 'KEY', 'CREATED', 'TOKENS', 'ACTIVE', 'STATUS']);
    expect(table.stdout).toMatch(/^alice\s.*\senabled$/m);
    expect(table.stdout).not.toMatch(/^bob\s/m);
    const gone = await spawnCli(['user', 'remove', 'bob', ...d()]);
    expect(gone).toMatchObject({ code: 1, stderr: 'ormcp: no user named "bob" (see: ormcp user list)\n' });
  }, 60_000);

  test('user reset-key: allows one more created key, once; an unknown user is an error', async () => {
    // carol had a key created with the management key (as the server records it), so she may not get another.
    const local = await openLocalStore(dataDir);
    try {
      const carol = (await local.store.findUserByName('carol'))!;
      const lease = await local.store.acquireKeyLease(carol.userId, { leaseMs: 60_000 });
      await local.store.commitKeyLease(carol.userId, lease.leaseId, { key: carolKey, provisionedKeyHash: 'f01d52606dc8f0a8303a7b5cc3fa07109c2e346cec7c0a16b40de462992ce943' });
      expect((await local.store.getUser(carol.userId))!.provisionUsed).toBe(true);
    } finally {
      await local.close();
    }
    const reset = await spawnCli(['user', 'reset-key', 'carol', ...d()]);
    expect(reset).toMatchObject({ code: 0, stdout: '"carol" may have one more OpenRouter key created.\n' });
    const again = await spawnCli(['user', 'reset-key', 'carol', ...d()]);
    expect(again).toMatchObject({ code: 0, stdout: '"carol" may already have an OpenRouter key created; nothing changed.\n' });
    const after = await openLocalStore(dataDir);
    try {
      const carol = (await after.store.findUserByName('carol'))!;
      expect(carol.provisionUsed).toBeUndefined();
      expect(await after.store.getOpenRouterKey(carol.userId)).toBe(carolKey); // the key itself is untouched
    } finally {
      await after.close();
    }
    expect(await spawnCli(['user', 'reset-key', 'nobody', ...d()])).toMatchObject({ code: 1, stderr: 'ormcp: no user named "nobody" (see: ormcp user list)\n' });
  }, 60_000);

  test('no file under the data dir (LevelDB included) holds a token or an OpenRouter key, nor does any stored item', async () => {
    const secrets = [aliceKey, bobKey, carolKey, ...Object.values(tokens), ...Object.values(tokens).map((t) => t.slice(23))];
    const files = allFileContents(dataDir);
    expect(files.filter((f) => /\.(ldb|log)$/.test(f.path)).reduce((n, f) => n + f.content.length, 0)).toBeGreaterThan(500);
    for (const f of files) for (const s of secrets) expect(f.content.includes(s) ? `${f.path} contains a secret` : 'clean').toBe('clean');

    // LevelDB compresses its tables (Snappy), so also read every item back decoded, through DynamoDB.
    const db = await startLocalDynamo({ path: join(dataDir, 'dynamodb') });
    try {
      const { Items = [] } = await db.client.send(new ScanCommand({ TableName: db.tableName }));
      const dump = JSON.stringify(Items);
      expect(dump).toContain(ids.alice!); // the scan does see the data
      expect(Items.length).toBeGreaterThanOrEqual(6);
      for (const s of secrets) expect(dump.includes(s) ? 'a stored item contains a secret' : 'clean').toBe('clean');
    } finally {
      await db.close();
    }
  });
});

describe('ormcp help, usage errors and client snippets', () => {
  const url = 'https://mcp.example.com/prod/mcp';
  const token = `ormcp_0123456789abcdef_${'A'.repeat(43)}`;

  test('as a child process: --help, --version, an unknown command, a client snippet (in parallel)', async () => {
    const [help, version, unknown, cursor] = await Promise.all([
      spawnCli(['--help']),
      spawnCli(['--version']),
      spawnCli(['bogus']),
      spawnCli(['client-config', 'cursor', '--url', url, '--token', token]),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ormcp: operator CLI/);
    for (const c of COMMANDS) expect(help.stdout).toContain(c.path.join(' '));
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toBe("ormcp: unknown command: bogus\nUsage: ormcp <command> [options]\nRun 'ormcp --help' for the commands.\n");
    expect(cursor.code).toBe(0);
    expect(JSON.parse(cursor.stdout)).toEqual({ mcpServers: { openrouter: { url, headers: { Authorization: `Bearer ${token}` } } } });
  }, 30_000);

  test.each(COMMANDS.map((c) => c.path.join(' ')))('ormcp %s --help: exit 0 with its usage', async (command) => {
    const r = await runCli([...command.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: ormcp ${command}`));
    expect(r.stdout).toContain('--data-dir');
    expect(r.stderr).toBe('');
    expect((await runCli(['help', ...command.split(' ')])).stdout).toBe(r.stdout);
  });

  test('group help and a bare group', async () => {
    for (const group of ['token', 'user']) {
      const r = await runCli([group, '-h']);
      expect(r).toMatchObject({ code: 0 });
      expect(r.stdout).toContain(`Usage: ormcp ${group} <`);
      const bare = await runCli([group]);
      expect(bare).toMatchObject({ code: 2, stdout: '' });
      expect(bare.stderr).toContain(`ormcp: missing ${group} command`);
    }
    expect(await runCli([])).toMatchObject({ code: 2, stdout: '' });
  });

  test('usage errors exit 2 with a usage hint, and never echo what could be a key', async () => {
    const key = `sk-or-v1-${hex()}`;
    const cases: [string[], RegExp][] = [
      [['token', 'issue'], /^ormcp: missing --user <name>\nUsage: ormcp token issue /],
      [['token', 'issue', '--user', 'a', '--expires', '5y'], /^ormcp: --expires takes a lifetime such as 30d, 12h or 90m, or "never"\n/],
      [['token', 'issue', '--user', 'a', '--expires', '4000d'], /^ormcp: --expires is at most 3650d/],
      [['token', 'issue', '--user', 'a', '--bogus'], /^ormcp: unknown option --bogus\n/],
      [['token', 'issue', '--user', 'a', `--openrouter-key=${key}`], /^ormcp: unknown option --openrouter-key: the OpenRouter key is never taken from the command line/],
      [['user', 'set-key', 'a', key], /^ormcp: too many arguments\nUsage: ormcp user set-key <name>/],
      [[key], /^ormcp: unknown command\n/],
      [['token', 'revoke'], /^ormcp: missing <token-id>\n/],
      [['token', 'revoke', 'not-an-id'], /^ormcp: a token id is 16 hex characters/],
      [['token', 'list', '--stack', 's', '--data-dir', 'x'], /^ormcp: --stack and --data-dir exclude each other\n/],
      [['token', 'list', '--region', 'eu-west-1'], /^ormcp: --region goes with --stack\n/],
      [['token', 'issue', '--user', 'a', '--label', '-x'], /^ormcp: the value of --label starts with "-": write it as --label=<value>\n/],
      [['client-config'], /^ormcp: missing <client>\n/],
      [['client-config', 'emacs'], /^ormcp: unknown client "emacs": choose one of claude-code, cursor, vscode, claude-desktop, chatgpt\n/],
      [['client-config', 'cursor', '--url', 'ftp://x'], /^ormcp: --url must be an http:\/\/ or https:\/\/ URL\n/],
    ];
    for (const [args, expected] of cases) {
      const r = await runCli(args, { env: { OPENROUTER_API_KEY: key } });
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(r.stderr).toMatch(expected);
      expect(r.stderr).toMatch(/\nUsage: ormcp /);
      expect(r.stderr).not.toContain(key);
    }
  });

  test('a data dir that does not exist is exit 1 (unless a key is given to create a user), and is not created', async () => {
    const missing = join(tmpdir(), `ormcp-missing-${hex()}`);
    const r = await runCli(['token', 'list', '--data-dir', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ormcp: no local data in ${missing}: pass --data-dir, or create a first user with their key (OPENROUTER_API_KEY=… ormcp token issue --user <name>)\n`);
    const issue = await runCli(['token', 'issue', '--user', 'nobody', '--data-dir', missing]);
    expect(issue.code).toBe(1);
    expect(issue.stderr).toContain(`ormcp: no local data in ${missing}`);
    expect(existsSync(missing)).toBe(false);
  });

  test.each([
    ['claude-code', (out: string) => expect(out).toBe(`claude mcp add --transport http openrouter ${url} --header "Authorization: Bearer ${token}"\n`)],
    ['cursor', (out: string) => expect(JSON.parse(out)).toEqual({ mcpServers: { openrouter: { url, headers: { Authorization: `Bearer ${token}` } } } })],
    ['vscode', (out: string) => expect(JSON.parse(out)).toEqual({ servers: { openrouter: { type: 'http', url, headers: { Authorization: `Bearer ${token}` } } } })],
    [
      'claude-desktop',
      (out: string) =>
        expect(JSON.parse(out)).toEqual({
          mcpServers: {
            openrouter: { command: 'npx', args: ['-y', 'mcp-remote', url, '--header', 'Authorization: Bearer ${OPENROUTER_MCP_TOKEN}'], env: { OPENROUTER_MCP_TOKEN: token } },
          },
        }),
    ],
  ])('client-config %s: the README snippet with the URL and token given', async (client, check) => {
    const r = await runCli(['client-config', client, '--url', url, '--token', token]);
    expect(r.code).toBe(0);
    check(r.stdout);
    expect(r.stdout).toContain(url);
    expect(r.stdout).toContain(token);
  });

  test('client-config claude-desktop: Settings → Connectors (OAuth) for an HTTPS URL, the mcp-remote bridge for a token', async () => {
    const deployed = await runCli(['client-config', 'claude-desktop', '--url', url]);
    expect(deployed.stderr).toContain(`Settings → Connectors → Add custom connector, name "OpenRouter", URL ${url}`);
    expect(deployed.stdout).toContain('"OPENROUTER_MCP_TOKEN": "<your-token>"');
    const local = await runCli(['client-config', 'claude-desktop']);
    expect(local.stderr).toContain('needs the deployed HTTPS server');
    expect(local.stdout).toContain('http://127.0.0.1:8787/mcp');
  });

  test('client-config chatgpt: developer-mode connector steps with the URL, OAuth only (a token is not used)', async () => {
    const r = await runCli(['client-config', 'chatgpt', '--url', url, '--token', token]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`MCP Server URL:  ${url}`);
    expect(r.stdout).toContain('Authentication:  OAuth');
    expect(r.stdout).toMatch(/Developer mode/);
    expect(r.stdout).not.toContain(token);
    expect(r.stderr).toContain('--token is not used for ChatGPT');
    const local = await runCli(['client-config', 'chatgpt']);
    expect(local.stdout).toContain('http://127.0.0.1:8787/mcp');
    expect(local.stderr).toMatch(/^warning: ChatGPT .* needs a public HTTPS URL/);
  });

  test('client-config defaults: the local URL (PORT honoured) and the <your-token> placeholder', async () => {
    expect((await runCli(['client-config', 'claude-code'])).stdout).toBe(
      'claude mcp add --transport http openrouter http://127.0.0.1:8787/mcp --header "Authorization: Bearer <your-token>"\n',
    );
    expect((await runCli(['client-config', 'vscode'], { env: { PORT: '9999' } })).stdout).toContain('"url": "http://127.0.0.1:9999/mcp"');
  });

  test('client-config takes the URL of the server running on the data dir, and ignores one that no longer answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ormcp-client-config-'));
    // Stands in for a running server: any HTTP answer (the MCP endpoint's 401 here) means it is up.
    const live = createServer((_req, res) => res.writeHead(401).end());
    await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
    const liveUrl = `http://127.0.0.1:${(live.address() as AddressInfo).port}/mcp`;
    try {
      writeFileSync(join(dir, 'server-url'), `${liveUrl}\n`);
      const running = await runCli(['client-config', 'claude-code', '--data-dir', dir], { env: { PORT: '9999' } });
      expect(running.stdout).toContain(` ${liveUrl} `);
      // --url still wins.
      expect((await runCli(['client-config', 'claude-code', '--data-dir', dir, '--url', 'http://127.0.0.1:1/mcp'])).stdout).toContain(' http://127.0.0.1:1/mcp ');
    } finally {
      await new Promise((r) => live.close(r));
    }
    // The server is gone (a crash leaves the file behind): back to the default.
    const stale = await runCli(['client-config', 'claude-code', '--data-dir', dir], { env: { PORT: '9999' } });
    expect(stale.stdout).toContain(' http://127.0.0.1:9999/mcp ');
    writeFileSync(join(dir, 'server-url'), 'not a url\n');
    expect((await runCli(['client-config', 'claude-code', '--data-dir', dir])).stdout).toContain(' http://127.0.0.1:8787/mcp ');
    rmSync(dir, { recursive: true, force: true });
  });

  test('--expires: Nd, Nh, Nm or never', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(parseExpiry('30d', now)?.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(parseExpiry('12h', now)?.toISOString()).toBe('2026-01-01T12:00:00.000Z');
    expect(parseExpiry('90m', now)?.toISOString()).toBe('2026-01-01T01:30:00.000Z');
    expect(parseExpiry('never', now)).toBeUndefined();
    expect(parseExpiry(undefined, now)).toBeUndefined();
    for (const bad of ['0d', '1w', '-1d', '1.5h', 'd', '', ' 3d x']) expect(() => parseExpiry(bad, now)).toThrow('--expires');
  });
});
