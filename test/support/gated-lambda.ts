/**
 * A Lambda instance as the runtime builds it (createLambdaHandler → createLambdaApp) whose DynamoDB client holds
 * chosen writes until a gate opens: to prove that work left running after a response (a limit release, a ledger
 * record) lands before the invocation returns, although the response stream ends first.
 */
import { dynamoClient, secretsClient } from '../../lambda/aws/clients.js';
import { createLambdaApp } from '../../lambda/aws/app.js';
import { createLambdaHandler, type LambdaHandler } from '../../lambda/aws/lambda-handler.js';
import type { JsonRpcClient } from '../../lambda/http/aws-json-rpc.js';
import { createLogger } from '../../lambda/observability/logger.js';
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
