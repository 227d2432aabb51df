/**
 * Seeded fuzzing of the one HTTP handler, in-process: malformed and oversized bodies, wrong JSON-RPC shapes,
 * deep nesting, odd headers and methods, bad tokens, and tool calls with arguments of every wrong type and size
 * (plus valid calls to the fake upstream under the same load). Every response must settle, never be a 5xx, be a
 * well-formed HTTP error or JSON-RPC message, meet the case's expectation, and leak no secret; the server must
 * stay healthy and the account store unchanged.
 *
 * FUZZ_SEED (default below) and FUZZ_COUNT (default 2000) choose the run; FUZZ_CASE=3,17 replays single cases of
 * it; FUZZ_VERBOSE=1 prints the status distribution.
 */
import { watchUnhandledRejections } from '../support/faults.js';
import { bodyInit, caseFailure, casesOf, count, fuzzRun, headerText, isAnswered, redactor, rejectionText, report, runPool, secretsIn, secretsInLogs, sendBounded, tally, unanswered, type Outcome, type Secret, type Sent } from '../support/fuzz-kit.js';
import { startHarness, textOf, type Harness } from '../support/harness.js';
import { isObject, sseData } from '../support/json-bodies.js';
import { diffLines, dumpTable, isCallAccounting, tableDiff } from '../support/table.js';
import { generateCases, type FuzzCase, type FuzzContext } from './fuzz-cases.js';

const RUN = fuzzRun(process.env, { seed: 0x5eed_2026, count: 2000, testFile: 'test/integration/fuzz.test.ts' });
const { seed: SEED, count: COUNT, repro: REPRO } = RUN;
const MAX_BODY = 64 * 1024;
const CONCURRENCY = 20;
const HANG_MS = 10_000;
const BASE = 'http://127.0.0.1';

let h: Harness;
let revokedToken: string;
beforeAll(async () => {
  h = await startHarness({ maxBodyBytes: MAX_BODY });
  const revoked = await h.store.issueToken(h.bob.id, { label: 'fuzz: revoked' });
  await h.store.revokeToken(revoked.info.tokenId);
  revokedToken = revoked.token;
});
afterAll(async () => {
  await h.close();
});

interface RpcMessage {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: Record<string, unknown>;
  result?: Record<string, unknown> & { isError?: unknown; structuredContent?: Record<string, unknown>; content?: unknown };
  error?: { code?: unknown; message?: unknown };
}

function send(c: FuzzCase): Promise<Sent> {
  const init: RequestInit & { duplex?: 'half' } = { method: c.method, headers: c.headers, ...bodyInit(c.body, c.stream, 16 * 1024) };
  return sendBounded(h.fetch, `${BASE}${c.path}`, init, HANG_MS);
}

/** Problems with one JSON-RPC message (a response, or a notification from the server). */
function messageProblems(m: unknown): string[] {
  if (!isObject(m)) return [`JSON-RPC message is not an object: ${JSON.stringify(m)?.slice(0, 80)}`];
  if (m.jsonrpc !== '2.0') return [`JSON-RPC message without jsonrpc "2.0": ${JSON.stringify(m).slice(0, 120)}`];
  if ('method' in m) return typeof m.method === 'string' ? [] : ['JSON-RPC notification with a non-string method'];
  const hasResult = 'result' in m;
  const hasError = 'error' in m;
  if (hasResult === hasError) return [`JSON-RPC response needs exactly one of result/error: ${JSON.stringify(m).slice(0, 120)}`];
  if (!('id' in m)) return ['JSON-RPC response without an id'];
  if (hasError) {
    const e = m.error;
    if (!isObject(e) || typeof e.code !== 'number' || !Number.isInteger(e.code) || typeof e.message !== 'string') {
      return [`JSON-RPC error without a numeric code and a message: ${JSON.stringify(e).slice(0, 120)}`];
    }
  } else if (!isObject(m.result)) {
    return ['JSON-RPC result is not an object'];
  }
  return [];
}

/** Parse an SSE body into its JSON-RPC messages. */
function sseMessages(text: string): { messages: unknown[]; problems: string[] } {
  const messages: unknown[] = [];
  const problems: string[] = [];
  for (const data of sseData(text)) {
    try {
      messages.push(JSON.parse(data));
    } catch {
      problems.push(`SSE event data is not JSON: ${data.slice(0, 120)}`);
    }
  }
  return { messages, problems };
}

