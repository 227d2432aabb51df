/**
 * `--stack` mode in-process (mocks cannot cross a process boundary): CloudFormation DescribeStacks and
 * Secrets Manager GetSecretValue mocked with aws-sdk-client-mock, DynamoDB a real dynalite holding the
 * "stack's" table, injected through run()'s `aws` dependency.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { AwsClients } from '../../lambda/cli/io.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import type { LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { runCli, startStackTable, TOKEN_LINE, type StackTable } from './support.js';

const STACK = 'OpenRouterMcp';
const TABLE = 'OpenRouterMcp-DataTable1234-ABCDEF';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ServerSecret-AbCdEf';
const MCP_URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/mcp';

const output = (OutputKey: string, OutputValue: string) => ({ OutputKey, OutputValue });
const stack = (StackName: string, outputs: { OutputKey: string; OutputValue: string }[]) => ({
  Stacks: [{ StackName, StackStatus: 'CREATE_COMPLETE' as const, CreationTime: new Date(), Outputs: outputs }],
});

describe('ormcp --stack (deployed mode)', () => {
  const cfn = mockClient(CloudFormationClient);
  const sm = mockClient(SecretsManagerClient);
  const secretString = newSecretString();
  let table: StackTable;
  let dynamo: LocalDynamo;
  let aws: AwsClients;
  const key = 'sk-or-v1-stack-user-0123456789abcdef';

  beforeAll(async () => {
    table = await startStackTable(TABLE);
    ({ dynamo, aws } = table);
  });
  beforeEach(() => {
    cfn.reset();
    sm.reset();
    cfn.on(DescribeStacksCommand, { StackName: STACK }).resolves(
      stack(STACK, [output('McpUrl', MCP_URL), output('ApiUrl', 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod'), output('TableName', TABLE), output('SecretName', 'ServerSecret'), output('SecretArn', SECRET_ARN), output('UserPoolId', 'eu-west-1_abc')]),
    );
    cfn.on(DescribeStacksCommand, { StackName: 'Unrelated' }).resolves(stack('Unrelated', [output('BucketName', 'b')]));
    cfn.on(DescribeStacksCommand, { StackName: 'Missing' }).rejects(Object.assign(new Error('Stack with id Missing does not exist'), { name: 'ValidationError', $metadata: {} }));
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ ARN: SECRET_ARN, SecretString: secretString });
  });
  afterAll(async () => {
    cfn.restore();
    sm.restore();
    await table.close();
  });

  const stackArgs = ['--stack', STACK, '--region', 'eu-west-1'];

  test('issue, list and revoke work on the table and with the secret named by the stack outputs', async () => {
    const issued = await runCli(['token', 'issue', '--user', 'dana', '--expires', '30d', ...stackArgs], { env: { OPENROUTER_API_KEY: key }, aws });
    expect(issued.stderr).toContain('Created user "dana"');
    expect(issued.code).toBe(0);
    const token = issued.stdout.trim();
    expect(token).toMatch(TOKEN_LINE);
    expect(issued.stdout).toBe(`${token}\n`);
    expect(cfn.commandCalls(DescribeStacksCommand)[0]!.args[0].input).toEqual({ StackName: STACK });
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: SECRET_ARN });
    expect(await cfn.commandCalls(DescribeStacksCommand)[0]!.thisValue.config.region()).toBe('eu-west-1');

    // The token is in the stack's table, hashed under the stack's secret, and carries the user's key.
    const store = new AccountStore({ client: dynamo.client, tableName: TABLE, keyring: parseKeyring(secretString) });
    const tokenId = token.slice(6, 22);
    expect(await store.authenticate(token)).toMatchObject({ tokenId, openRouterKey: key });

    const list = await runCli([...stackArgs, 'token', 'list', '--json'], { aws }); // global options may come first
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ tokenId, user: 'dana', status: 'active', expiresAt: expect.any(String) })]);
    expect(list.stdout).not.toContain(token.slice(23));

    const revoked = await runCli(['token', 'revoke', tokenId, ...stackArgs], { aws });
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked token ${tokenId} (user "dana", "default").\n` });
    expect(revoked.stderr).toContain('token cache');
    expect(await store.authenticate(token)).toBeUndefined();
    const table = await runCli(['token', 'list', '--user', 'dana', ...stackArgs], { aws });
    expect(table.stdout.split('\n')[1]).toMatch(new RegExp(`^${tokenId}\\s+dana\\s+default\\s+personal\\s.*\\srevoked$`));

    const users = await runCli(['user', 'list', '--json', ...stackArgs], { aws });
    expect(JSON.parse(users.stdout)).toEqual([expect.objectContaining({ name: 'dana', hasKey: true, tokens: 1, activeTokens: 0 })]);
    expect(`${issued.stderr}${list.stdout}${users.stdout}`).not.toContain(key);
  });

  test('issuing for an existing user with a key replaces theirs; revoke forgives a whole token but uses only its id', async () => {
    const newKey = 'sk-or-v1-stack-user-rotated-0123456789';
    const issued = await runCli(['token', 'issue', '--user', 'dana', '--openrouter-key-stdin', ...stackArgs], { stdin: newKey, aws });
    expect(issued.code).toBe(0);
    expect(issued.stderr).toContain('Replaced the OpenRouter key of "dana" with the one from stdin.');
    const token = issued.stdout.trim();
    const store = new AccountStore({ client: dynamo.client, tableName: TABLE, keyring: parseKeyring(secretString) });
    expect(await store.authenticate(token)).toMatchObject({ openRouterKey: newKey });

    const noKey = await runCli(['token', 'issue', '--user', 'dana', '--label', 'second', ...stackArgs], { aws });
    expect(noKey.code).toBe(0);
    expect(noKey.stderr).not.toContain('Replaced');

    const revoked = await runCli(['token', 'revoke', token, ...stackArgs], { aws });
    expect(revoked.code).toBe(0);
    expect(revoked.stderr).toContain(`note: that is a whole token; only its id (${token.slice(6, 22)}) is needed.`);
    expect(`${revoked.stdout}${revoked.stderr}`).not.toContain(token.slice(23));
    expect(await store.authenticate(token)).toBeUndefined();
    await store.settle();
  });

  test('policy show and budget show read the policy and default caps the stack publishes, not the shell\'s', async () => {
    const published = JSON.stringify({ ORMCP_DENIED_MODELS: 'openai/*', ORMCP_REQUIRE_ZDR: 'true', ORMCP_BUDGET_DAILY_USD: '3' });
    const base = [output('TableName', TABLE), output('SecretArn', SECRET_ARN)];
    cfn.on(DescribeStacksCommand, { StackName: 'WithPolicy' }).resolves(stack('WithPolicy', [...base, output('TeamControl', published)]));
    cfn.on(DescribeStacksCommand, { StackName: 'BadPolicy' }).resolves(stack('BadPolicy', [...base, output('TeamControl', '{"PATH":"/tmp"}')]));
    const shell = { ORMCP_DENIED_MODELS: 'shell/*', ORMCP_BUDGET_DAILY_USD: '99' };

    const shown = await runCli(['policy', 'show', '--json', '--stack', 'WithPolicy', '--region', 'eu-west-1'], { env: shell, aws });
    expect(shown.code).toBe(0);
    expect(shown.stderr).toBe('');
    expect(JSON.parse(shown.stdout)).toMatchObject({ models: { denied: ['openai/*'] }, dataPolicy: { requireZdr: true }, budgetDefaults: { daily: 3, weekly: null, monthly: null } });
    await runCli(['user', 'set-key', 'gina', '--stack', 'WithPolicy', '--region', 'eu-west-1'], { stdin: `${key}\n`, aws });
    const budgets = await runCli(['budget', 'show', 'gina', '--json', '--stack', 'WithPolicy', '--region', 'eu-west-1'], { env: shell, aws });
    expect(JSON.parse(budgets.stdout)).toEqual([expect.objectContaining({ name: 'gina', caps: { daily: 3, weekly: null, monthly: null } })]);

    // A stack deployed before the output existed: the shell's settings, and a note saying so.
    const older = await runCli(['policy', 'show', '--json', ...stackArgs], { env: shell, aws });
    expect(JSON.parse(older.stdout)).toMatchObject({ models: { denied: ['shell/*'] } });
    expect(older.stderr).toMatch(/^note: stack OpenRouterMcp publishes no TeamControl output .*shell's ORMCP_\* variables instead\.\n$/);
    // An output that is not ORMCP_* variables is refused, not half-used.
    expect(await runCli(['policy', 'show', '--stack', 'BadPolicy', '--region', 'eu-west-1'], { aws })).toMatchObject({ code: 1, stderr: "ormcp: stack BadPolicy's TeamControl output is not a JSON object of ORMCP_* variables\n" });
  });

  test('user set-key and remove on the stack', async () => {
    const set = await runCli(['user', 'set-key', 'erin', ...stackArgs], { stdin: `${key}\n`, aws });
    expect(set).toMatchObject({ code: 0, stdout: 'Created user "erin" with the OpenRouter key from stdin.\n' });
    const removed = await runCli(['user', 'remove', 'erin', ...stackArgs], { aws });
    expect(removed).toMatchObject({ code: 0, stdout: 'Removed user "erin" (revoked 0 tokens).\n' });
  });

  test('user reset-key on the stack', async () => {
    const store = new AccountStore({ client: dynamo.client, tableName: TABLE, keyring: parseKeyring(secretString) });
    const { userId } = await store.createUser('frank');
    const lease = await store.acquireKeyLease(userId, { leaseMs: 60_000, provision: { allowAgain: false, maxPerWindow: 3, windowMs: 3_600_000 } });
    await store.commitKeyLease(userId, lease.leaseId, { key, provisionedKeyHash: 'f01d52606dc8f0a8303a7b5cc3fa07109c2e346cec7c0a16b40de462992ce943' });
    const reset = await runCli(['user', 'reset-key', 'frank', ...stackArgs], { aws });
    expect(reset).toMatchObject({ code: 0, stdout: '"frank" may have one more OpenRouter key created.\n' });
    expect((await store.getUser(userId))!.provisionUsed).toBeUndefined();
  });

  test('without an injected DynamoDB client, the default one honours AWS_ENDPOINT_URL_DYNAMODB and the credentials chain', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
    try {
      const r = await runCli(['user', 'list', ...stackArgs]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^dana\s/m);
    } finally {
      for (const k of ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  test('client-config --stack uses the McpUrl output', async () => {
    const r = await runCli(['client-config', 'claude-code', ...stackArgs], { aws });
    expect(r).toMatchObject({ code: 0, stdout: `claude mcp add --transport http openrouter ${MCP_URL} --header "Authorization: Bearer <your-token>"\n` });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  test('a stack without the TableName/SecretArn outputs: exit 1 with a clear message, no secret read', async () => {
    const r = await runCli(['token', 'list', '--stack', 'Unrelated', '--region', 'eu-west-1'], { aws });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe('ormcp: stack Unrelated has no TableName or SecretArn output: is it an OpenRouter MCP stack (infra/stack.ts), fully deployed?\n');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  test('a stack that does not exist, AWS errors and a malformed secret: exit 1, one line, no stack trace', async () => {
    const missing = await runCli(['user', 'list', '--stack', 'Missing', '--region', 'eu-west-1'], { aws });
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe('ormcp: stack Missing not found in eu-west-1 (pass --region, or check the name with: aws cloudformation list-stacks)\n');

    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), { name: 'AccessDeniedException', $metadata: {} }));
    const denied = await runCli(['user', 'list', ...stackArgs], { aws });
    expect(denied).toMatchObject({ code: 1, stdout: '' });
    expect(denied.stderr).toBe(`ormcp: reading the server secret of stack ${STACK} failed: AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue\n`);

    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"current":"v9","v1":"short"}' });
    const bad = await runCli(['user', 'list', ...stackArgs], { aws });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ormcp: the server secret is unusable: .*\n$/);

    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: {} }));
    const throttled = await runCli(['client-config', 'cursor', '--stack', 'Other', '--region', 'eu-west-1'], { aws });
    expect(throttled).toMatchObject({ code: 1, stdout: '', stderr: 'ormcp: describing stack Other failed: Throttling: Rate exceeded\n' });
    for (const r of [missing, denied, bad, throttled]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
