/**
 * The loopback Runtime API (../support/runtime-api.ts) against the real runtime client with tiny handlers, so the
 * parts the function itself never reaches are shown to work too: a streamed response that fails part-way ends with
 * the error trailers, a buffered response and a thrown error reach /response and /error, and answers to an unknown
 * or already answered invocation are refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRicInstance, type RicInstance } from '../support/lambda-ric.js';
import { HTTP_INTEGRATION_CONTENT_TYPE, LambdaRuntimeApi, parseIntegrationResponse } from '../support/runtime-api.js';

let taskRoot: string;
let runtime: LambdaRuntimeApi;
let runtimeApi: string;
const instances: RicInstance[] = [];

/** Writes `source` as the function's handler module and starts one instance running it. */
function start(name: string, source: string): RicInstance {
  writeFileSync(join(taskRoot, `${name}.mjs`), source);
  const instance = startRicInstance({ taskRoot, runtimeApi, env: {}, handler: `${name}.handler` });
  instances.push(instance);
  return instance;
}

beforeAll(async () => {
  taskRoot = mkdtempSync(join(tmpdir(), 'ormcp-rapi-'));
  runtime = new LambdaRuntimeApi();
  runtimeApi = await runtime.start();
});

afterEach(async () => {
  for (const instance of instances.splice(0)) await instance.stop();
  await runtime.idle();
});

afterAll(async () => {
  await runtime?.stop();
  rmSync(taskRoot, { recursive: true, force: true });
});

test('a streamed HTTP-integration response that fails part-way: prelude, what was written, then the error trailers', async () => {
  start(
    'fails',
    `export const handler = awslambda.streamifyResponse(async (event, stream) => {
      stream = awslambda.HttpResponseStream.from(stream, { statusCode: 200, headers: { 'content-type': 'text/plain' } });
      stream.write('partial ' + event.n);
      await new Promise((r) => setTimeout(r, 20));
      throw new TypeError('boom');
    });`,
  );
  const result = await runtime.invoke({ n: 1 });
  expect(result.outcome).toBe('response');
  expect(result.responseMode).toBe('streaming');
  expect(result.contentType).toBe(HTTP_INTEGRATION_CONTENT_TYPE);
  const { prelude, body } = parseIntegrationResponse(result);
  expect(prelude).toEqual({ statusCode: 200, headers: { 'content-type': 'text/plain' } });
  expect(body).toBe('partial 1');
  expect(result.trailers['lambda-runtime-function-error-type']).toBe('TypeError');
  expect(JSON.parse(Buffer.from(result.trailers['lambda-runtime-function-error-body']!, 'base64').toString('utf8'))).toMatchObject({ errorType: 'TypeError', errorMessage: 'boom' });
});

// The stand-in answers a buffered invocation from a freshly spawned node (as the addon blocks): slow on a loaded machine.
test('a buffered handler answers on /response, a thrown error on /error', async () => {
  start('buffered', `export const handler = async (event) => { if (event.fail) throw new RangeError('nope'); return { ok: event.n }; };`);
  const ok = await runtime.invoke({ n: 2 }, { timeoutMs: 25_000 });
  expect(ok.outcome).toBe('response');
  expect(ok.responseMode).toBeUndefined();
  expect(JSON.parse(Buffer.concat(ok.chunks.map((c) => c.data)).toString('utf8'))).toEqual({ ok: 2 });

  const failed = await runtime.invoke({ fail: true }, { timeoutMs: 25_000 });
  expect(failed.outcome).toBe('error');
  expect(failed.error!.type).toBe('RangeError');
  expect(JSON.parse(failed.error!.body)).toMatchObject({ errorType: 'RangeError', errorMessage: 'nope' });
}, 60_000);

test('answers for an unknown or an already answered invocation are refused with 400', async () => {
  start('once', `export const handler = async () => 'done';`);
  const done = await runtime.invoke({});
  const post = (id: string) =>
    new Promise<number>((resolve, reject) => {
      const [host, port] = runtimeApi.split(':');
      const req = request({ host, port: Number(port), method: 'POST', path: `/2018-06-01/runtime/invocation/${id}/response`, headers: { 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('"again"');
    });
  expect(await post(done.requestId)).toBe(400);
  expect(await post('not-an-invocation')).toBe(400);
});