/** Where a fake key planted by the fuzzer may appear verbatim: the model's own answer in a successful generation. */
function keyLeaks(messages: unknown[], key: string): string[] {
  const leaks: string[] = [];
  const walk = (v: unknown, path: string, allowed: (p: string) => boolean) => {
    if (typeof v === 'string') {
      if (v.includes(key) && !allowed(path)) leaks.push(path);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, allowed));
    else if (isObject(v)) for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`, allowed);
  };
  for (const m of messages as RpcMessage[]) {
    const ok = isObject(m?.result) && m.result.isError !== true;
    const generated = ok && typeof m.result!.structuredContent?.content === 'string';
    // compare_models: each model's answer (and the judge's, which quotes them) is generated text too.
    const compared = ok && Array.isArray(m.result!.structuredContent?.results);
    const progress = m?.method === 'notifications/progress';
    walk(m, '$', (p) =>
      ((generated || compared) && /^\$\.result\.content\[\d+\]\.text$/.test(p)) ||
      (generated && p === '$.result.structuredContent.content') ||
      (compared && /^\$\.result\.structuredContent\.(results\[\d+\]|judge)\.generation\.content$/.test(p)) ||
      (progress && p === '$.params.message'));
  }
  return leaks;
}

function check(c: FuzzCase, r: Outcome, secrets: readonly Secret[]): string[] {
  const problems: string[] = [];
  if (r.status >= 500) problems.push(`HTTP ${r.status}`);
  else if (r.status < 200 || (r.status >= 300 && r.status < 400)) problems.push(`unexpected HTTP ${r.status}`);
  const ct = (r.headers.get('content-type') ?? '').toLowerCase();
  let messages: unknown[] = [];
  if (ct.startsWith('text/event-stream')) {
    if (r.status !== 200) problems.push(`SSE stream with HTTP ${r.status}`);
    const parsed = sseMessages(r.text);
    messages = parsed.messages;
    problems.push(...parsed.problems);
    if (!messages.some((m) => isObject(m) && !('method' in m))) problems.push('SSE stream without a JSON-RPC response');
  } else if (r.text.length === 0) {
    if (r.status === 200) problems.push('HTTP 200 with an empty body');
  } else if (ct.startsWith('application/json')) {
    let json: unknown;
    try {
      json = JSON.parse(r.text);
    } catch {
      problems.push('JSON body does not parse');
    }
    if (json !== undefined) {
      if (r.status < 300) {
        messages = Array.isArray(json) ? json : [json];
        if (!messages.length) problems.push('empty JSON-RPC batch response');
      } else if (isObject(json) && 'jsonrpc' in json) {
        messages = [json];
        if (!('error' in json)) problems.push(`HTTP ${r.status} carrying a JSON-RPC success`);
      } else if (!(isObject(json) && typeof json.error === 'string')) {
        problems.push(`HTTP ${r.status} JSON body is neither a JSON-RPC error nor an error object`);
      }
    }
  } else {
    problems.push(`HTTP ${r.status} with a body of Content-Type "${ct}"`);
  }
  for (const m of messages) problems.push(...messageProblems(m));

  const responses = messages.filter((m): m is RpcMessage => isObject(m) && !('method' in m));
  const refused = (m: RpcMessage) => 'error' in m || m.result?.isError === true;
  const firstText = () => {
    const m = responses[0];
    return m?.error ? `error ${String(m.error.code)} ${String(m.error.message).slice(0, 150)}` : m?.result ? textOf(m.result).slice(0, 150) : r.text.slice(0, 150);
  };
  switch (c.expect) {
    case 'rejected':
      if (r.status >= 400 && r.status < 500) break;
      if (!responses.length) problems.push(`expected a rejection, got HTTP ${r.status} without a response`);
      else if (!responses.every(refused)) problems.push(`expected a rejection, but it was carried out: ${firstText()}`);
      break;
    case 'tool-ok':
      if (r.status !== 200 || responses.length !== 1 || refused(responses[0]!)) problems.push(`expected a successful tool result, got HTTP ${r.status}: ${firstText()}`);
      break;
    case 'unauthorized':
      if (r.status !== 401) problems.push(`expected 401, got HTTP ${r.status}: ${firstText()}`);
      else if (!(r.headers.get('www-authenticate') ?? '').startsWith('Bearer')) problems.push('401 without a Bearer challenge');
      break;
    case 'forbidden':
      if (r.status !== 403) problems.push(`expected 403 for a foreign Origin, got HTTP ${r.status}`);
      break;
    case 'not-allowed':
      if (r.status !== 405) problems.push(`expected 405, got HTTP ${r.status}`);
      break;
    case 'too-large':
      if (r.status !== 413) problems.push(`expected 413, got HTTP ${r.status}: ${firstText()}`);
      break;
    case 'not-too-large':
      if (r.status === 413) problems.push('a body exactly at the limit was refused with 413');
      break;
    case 'wellformed':
      break;
  }

  const headers = headerText(r.headers);
  problems.push(...secretsIn(r, secrets));
  for (const key of c.fakeKeys) {
    if (!r.text.includes(key) && !headers.includes(key)) continue;
    const leaks = keyLeaks(messages, key);
    if (leaks.length) problems.push(`response echoes a planted key verbatim at ${leaks.slice(0, 3).join(', ')}`);
    else if (headers.includes(key) || !messages.length) problems.push('response echoes a planted key verbatim outside any JSON-RPC message');
  }
  return problems;
}

function chat(token: string, content: string) {
  return h.fetch(`${BASE}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content }] } } }),
  });
}

/** Every route the server may call upstream (paths after the /api/v1 base, as the fake records them). */
const UPSTREAM_ROUTES = [/^\/models$/, /^\/chat\/completions$/, /^\/completions$/, /^\/images$/, /^\/key$/, /^\/generation$/, /^\/models\/.+\/endpoints$/];

