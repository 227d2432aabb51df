/**
 * Attack (issue: deeply nested JSON): a tool call whose free-form JSON (a response_format schema, a function's
 * parameters) nests 100,000 levels deep. JSON.parse accepts it; serialising it for OpenRouter threw, and the call
 * was reported as "Could not reach OpenRouter". Now it is refused as invalid arguments, saying how deep is allowed,
 * and nothing is sent upstream. The JSON is built as text, as an attacker would send it: an SDK client could not
 * serialise it either.
 */
import { MAX_JSON_DEPTH, jsonDepthWithin } from '../../lambda/http/json-depth.js';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

/** `{"a":{"a":…{}…}}` nested `depth` objects deep, as text. */
function nestedText(depth: number): string {
  return `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
}

async function callChat(argumentsText: string): Promise<{ result?: { isError?: boolean; content?: { text: string }[] }; error?: { code: number; message: string } }> {
  const body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"send_chat_completion_request","arguments":${argumentsText}}}`;
  const res = await h.fetch('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${h.alice.token}` },
    body,
  });
  expect(res.status).toBe(200);
  const data = (await res.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
  return JSON.parse(data[data.length - 1]!);
}

const chatCalls = () => h.fake.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
const base = '"model":"fake/echo","messages":[{"role":"user","content":"hi"}]';

test.each([
  ['a response_format schema', (deep: string) => `{${base},"response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":${deep}}}}`],
  ['a function tool\'s parameters', (deep: string) => `{${base},"tools":[{"type":"function","function":{"name":"f","parameters":${deep}}}]}`],
])('%s nested 100,000 deep is refused as invalid arguments, and nothing goes upstream', async (_, argsWith) => {
  const before = chatCalls();
  const answer = await callChat(argsWith(nestedText(100_000)));
  expect(answer.error).toBeUndefined();
  expect(answer.result?.isError).toBe(true);
  const text = answer.result!.content!.map((c) => c.text).join('\n');
  expect(text).toMatch(/^Input validation error: Invalid arguments for tool send_chat_completion_request: /);
  expect(text).toMatch(new RegExp(`(response_format\\.json_schema\\.schema|tools\\.0\\.function\\.parameters): nested more than ${MAX_JSON_DEPTH} levels deep; flatten it`));
  expect(text).not.toMatch(/reach OpenRouter/i);
  expect(chatCalls()).toBe(before);
});

test(`a schema exactly ${MAX_JSON_DEPTH} levels deep is accepted and sent upstream`, async () => {
  const before = chatCalls();
  const answer = await callChat(`{${base},"response_format":{"type":"json_schema","json_schema":{"name":"ok","schema":${nestedText(MAX_JSON_DEPTH)}}}}`);
  expect(answer.error).toBeUndefined();
  expect(answer.result?.isError).toBeFalsy();
  expect(chatCalls()).toBe(before + 1);
});

describe('jsonDepthWithin', () => {
  test.each([
    [1, 0, true],
    [{}, 1, true],
    [{}, 0, false],
    [[[[]]], 3, true],
    [[[[]]], 2, false],
    [{ a: [1, { b: null }] }, 3, true],
    [{ a: [1, { b: null }] }, 2, false],
  ])('%j within %i: %s', (value, max, expected) => {
    expect(jsonDepthWithin(value, max)).toBe(expected);
  });

  test('a million levels are measured without recursion', () => {
    expect(jsonDepthWithin(JSON.parse(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`), MAX_JSON_DEPTH)).toBe(false);
  });
});
