/** A synthetic API Gateway REST proxy event for POST /mcp, built with the tests' event builder. */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { restEvent as buildEvent } from '../../test/support/lambda-runtime.js';

export function restEvent(headers: Record<string, string>, body: unknown): APIGatewayProxyEvent {
  const gateway = { Host: 'abc123.execute-api.eu-west-1.amazonaws.com', 'User-Agent': 'bench', 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https' };
  return buildEvent({ method: 'POST', path: '/mcp', headers: Object.entries({ ...gateway, ...headers }), body: JSON.stringify(body) });
}