test(`fuzz: ${COUNT} requests, seed ${SEED}`, async () => {
  const rejections = watchUnhandledRejections();
  try {
    // Warm both users' last-used stamps so the store snapshot only changes if the fuzz run changes it.
    for (const u of [h.alice, h.bob]) expect((await chat(u.token, 'warm up')).status).toBe(200);
    const before = await dumpTable(h, { skip: isCallAccounting });

    const ctx: FuzzContext = { token: h.alice.token, tokenId: h.alice.tokenId, otherToken: h.bob.token, otherTokenId: h.bob.tokenId, revokedToken, maxBodyBytes: MAX_BODY };
    const secrets: Secret[] = [
      { label: "alice's MCP token", value: h.alice.token },
      { label: "bob's MCP token", value: h.bob.token },
      { label: "alice's OpenRouter key", value: h.alice.openRouterKey },
      { label: "bob's OpenRouter key", value: h.bob.openRouterKey },
      { label: 'the revoked MCP token', value: revokedToken },
    ];
    expect(secrets.map((s) => s.value).sort()).toEqual([...h.secrets(), revokedToken].sort());
    const redact = redactor(secrets);

    const all = generateCases(SEED, COUNT, ctx);
    const cases = casesOf(RUN, all);
    const failures: string[] = [];
    const statuses = new Map<string, number>();
    const byCategory = new Map<string, number>();
    await runPool(cases, CONCURRENCY, async (c) => {
      count(byCategory, c.category);
      const r = await send(c);
      let problems: string[];
      if (!isAnswered(r)) problems = [unanswered(r, HANG_MS)];
      else {
        count(statuses, String(r.status));
        problems = check(c, r, secrets);
        if (problems.length) problems.push(`got HTTP ${r.status} ${r.headers.get('content-type') ?? ''}: ${r.text.replace(/\s+/g, ' ').slice(0, 300)}`);
      }
      if (problems.length) failures.push(caseFailure(c, problems, redact, { pathChars: 120, bodyChars: 240 }));
    });

    // Logs: no secret, and no planted fake key verbatim (the logger scrubs key-shaped strings).
    failures.push(...secretsInLogs(h.logs, secrets));
    const planted = new Set(cases.flatMap((c) => c.fakeKeys));
    h.logs.forEach((line, i) => {
      for (const k of planted) if (line.includes(k)) failures.push(`log line ${i} contains a planted key verbatim: ${redact(line).slice(0, 300)}`);
    });

    // Upstream: every request the server sent matched OpenRouter's spec and went to a known route.
    for (const v of h.fake.violations) failures.push(`upstream request violates the OpenRouter spec: ${v.path} ${v.errors.join('; ').slice(0, 300)}`);
    const dotted = cases.filter((c) => typeof c.body === 'string' && c.body.includes('"get_model_details"') && /\/\.\.?(\/|")/.test(c.body)).map((c) => `#${c.index}`);
    for (const req of h.fake.requests) {
      if (!UPSTREAM_ROUTES.some((re) => re.test(req.path))) {
        failures.push(`upstream request to an unexpected route: ${req.method} ${req.path} (sent by one of the get_model_details cases with dot segments: ${dotted.join(', ')})`);
      }
      if (req.body && Object.hasOwn(req.body, '__proto__')) failures.push(`a "__proto__" argument was forwarded upstream: ${req.method} ${req.path}`);
    }

    // Still healthy, and nothing in the account store changed.
    const after = await chat(h.alice.token, 'still there?');
    const body = await after.text();
    if (after.status !== 200 || !body.includes('Echo: still there?') || body.includes('"isError":true')) failures.push(`server unhealthy after the run: HTTP ${after.status} ${body.slice(0, 200)}`);
    const diff = tableDiff(before, await dumpTable(h, { skip: isCallAccounting }));
    // Besides call accounting, the one change allowed: a successful chat starts a conversation (new, encrypted items
    // under its own user). Only added ones: a conversation item changed or removed would still be reported.
    const users = new Set([h.alice.id, h.bob.id].map((id) => `USER#${id}`));
    diff.added = diff.added.filter((i) => !(users.has(String(i.pk)) && /^CONV(PART)?#conv_/.test(String(i.sk))));
    failures.push(...diffLines(diff, redact));

    // Late rejections surface after a turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    for (const reason of rejections.seen) failures.push(`unhandled rejection: ${redact(rejectionText(reason))}`);

    if (process.env.FUZZ_VERBOSE) {
      console.log(`fuzz seed ${SEED}: ${cases.length} requests\n  status: ${tally(statuses)}\n  categories: ${tally(byCategory)}\n  upstream requests: ${h.fake.requests.length}, log lines: ${h.logs.length}, failures: ${failures.length}`);
    }
    const header = `fuzz seed ${SEED}: ${failures.length} problem(s) in ${cases.length} requests. Reproduce: ${REPRO} (FUZZ_CASE=<#> replays one case)`;
    expect(report(header, failures)).toBe('no problems');
  } finally {
    rejections.stop();
  }
}, Math.max(120_000, COUNT * 30));
