import { BodyTooLarge } from '../../lambda/http/body.js';
import { MAX_FORM_BYTES, hasRepeatedParameter, isFormBody, isJsonBody, readForm } from '../../lambda/http/form.js';
import { json, jsonRpcError } from '../../lambda/http/json.js';
import { sameOrigin } from '../../lambda/http/origin.js';
import { errorName } from '../../lambda/observability/error-name.js';

const post = (body: string, headers: Record<string, string> = {}) => new Request('https://mcp.example/x', { method: 'POST', body, headers });
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' };

test('json sets the content type and the extra headers, and keeps the status', async () => {
  const res = json(418, { a: 1 }, { 'Cache-Control': 'no-store' });
  expect(res.status).toBe(418);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(await res.json()).toEqual({ a: 1 });
});

test('jsonRpcError answers no request (id null) with the code and message given', async () => {
  const res = jsonRpcError(503, -32000, 'busy', { 'Retry-After': '1' });
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(await res.json()).toEqual({ jsonrpc: '2.0', error: { code: -32000, message: 'busy' }, id: null });
});

test('a form is read only when the body says it is one', async () => {
  expect(isFormBody(post('', FORM))).toBe(true);
  expect(isJsonBody(post('', { 'Content-Type': 'application/json' }))).toBe(true);
  expect(isFormBody(post('', { 'Content-Type': 'text/plain' }))).toBe(false);
  expect((await readForm(post('a=1&b=2', FORM))).get('b')).toBe('2');
  expect([...(await readForm(post('a=1', { 'Content-Type': 'text/plain' })))]).toEqual([]);
});

test('a form over the cap throws BodyTooLarge instead of being read', async () => {
  await expect(readForm(post(`a=${'x'.repeat(MAX_FORM_BYTES)}`, FORM))).rejects.toBeInstanceOf(BodyTooLarge);
});

test('a repeated parameter is noticed', () => {
  expect(hasRepeatedParameter(new URLSearchParams('a=1&b=2'))).toBe(false);
  expect(hasRepeatedParameter(new URLSearchParams('a=1&a=1'))).toBe(true);
});

test('sameOrigin accepts no Origin or this one, and refuses any other', () => {
  const withOrigin = (origin?: string) => new Request('https://mcp.example/app', { method: 'POST', headers: origin ? { Origin: origin } : {} });
  expect(sameOrigin(withOrigin(), 'https://mcp.example/prod')).toBe(true);
  expect(sameOrigin(withOrigin('https://mcp.example'), 'https://mcp.example/prod')).toBe(true);
  expect(sameOrigin(withOrigin('https://evil.example'), 'https://mcp.example/prod')).toBe(false);
  expect(sameOrigin(withOrigin('null'), 'https://mcp.example')).toBe(false);
});

test('errorName says the class of an error and nothing of its message', () => {
  expect(errorName(new TypeError('sk-or-v1-secret'))).toBe('TypeError');
  expect(errorName('sk-or-v1-secret')).toBe('unknown');
});
