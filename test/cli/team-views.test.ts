/**
 * The team-control views and admin commands (usage, audit, budget, policy, user disable/enable/admin) in
 * `--stack` mode in-process, on a real dynalite table with ledger records written through the LedgerStore, and
 * once on a local data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsClients } from '../../lambda/cli/io.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import type { LocalDynamo } from '../../lambda/local/dynalite.js';
import { openLocalStore } from '../../lambda/local/local-store.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { LedgerStore } from '../../lambda/store/ledger-store.js';
import { runCli, startStackTable, type StackTable } from './support.js';

const STACK = 'OpenRouterMcp';
const TABLE = 'OpenRouterMcp-DataTable-TEAM';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ServerSecret-Team';
const NOW = new Date('2026-05-14T12:00:00Z');
/** The CLI's clock: a second later at every reading, so audit records keep their order (all on NOW's day). */
let clock = NOW.getTime();
const now = () => new Date((clock += 1000));

/** Costs as the fake OpenRouter reports them: fractions of a cent that do not add up exactly in binary. */
const CALLS = [
  { user: 'ann', day: '2026-05-12', model: 'openai/gpt-4o', cost: 0.000123 },
  { user: 'ann', day: '2026-05-13', model: 'openai/gpt-4o', cost: 0.1 },
  { user: 'ann', day: '2026-05-14', model: 'anthropic/claude-sonnet-4', cost: 0.2 },
  { user: 'ben', day: '2026-05-14', model: 'openai/gpt-4o', cost: 0.0034567 },
  { user: 'ben', day: '2026-05-01', model: 'openai/gpt-4o', cost: 1.25 },
];

