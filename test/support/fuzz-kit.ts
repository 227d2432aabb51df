/**
 * What the two fuzz suites (test/integration/fuzz.test.ts, test/oauth/fuzz.test.ts) share: a seeded PRNG, the
 * small generators their case builders have in common, a bounded sender, a pool that runs the cases, and the
 * leak checks and failure report. The cases themselves live beside each suite (`fuzz-cases.ts`).
 */

/** mulberry32: a tiny seeded PRNG, so the same seed always yields the same requests. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) if ((r -= w) < 0) return item;
    return items[items.length - 1]![0];
  }
  chars(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }
  hex(n: number): string {
    return this.chars(n, '0123456789abcdef');
  }
}

/** The base64url alphabet, the one our tokens' secrets are written in. */
export const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A made-up OpenRouter key, recorded in `planted` so the suite can prove nothing echoes it. */
export function plantKey(rng: Rng, planted: string[]): string {
  const k = `sk-or-v1-${rng.hex(64)}`;
  planted.push(k);
  return k;
}

/** What each suite plants in `junk`: its own odd numbers, hostile strings, string literals and object keys. */
export interface JunkFlavour {
  numbers: readonly number[];
  hostile: () => string;
  literals: readonly string[];
  keys: readonly string[];
}

/** A short value of a random JSON type (nested at most a few levels). */
export function junk(rng: Rng, flavour: JunkFlavour, depth = 0): Json {
  switch (rng.int(0, depth > 2 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(flavour.numbers);
    case 3:
      return flavour.hostile();
    case 4:
      return '';
    case 5:
      return rng.pick(flavour.literals);
    case 6:
      return Array.from({ length: rng.int(0, 3) }, () => junk(rng, flavour, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: rng.int(0, 3) }, () => [rng.pick(flavour.keys), junk(rng, flavour, depth + 1)]));
  }
}

/** A string of `n` repeats of one of `units`, cut to exactly `n` characters. */
export function longString(rng: Rng, n: number, units: readonly string[]): string {
  return rng.pick(units).repeat(n).slice(0, n);
}

/** The run the environment chooses: FUZZ_SEED and FUZZ_COUNT (else the suite's defaults), FUZZ_CASE=3,17 to replay single cases. */
export interface FuzzRun {
  seed: number;
  count: number;
  only?: Set<number>;
  /** The command that repeats this run. */
  repro: string;
}

export function fuzzRun(env: NodeJS.ProcessEnv, defaults: { seed: number; count: number; testFile: string }): FuzzRun {
  const seed = Number(env.FUZZ_SEED ?? defaults.seed) >>> 0;
  const count = Number(env.FUZZ_COUNT ?? defaults.count);
  return {
    seed,
    count,
    ...(env.FUZZ_CASE ? { only: new Set(env.FUZZ_CASE.split(',').map(Number)) } : {}),
    repro: `FUZZ_SEED=${seed} FUZZ_COUNT=${count} npx jest ${defaults.testFile}`,
  };
}

/** The cases of a run: all of them, or the ones FUZZ_CASE names. */
export function casesOf<T extends { index: number }>(run: FuzzRun, all: T[]): T[] {
  return run.only ? all.filter((c) => run.only!.has(c.index)) : all;
}

// ---- sending ----------------------------------------------------------------------------------------

/** What every generated case has, whichever suite made it. */
export interface RequestCase {
  index: number;
  category: string;
  desc: string;
  method: string;
  path: string;
  headers: [string, string][];
  body?: string | Uint8Array;
  /** Send the body as a stream (no Content-Length). */
  stream?: boolean;
}

/** The body part of a fetch init for a fuzz case: streamed in chunks (so no Content-Length is declared) or whole. */
export function bodyInit(body: string | Uint8Array | undefined, stream: boolean | undefined, chunkBytes: number): { body?: BodyInit; duplex?: 'half' } {
  if (body === undefined) return {};
  if (!stream) return { body: body as BodyInit };
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return {
    body: new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (let i = 0; i < bytes.length; i += chunkBytes) ctrl.enqueue(bytes.slice(i, i + chunkBytes));
        ctrl.close();
      },
    }),
    duplex: 'half',
  };
}

export interface Outcome {
  status: number;
  headers: Headers;
  text: string;
}

