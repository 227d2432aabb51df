/**
 * A Lambda instance as the runtime builds it (createLambdaHandler → createLambdaApp) whose DynamoDB client holds
 * chosen writes until a gate opens: to prove that work left running after a response (a limit release, a ledger
 * record) lands before the invocation returns, although the response stream ends first.
 */
import { dynamoClient, secretsClient } from '../../lambda/aws/clients.js';
import { createLambdaApp } from '../../lambda/aws/app.js';
import { createLambdaHandler, type LambdaHandler } from '../../lambda/aws/lambda-handler.js';
import type { JsonRpcClient } from '../../lambda/http/aws-json-rpc.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { FakeOpenRouter } from './fake-openrouter.js';
import { FakeSecretsManager } from './fake-secrets-manager.js';
import { fakeHttpResponseStream, restEvent } from './lambda-runtime.js';

export interface HeldWrites {
  /** The name of a held write ("release", "record"), or undefined to pass it straight through. */
  which(operation: string, input: object): string | undefined;
  /** `<name> sent` and `<name> landed` are pushed here. */
  events: string[];
  gate: Promise<void>;
}

export function gatedLambda(env: NodeJS.ProcessEnv, endpoints: { dynamo: string; secrets: string }, held: HeldWrites): LambdaHandler {
  const raw = dynamoClient(env, { endpoint: endpoints.dynamo });
  const dynamo: JsonRpcClient = {
    destroy: () => raw.destroy(),
    call: async <T,>(operation: string, input: object, options?: Parameters<JsonRpcClient['call']>[2]): Promise<T> => {
      const name = held.which(operation, input);
      if (!name) return raw.call<T>(operation, input, options);
      held.events.push(`${name} sent`);
      await held.gate;
      const out = await raw.call<T>(operation, input, options);
      held.events.push(`${name} landed`);
      return out;
    },
  };
  return createLambdaHandler({
    build: () => createLambdaApp(env, { secrets: secretsClient(env, { endpoint: endpoints.secrets }), dynamo }),
    logger: createLogger({ level: 'error', write: () => undefined }),
    HttpResponseStream: fakeHttpResponseStream(),
  });
}

/** A 2025-era tools/call of the chat tool, as API Gateway hands it to the Lambda. */
export function chatCallEvent(token: string, id: number) {
  return restEvent({
    method: 'POST',
    headers: [
      ['Content-Type', 'application/json'],
      ['Accept', 'application/json, text/event-stream'],
      ['MCP-Protocol-Version', '2025-11-25'],
      ['Authorization', `Bearer ${token}`],
    ],
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }] } } }),
  });
}

/** What an after-response test runs against: dynalite with one user, the fake OpenRouter and Secrets Manager. */
export interface LambdaWorld {
  dynamo: LocalDynamo;
  fake: FakeOpenRouter;
  userId: string;
  token: string;
  /** The Lambda's environment, with the test's own settings on top. */
  env: NodeJS.ProcessEnv;
  /** A Lambda instance over this world that holds the writes `which` names until `gate` opens. */
  instance(events: string[], gate: Promise<void>, which: HeldWrites['which']): LambdaHandler;
  close(): Promise<void>;
}

export async function startLambdaWorld(name: string, settings: Record<string, string>): Promise<LambdaWorld> {
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:OpenRouterMcpSecret-AbCdEf';
  const openRouterKey = `sk-or-v1-${name}-0123456789abcdef0123456789abcdef`;
  const dynamo = await startLocalDynamo();
  const secretString = newSecretString();
  const store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(secretString) });
  const { userId } = await store.createUser(name);
  await store.setOpenRouterKey(userId, openRouterKey);
  const { token } = await store.issueToken(userId, { label: name });
  await store.settle();
  const fake = new FakeOpenRouter([openRouterKey]);
  await fake.start();
  const secrets = new FakeSecretsManager(secretString, secretArn);
  const secretsUrl = await secrets.start();
  const env: NodeJS.ProcessEnv = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDGATEDTEST',
    AWS_SECRET_ACCESS_KEY: 'gated-test-secret',
    ORMCP_SECRET_ARN: secretArn,
    ORMCP_TABLE_NAME: dynamo.tableName,
    ORMCP_LOG_LEVEL: 'error',
    OPENROUTER_BASE_URL: fake.baseUrl,
    ...settings,
  };
  return {
    dynamo,
    fake,
    userId,
    token,
    env,
    instance: (events, gate, which) => gatedLambda(env, { dynamo: dynamo.endpoint, secrets: secretsUrl }, { events, gate, which }),
    close: async () => {
      await secrets.stop();
      await fake.stop();
      await dynamo.close();
    },
  };
}
