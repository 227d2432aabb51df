/**
 * The limiter a fan-out (compare_models) gives its generations: a concurrency refusal waits for one of the fan-out's
 * own generations to finish and asks again; with none of its own running, or for the rate, the refusal stands.
 */
import { FanOutLimiter } from '../../lambda/limits/fan-out-limiter.js';
import type { AcquireOptions, Limiter, Permit, Refusal } from '../../lambda/limits/limiter.js';
import { MemoryLimiter } from '../../lambda/limits/memory-limiter.js';

const HOLD: AcquireOptions = { hold: true };
const tick = () => new Promise((r) => setImmediate(r));

/** Runs `n` generations through one fan-out, each holding its slot until finished; `holding` are those with a slot now. */
function fanOut(inner: Limiter, n: number) {
  const limiter = new FanOutLimiter(inner);
  const holding = new Map<number, () => void>();
  let peak = 0;
  const done = Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const permit = await limiter.acquire('u1', HOLD);
      if (!permit.ok) return permit;
      await new Promise<void>((resolve) => {
        holding.set(i, resolve);
        peak = Math.max(peak, holding.size);
      });
      holding.delete(i);
      await permit.release();
      return permit;
    }),
  );
  return { holding, peak: () => peak, done };
}

test('eight generations under a limit of two run two at a time, and all of them get a slot', async () => {
  const run = fanOut(new MemoryLimiter({ ratePerMinute: 0, maxConcurrent: 2 }), 8);
  // Bounded: each round finishes one generation, and there are eight.
  for (let round = 0; round < 8; round++) {
    while (run.holding.size < Math.min(2, 8 - round)) await tick();
    expect(run.holding.size).toBe(Math.min(2, 8 - round));
    // The oldest holder finishes; its slot goes to a queued sibling.
    run.holding.values().next().value!();
    await tick();
  }
  const permits = await run.done;
  expect(permits.every((p) => p.ok)).toBe(true);
  expect(run.peak()).toBe(2);
});

test('with every slot held by the user\'s other calls, the refusal stands at once (no waiting on strangers)', async () => {
  const memory = new MemoryLimiter({ ratePerMinute: 0, maxConcurrent: 1 });
  const other = await memory.acquire('u1', HOLD);
  expect(other.ok).toBe(true);
  const refused = await new FanOutLimiter(memory).acquire('u1', HOLD);
  expect(refused).toMatchObject({ ok: false, limit: 'concurrency', max: 1 });
});

test('a rate refusal stands even while siblings run', async () => {
  const memory = new MemoryLimiter({ ratePerMinute: 1, maxConcurrent: 0 });
  const limiter = new FanOutLimiter(memory);
  const first = await limiter.acquire('u1', HOLD);
  expect(first.ok).toBe(true);
  expect(await limiter.acquire('u1', HOLD)).toMatchObject({ ok: false, limit: 'rate' });
});

test('a slot released while a sibling was asking is asked for again, not given up', async () => {
  // An inner limiter whose refusal is decided before, and answered after, a sibling's release.
  let grant = true;
  let answer!: () => void;
  const refusal: Refusal = { ok: false, limit: 'concurrency', max: 1, retryAfterSeconds: 1 };
  const inner: Limiter = {
    acquire: async () => {
      if (grant) {
        grant = false;
        return { ok: true, release: async () => void (grant = true) } satisfies Permit;
      }
      await new Promise<void>((resolve) => (answer = resolve));
      return refusal;
    },
    settle: async () => undefined,
  };
  const limiter = new FanOutLimiter(inner);
  const first = await limiter.acquire('u1', HOLD);
  expect(first.ok).toBe(true);
  const second = limiter.acquire('u1', HOLD);
  await tick();
  // The sibling finishes while the second ask is in flight; that ask is then refused (it was decided earlier).
  await (first as Permit).release();
  answer();
  expect((await second).ok).toBe(true);
});

test('a release is given back once, however often it is called', async () => {
  const memory = new MemoryLimiter({ ratePerMinute: 0, maxConcurrent: 2 });
  const limiter = new FanOutLimiter(memory);
  const a = (await limiter.acquire('u1', HOLD)) as Permit;
  await Promise.all([a.release(), a.release()]);
  const b = await limiter.acquire('u1', HOLD);
  const c = await limiter.acquire('u1', HOLD);
  expect([b.ok, c.ok]).toEqual([true, true]);
  expect(await memory.acquire('u1', HOLD)).toMatchObject({ ok: false, limit: 'concurrency' });
});