export type Sent = Outcome | { hang: true } | { thrown: string };

/** One request, bounded: a hang (aborted) or a throw is reported, never awaited forever. */
export async function sendBounded(fetchFn: typeof fetch, url: string, init: RequestInit, hangMs: number): Promise<Sent> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = (async (): Promise<Outcome> => {
    const res = await fetchFn(url, { ...init, signal: controller.signal });
    const text = new TextDecoder().decode(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, text };
  })();
  attempt.catch(() => undefined);
  const hang = new Promise<{ hang: true }>((resolve) => {
    timer = setTimeout(() => resolve({ hang: true }), hangMs);
  });
  try {
    const result = await Promise.race([attempt, hang]);
    if ('hang' in result) controller.abort();
    return result;
  } catch (err) {
    return { thrown: errorText(err) };
  } finally {
    clearTimeout(timer);
  }
}

export function isAnswered(r: Sent): r is Outcome {
  return 'status' in r;
}

/** The problem with a request that got no response at all. */
export function unanswered(r: Exclude<Sent, Outcome>, hangMs: number): string {
  return 'hang' in r ? `no complete response within ${hangMs / 1000} s` : `the handler threw: ${r.thrown}`;
}

/** Runs `each` over the cases, `concurrency` at a time, in order of index. */
export async function runPool<T>(cases: readonly T[], concurrency: number, each: (c: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < cases.length) await each(cases[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

// ---- leak checks and the report ---------------------------------------------------------------------

export interface Secret {
  label: string;
  value: string;
}

/** Replaces every secret's value in a text with its label. */
export function redactor(secrets: readonly Secret[]): (s: string) => string {
  return (s) => secrets.reduce((out, x) => out.split(x.value).join(`<${x.label}>`), s);
}

/** A response's headers as one text, to search for leaks. */
export function headerText(headers: Headers): string {
  return [...headers].map(([k, v]) => `${k}: ${v}`).join('\n');
}

/** Each secret found in a response's body or headers. */
export function secretsIn(r: Outcome, secrets: readonly Secret[]): string[] {
  const headers = headerText(r.headers);
  return secrets.filter((s) => r.text.includes(s.value) || headers.includes(s.value)).map((s) => `response contains ${s.label}`);
}

/** Each log line that holds a secret. */
export function secretsInLogs(logs: readonly string[], secrets: readonly Secret[]): string[] {
  const found: string[] = [];
  logs.forEach((line, i) => {
    for (const s of secrets) if (line.includes(s.value)) found.push(`log line ${i} contains ${s.label}`);
  });
  return found;
}

/** What was thrown, as `Name: message`. */
function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** An unhandled rejection's reason, short enough to print. */
export function rejectionText(reason: unknown): string {
  return errorText(reason).slice(0, 300);
}

/** A printable, secret-free description of a case and what was wrong with its response. */
export function caseFailure(c: RequestCase, problems: readonly string[], redact: (s: string) => string, show: { pathChars: number; bodyChars: number }): string {
  const body = c.body === undefined ? '' : typeof c.body === 'string' ? c.body : `<${c.body.length} bytes>`;
  const headers = c.headers.map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v}`).join('; ');
  const shown = body.length > show.bodyChars ? `${body.slice(0, show.bodyChars)}…(${body.length} chars)` : body;
  const described = redact(`#${c.index} [${c.category}] ${c.desc}\n      ${c.method} ${c.path.slice(0, show.pathChars)} {${headers}} ${shown}`);
  return `${described}\n      → ${problems.map(redact).join('\n      → ')}`;
}

/** Increments a tally. */
export function count(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

/** A tally as one line, sorted by key. */
export function tally(m: Map<string, number>, compare: (a: string, b: string) => number = (a, b) => a.localeCompare(b)): string {
  return [...m]
    .sort(([a], [b]) => compare(a, b))
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
}

/** 'no problems', or the header and the first 40 failures: what the suite's one assertion compares. */
export function report(header: string, failures: readonly string[]): string {
  if (!failures.length) return 'no problems';
  return `${header}\n  ${failures.slice(0, 40).join('\n  ')}${failures.length > 40 ? `\n  … and ${failures.length - 40} more` : ''}`;
}