describe('team views on a deployed stack', () => {
  const cfn = mockClient(CloudFormationClient);
  const sm = mockClient(SecretsManagerClient);
  const secretString = newSecretString();
  let table: StackTable;
  let dynamo: LocalDynamo;
  let aws: AwsClients;
  let accounts: AccountStore;
  let ledger: LedgerStore;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  const stackArgs = ['--stack', STACK, '--region', 'eu-west-1'];
  const cli = (args: string[], env: Record<string, string> = {}) => runCli([...args, ...stackArgs], { aws, now, env });

  beforeAll(async () => {
    table = await startStackTable(TABLE);
    ({ dynamo, aws } = table);
    accounts = new AccountStore({ client: dynamo.client, tableName: TABLE, keyring: parseKeyring(secretString) });
    ledger = new LedgerStore({ client: dynamo.client, tableName: TABLE });
    for (const name of ['ann', 'ben', 'cy']) {
      ids[name] = (await accounts.createUser(name)).userId;
      await accounts.setOpenRouterKey(ids[name]!, `sk-or-v1-${name}-0123456789abcdef`);
      tokens[name] = (await accounts.issueToken(ids[name]!, { label: 'laptop' })).token;
    }
    for (const c of CALLS) {
      await ledger.record({ time: new Date(`${c.day}T10:00:00Z`), userId: ids[c.user]!, tool: 'chat', requestedModel: c.model, servedModel: c.model, outcome: 'ok', tokensIn: 100, tokensOut: 10, costUsd: c.cost });
    }
    await ledger.record({ time: new Date('2026-05-14T11:00:00Z'), userId: ids.cy!, tool: 'chat', requestedModel: 'x-ai/grok-4', outcome: 'refused', reason: 'budget:daily' });
  });
  beforeEach(() => {
    cfn.reset();
    sm.reset();
    cfn.on(DescribeStacksCommand, { StackName: STACK }).resolves({
      Stacks: [{ StackName: STACK, StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [{ OutputKey: 'TableName', OutputValue: TABLE }, { OutputKey: 'SecretArn', OutputValue: SECRET_ARN }] }],
    });
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ ARN: SECRET_ARN, SecretString: secretString });
  });
  afterAll(async () => {
    cfn.restore();
    sm.restore();
    await table.close();
  });

  test('usage --json: the total equals the sum of the recorded costs, per day in order', async () => {
    const r = await cli(['usage', '--json', '--since', '2026-05-01']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const expected = CALLS.reduce((s, c) => s + Math.round(c.cost * 1e9), 0) / 1e9;
    expect(report.total).toEqual({ spentUsd: expected, calls: 5, tokensIn: 500, tokensOut: 50 });
    expect(report.rows.map((x: { day: string }) => x.day)).toEqual(['2026-05-01', '2026-05-12', '2026-05-13', '2026-05-14']);
    expect(report.rows.find((x: { day: string }) => x.day === '2026-05-14')).toMatchObject({ spentUsd: 0.2034567, calls: 2 });
  });

  test('usage by model and by user, a range, one user, and the table', async () => {
    const byModel = JSON.parse((await cli(['usage', '--json', '--by', 'model', '--since', '2026-05-10'])).stdout);
    expect(byModel.rows).toEqual([
      { model: 'anthropic/claude-sonnet-4', spentUsd: 0.2, calls: 1, tokensIn: 100, tokensOut: 10 },
      { model: 'openai/gpt-4o', spentUsd: 0.1035797, calls: 3, tokensIn: 300, tokensOut: 30 },
    ]);
    const byUser = JSON.parse((await cli(['usage', '--json', '--by', 'user', '--since', '2026-05-01', '--until', '2026-05-13'])).stdout);
    expect(byUser.rows).toEqual([expect.objectContaining({ user: 'ben', spentUsd: 1.25 }), expect.objectContaining({ user: 'ann', spentUsd: 0.100123 })]);
    const ann = JSON.parse((await cli(['usage', '--json', '--user', 'ann'])).stdout);
    expect(ann.total.spentUsd).toBe(0.300123);
    expect(ann.since).toBe('2026-04-15'); // the default range: the last 30 days
    const table = await cli(['usage', '--user', 'ben']);
    expect(table.stdout.split('\n')[0]).toMatch(/^DAY\s+SPENT\s+CALLS\s+TOKENS IN\s+TOKENS OUT$/);
    expect(table.stdout).toMatch(/^TOTAL\s+\$1\.253457\s+2\s+200\s+20$/m);
  });

  test('usage: bad options are usage errors and read nothing', async () => {
    expect(await cli(['usage', '--by', 'week'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--by takes day, model or user') });
    expect(await cli(['usage', '--since', '2026-02-30'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--since takes a date as YYYY-MM-DD') });
    expect(await cli(['usage', '--since', '2026-05-10', '--until', '2026-05-01'])).toMatchObject({ code: 2 });
    expect(await cli(['usage', '--user', 'nobody'])).toMatchObject({ code: 1, stderr: expect.stringContaining('no user named "nobody"') });
  });

  test('budget set: caps, none and default; show reflects them over the operator default; each change is audited', async () => {
    const set = await cli(['budget', 'set', 'ann', '--daily', '0.50', '--weekly', 'none']);
    expect(set).toMatchObject({ code: 0, stdout: 'Budget of "ann": daily $0.50, weekly no cap, monthly default.\n' });
    expect(await ledger.getBudgetOverride(ids.ann!)).toEqual({ daily: 0.5, weekly: null });

    const env = { ORMCP_BUDGET_WEEKLY_USD: '5', ORMCP_BUDGET_MONTHLY_USD: '20' };
    const shown = JSON.parse((await cli(['budget', 'show', '--json'], env)).stdout);
    const annRow = shown.find((x: { name: string }) => x.name === 'ann');
    expect(annRow).toMatchObject({ override: { daily: 0.5, weekly: null }, caps: { daily: 0.5, weekly: null, monthly: 20 }, spent: { daily: 0.2, weekly: 0.300123, monthly: 0.300123 } });
    expect(shown.find((x: { name: string }) => x.name === 'ben')).toMatchObject({ caps: { daily: null, weekly: 5, monthly: 20 }, spent: { monthly: 1.2534567 } });
    const one = await cli(['budget', 'show', 'ann'], env);
    expect(one.stdout).toMatch(/^ann\s+\$0\.20 \/ \$0\.50\s+\$0\.300123 \/ no cap\s+\$0\.300123 \/ \$20\.00$/m);
    expect(one.stderr).toContain('publishes no TeamControl output');

    expect((await cli(['budget', 'set', 'ann', '--weekly', 'default'])).code).toBe(0);
    expect(await ledger.getBudgetOverride(ids.ann!)).toEqual({ daily: 0.5 });

    const audit = JSON.parse((await cli(['audit', '--user', 'ann', '--json'])).stdout);
    expect(audit.filter((a: { tool: string }) => a.tool === 'admin:budget.set').map((a: { detail: string; actor: string }) => [a.actor, a.detail])).toEqual([
      ['cli', 'weekly=default'],
      ['cli', 'daily=0.5 weekly=none'],
    ]);
  });

  test('budget set refuses bad amounts and an empty change without writing', async () => {
    const before = await ledger.getBudgetOverride(ids.ben!);
    expect(await cli(['budget', 'set', 'ben', '--daily=-1'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--daily takes an amount in USD') });
    expect(await cli(['budget', 'set', 'ben', '--daily', '1e9'])).toMatchObject({ code: 2 });
    expect(await cli(['budget', 'set', 'ben'])).toMatchObject({ code: 2, stderr: expect.stringContaining('at least one of') });
    expect(await ledger.getBudgetOverride(ids.ben!)).toEqual(before);
    expect((await ledger.listRecords(ids.ben!)).filter((r) => r.tool.startsWith('admin:'))).toEqual([]);
  });

  test('user disable: the user\'s tokens stop authenticating at once, data kept; enable restores them; both audited', async () => {
    expect(await accounts.authenticate(tokens.cy!)).toMatchObject({ userId: ids.cy });
    expect(await cli(['user', 'disable', 'cy'])).toMatchObject({ code: 0, stdout: expect.stringContaining('Disabled "cy"') });
    expect(await accounts.authenticate(tokens.cy!)).toBeUndefined();
    expect(await accounts.getUser(ids.cy!)).toMatchObject({ name: 'cy', hasKey: true, disabledAt: expect.stringMatching(/^\d{4}-/) });
    expect(await accounts.listTokens(ids.cy!)).toHaveLength(1);
    expect(await cli(['user', 'disable', 'cy'])).toMatchObject({ code: 0, stdout: expect.stringContaining('already disabled') });
    expect(await accounts.authenticate(tokens.ann!)).toMatchObject({ userId: ids.ann });

    expect(await cli(['user', 'enable', 'cy'])).toMatchObject({ code: 0, stdout: 'Enabled "cy" again.\n' });
    expect(await accounts.authenticate(tokens.cy!)).toMatchObject({ userId: ids.cy });
    const records = JSON.parse((await cli(['audit', '--user', 'cy', '--json'])).stdout);
    expect(records.map((r: { tool: string }) => r.tool)).toEqual(['admin:user.enable', 'admin:user.disable', 'chat']);
    expect(records[2]).toMatchObject({ user: 'cy', outcome: 'refused', reason: 'budget:daily' });
  });

  test('user admin marks and unmarks a local admin', async () => {
    expect(await cli(['user', 'admin', 'ben'])).toMatchObject({ code: 0 });
    expect(await accounts.getUser(ids.ben!)).toMatchObject({ admin: true });
    expect((await cli(['user', 'list'])).stdout).toMatch(/^ben\s.*\senabled, admin$/m);
    expect(JSON.parse((await cli(['user', 'list', '--json'])).stdout).find((u: { name: string }) => u.name === 'ben')).toMatchObject({ admin: true, disabledAt: null });
    expect(await cli(['user', 'admin', 'ben', '--off'])).toMatchObject({ code: 0 });
    expect((await accounts.getUser(ids.ben!))?.admin).toBeUndefined();
  });

  test('audit: every user\'s records, newest first, as a table', async () => {
    const r = await cli(['audit', '--since', '2026-05-13']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+USER\s+TOOL\s+MODEL\s+OUTCOME\s+COST\s+BY\s+DETAIL$/);
    expect(lines.some((l) => /^2026-05-14 11:00Z\s+cy\s+chat\s+x-ai\/grok-4\s+refused \(budget:daily\)/.test(l))).toBe(true);
    const times = lines.slice(1).map((l) => l.slice(0, 17));
    expect([...times].sort().reverse()).toEqual(times);
    expect(r.stdout).not.toContain('2026-05-12');
  });

  test('policy show: the policy from the ORMCP_* variables, as text and JSON', async () => {
    const env = { ORMCP_DENIED_MODELS: 'x-ai/*', ORMCP_REQUIRE_ZDR: 'true', ORMCP_BUDGET_DAILY_USD: '2' };
    const j = JSON.parse((await cli(['policy', 'show', '--json'], env)).stdout);
    expect(j).toMatchObject({ models: { allowed: 'all', denied: ['x-ai/*'] }, dataPolicy: { requireZdr: true }, budgetDefaults: { daily: 2, weekly: null, monthly: null } });
    const text = await cli(['policy', 'show'], env);
    expect(text.stdout).toContain('Zero-data-retention endpoints only');
    expect(text.stdout).toContain('Default budgets: daily $2.00, weekly no cap, monthly no cap.');
    expect(await cli(['policy', 'show'], { ORMCP_DATA_COLLECTION: 'sometimes' })).toMatchObject({ code: 1, stderr: expect.stringContaining('invalid') });
  });
});

describe('team views on a local data dir', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ormcp-team-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('usage --json totals equal the recorded costs; budget set and disable work locally', async () => {
    const opened = await openLocalStore(dataDir);
    let userId: string;
    try {
      userId = (await opened.store.createUser('dee')).userId;
      await opened.ledger.record({ time: new Date('2026-05-14T09:00:00Z'), userId, tool: 'chat', servedModel: 'openai/gpt-4o', outcome: 'ok', costUsd: 0.0421 });
      await opened.ledger.record({ time: new Date('2026-05-14T09:05:00Z'), userId, tool: 'chat', servedModel: 'openai/gpt-4o', outcome: 'ok', costUsd: 0.0079 });
    } finally {
      await opened.close();
    }
    const d = ['--data-dir', dataDir];
    const usage = await runCli(['usage', '--json', ...d], { now });
    expect(JSON.parse(usage.stdout).total).toEqual({ spentUsd: 0.05, calls: 2, tokensIn: 0, tokensOut: 0 });
    expect(await runCli(['budget', 'set', 'dee', '--monthly', '10', ...d], { now })).toMatchObject({ code: 0 });
    expect(await runCli(['user', 'disable', 'dee', ...d], { now })).toMatchObject({ code: 0 });
    const after = await openLocalStore(dataDir);
    try {
      expect(await after.ledger.getBudgetOverride(userId)).toEqual({ monthly: 10 });
      expect(await after.store.getUser(userId)).toMatchObject({ disabledAt: expect.stringMatching(/^\d{4}-/) });
    } finally {
      await after.close();
    }
  });
});
