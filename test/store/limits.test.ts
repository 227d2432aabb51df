/**
 * The DynamoDB limiter against a real DynamoDB API (dynalite): two limiter instances with their own clients
 * (= two Lambda instances) share one table and together respect the limits; a call costs one write, on one item
 * holding both limits; leases are released (in the background), renewed, and reclaimed once they lapse; a store
 * failure lets the call through (fail open) and is logged.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoLimiter, type DynamoLimiterOptions } from '../../lambda/limits/dynamo-limiter.js';
import type { Permit, Refusal } from '../../lambda/limits/limiter.js';
import { CONCURRENCY_RETRY_AFTER_SECONDS, LEASE_MS, rateAttribute, scanLeases } from '../../lambda/limits/math.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { documentClient } from '../../lambda/store/dynamo.js';
import { keys } from '../../lambda/store/schema.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

let dynamo: LocalDynamo;
const clients: DynamoDBClient[] = [];
let userCounter = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await dynamo.close();
});

/** A client of its own, as a separate Lambda instance would have. */
function ownClient(endpoint = dynamo.endpoint): DynamoDBDocumentClient {
  const raw = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  clients.push(raw);
  return documentClient(raw);
}

type Clock = { now: number };

function instance(clock: Clock, options: Partial<DynamoLimiterOptions> = {}): DynamoLimiter {
  return new DynamoLimiter({
    client: ownClient(),
    tableName: dynamo.tableName,
    ratePerMinute: 0,
    maxConcurrent: 0,
    now: () => clock.now,
    ...options,
  });
}

function newUser(): string {
  userCounter += 1;
  return `user-${userCounter}`;
}

async function limitsItem(userId: string): Promise<Record<string, unknown>> {
  const res = await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: keys.limits(userId), ConsistentRead: true }));
  return res.Item ?? {};
}

/** The item's count must always equal its number of leases. */
async function expectConsistent(userId: string, leases: number): Promise<void> {
  const item = await limitsItem(userId);
  const scan = scanLeases(item, 0);
  expect(scan.live.length + scan.expired.length).toBe(leases);
  expect(item.c ?? 0).toBe(leases);
}

describe('rate limit across instances', () => {
  test('two instances racing 20 calls with a limit of 7 allow exactly 7, each refusal with Retry-After to the minute end', async () => {
    const clock = { now: T0 + 20_000 };
    const a = instance(clock, { ratePerMinute: 7 });
    const b = instance(clock, { ratePerMinute: 7 });
    const user = newUser();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire(user, { hold: false })));
    expect(results.filter((r) => r.ok)).toHaveLength(7);
    const refusals = results.filter((r): r is Refusal => !r.ok);
    expect(refusals).toHaveLength(13);
    for (const r of refusals) expect(r).toEqual({ ok: false, limit: 'rate', max: 7, retryAfterSeconds: 40 });

    // Other users have their own budget.
    expect((await a.acquire(newUser(), { hold: false })).ok).toBe(true);

    // The next minute is a new window: allowed again, on either instance.
    clock.now = T0 + 60_000;
    expect((await b.acquire(user, { hold: false })).ok).toBe(true);
    // One item; the new minute's write removed the previous minute's counter.
    expect(await limitsItem(user)).toEqual({ pk: `LIMIT#${user}`, sk: 'STATE', type: 'limits', w: T0 + 60_000, [rateAttribute(T0 + 60_000)]: 1, ttl: (T0 + 120_000) / 1000 + 3600 });
  });
});

describe('concurrency limit across instances', () => {
  test('slots are shared: with max 2 one per instance fills them, a release frees one, double release changes nothing', async () => {
    const clock = { now: T0 };
    const a = instance(clock, { maxConcurrent: 2 });
    const b = instance(clock, { maxConcurrent: 2 });
    const user = newUser();
    const first = (await a.acquire(user, { hold: true })) as Permit;
    const second = (await b.acquire(user, { hold: true })) as Permit;
    expect(first.ok && second.ok).toBe(true);
    expect(await a.acquire(user, { hold: true })).toEqual({ ok: false, limit: 'concurrency', max: 2, retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS });
    expect((await b.acquire(user, { hold: true })).ok).toBe(false);
    // Calls that hold no slot, and other users, are unaffected.
    expect((await b.acquire(user, { hold: false })).ok).toBe(true);
    expect((await b.acquire(newUser(), { hold: true })).ok).toBe(true);
    await expectConsistent(user, 2);

    await first.release();
    await first.release();
    await expectConsistent(user, 1);
    const third = (await b.acquire(user, { hold: true })) as Permit;
    expect(third.ok).toBe(true);
    expect((await a.acquire(user, { hold: true })).ok).toBe(false);
    await second.release();
    await third.release();
    await expectConsistent(user, 0);
  });

  test('12 simultaneous takes on two instances with max 3 yield exactly 3 slots; all released leaves the item empty', async () => {
    const clock = { now: T0 };
    const a = instance(clock, { maxConcurrent: 3 });
    const b = instance(clock, { maxConcurrent: 3 });
    const user = newUser();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).acquire(user, { hold: true })));
    const permits = results.filter((r): r is Permit => r.ok);
    expect(permits).toHaveLength(3);
    await expectConsistent(user, 3);
    await Promise.all(permits.map((p) => p.release()));
    await expectConsistent(user, 0);
  });

  test('a lease whose holder died is reclaimed once it lapses, and the dead holder\'s late release changes nothing', async () => {
    const clock = { now: T0 };
    // Instance A "dies": its renewals never run and it never releases.
    const dead = instance(clock, { maxConcurrent: 2, schedule: () => () => undefined });
    const alive = instance(clock, { maxConcurrent: 2 });
    const user = newUser();
    const ghosts = [(await dead.acquire(user, { hold: true })) as Permit, (await dead.acquire(user, { hold: true })) as Permit];
    expect((await alive.acquire(user, { hold: true })).ok).toBe(false);

    clock.now = T0 + LEASE_MS - 1;
    expect((await alive.acquire(user, { hold: true })).ok).toBe(false);

    clock.now = T0 + LEASE_MS + 1;
    const permit = (await alive.acquire(user, { hold: true })) as Permit;
    expect(permit.ok).toBe(true);
    await expectConsistent(user, 1);
    // Both lapsed leases went, so a second slot is free too.
    const another = (await alive.acquire(user, { hold: true })) as Permit;
    expect(another.ok).toBe(true);
    expect((await alive.acquire(user, { hold: true })).ok).toBe(false);

    // The "dead" instance comes back and releases: its leases are gone, so the count must not drop.
    for (const g of ghosts) await g.release();
    await expectConsistent(user, 2);
    await permit.release();
    await another.release();
    await expectConsistent(user, 0);
  });

  test('a renewed lease outlives its first expiry and is not reclaimed; once renewals stop it lapses', async () => {
    const clock = { now: T0 };
    const renewals: (() => void)[] = [];
    const holder = instance(clock, {
      maxConcurrent: 1,
      schedule: (task) => {
        renewals.push(task);
        return () => renewals.splice(renewals.indexOf(task), 1);
      },
    });
    const other = instance(clock, { maxConcurrent: 1 });
    const user = newUser();
    const permit = (await holder.acquire(user, { hold: true })) as Permit;
    expect(renewals).toHaveLength(1);

    clock.now = T0 + LEASE_MS / 2;
    renewals[0]!();
    // The renewal is fire-and-forget inside the limiter; wait until the table shows it.
    await waitFor(async () => Number(Object.values(await limitsItem(user)).find((v) => typeof v === 'number' && v > T0 + LEASE_MS)) > 0);

    clock.now = T0 + LEASE_MS + 1;
    expect((await other.acquire(user, { hold: true })).ok).toBe(false);

    clock.now = T0 + LEASE_MS / 2 + LEASE_MS + 1;
    const taken = (await other.acquire(user, { hold: true })) as Permit;
    expect(taken.ok).toBe(true);
    await permit.release();
    expect(renewals).toHaveLength(0);
    await expectConsistent(user, 1);
    await taken.release();
  });
});

/** A client over `real` that records the name of every command sent through it. */
function countingClient(real: DynamoDBDocumentClient, sent: string[]): DynamoDBDocumentClient {
  return {
    send: (command: unknown, options?: unknown) => {
      sent.push((command as { constructor: { name: string } }).constructor.name);
      return (real.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
    },
  } as unknown as DynamoDBDocumentClient;
}

describe('one item, one write', () => {
  test('a generation costs one write before it runs (count and lease together) and one release after', async () => {
    const sent: string[] = [];
    const clock = { now: T0 + 5_000 };
    const limiter = new DynamoLimiter({ client: countingClient(ownClient(), sent), tableName: dynamo.tableName, ratePerMinute: 10, maxConcurrent: 2, now: () => clock.now });
    const user = newUser();
    const permit = (await limiter.acquire(user, { hold: true })) as Permit;
    expect(permit.ok).toBe(true);
    expect(sent).toEqual(['UpdateCommand']);
    const item = await limitsItem(user);
    expect(item).toMatchObject({ [rateAttribute(T0)]: 1, w: T0, c: 1 });
    expect(scanLeases(item, clock.now).live).toHaveLength(1);
    // A lookup: one write too, counted by the rate limit only.
    expect((await limiter.acquire(user, { hold: false })).ok).toBe(true);
    expect(sent).toEqual(['UpdateCommand', 'UpdateCommand']);
    void permit.release();
    await limiter.settle();
    expect(sent).toHaveLength(3);
    expect(await limitsItem(user)).toMatchObject({ [rateAttribute(T0)]: 2, c: 0 });
    await expectConsistent(user, 0);
  });

  test('both limits hold together: 20 racing generations on two instances (rate 7, 3 slots) — 3 through, only they counted', async () => {
    const clock = { now: T0 + 1_000 };
    const a = instance(clock, { ratePerMinute: 7, maxConcurrent: 3 });
    const b = instance(clock, { ratePerMinute: 7, maxConcurrent: 3 });
    const user = newUser();
    const race = () => Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire(user, { hold: true })));
    const first = await race();
    const permits = first.filter((r): r is Permit => r.ok);
    expect(permits).toHaveLength(3);
    for (const r of first.filter((r): r is Refusal => !r.ok)) expect(r.limit).toBe('concurrency');
    // A call refused for concurrency did not use up the minute's budget.
    expect((await limitsItem(user))[rateAttribute(T0)]).toBe(3);
    await expectConsistent(user, 3);

    await Promise.all(permits.map((p) => p.release()));
    const second = await race();
    // 4 calls of the minute left and 3 slots free: the slots run out first.
    expect(second.filter((r) => r.ok)).toHaveLength(3);
    expect((await limitsItem(user))[rateAttribute(T0)]).toBe(6);
    await Promise.all(second.map((r) => (r.ok ? r.release() : undefined)));

    // 1 call left: exactly one of the racers gets it, and the rate refusals take no slot.
    const third = await race();
    expect(third.filter((r) => r.ok)).toHaveLength(1);
    expect(third.filter((r) => !r.ok && r.limit === 'rate')).toHaveLength(19);
    await expectConsistent(user, 1);
    await Promise.all(third.map((r) => (r.ok ? r.release() : undefined)));
    await expectConsistent(user, 0);
  });

  test('a new minute counts from one in the same write; a counter left by a longer pause is cleared in the background', async () => {
    const clock = { now: T0 + 59_000 };
    const limiter = instance(clock, { ratePerMinute: 2 });
    const user = newUser();
    for (let i = 0; i < 2; i++) expect((await limiter.acquire(user, { hold: false })).ok).toBe(true);
    expect(await limiter.acquire(user, { hold: false })).toEqual({ ok: false, limit: 'rate', max: 2, retryAfterSeconds: 1 });

    clock.now = T0 + 60_000;
    expect((await limiter.acquire(user, { hold: false })).ok).toBe(true);
    let item = await limitsItem(user);
    expect(item[rateAttribute(T0 + 60_000)]).toBe(1);
    expect(item).not.toHaveProperty(rateAttribute(T0));

    // Idle for more than a minute: the old counter is not the previous window's, so the write leaves it and a
    // clean-up after the call removes it.
    clock.now = T0 + 60_000 * 5 + 10;
    expect((await limiter.acquire(user, { hold: false })).ok).toBe(true);
    await limiter.settle();
    item = await limitsItem(user);
    expect(Object.keys(item).filter((k) => k.startsWith('r_'))).toEqual([rateAttribute(T0 + 300_000)]);
    expect(item.w).toBe(T0 + 300_000);
  });

  test('a release left running is awaited by settle(), and the same user\'s next take waits for it instead of being refused', async () => {
    const sent: string[] = [];
    let holdRelease: (() => void) | undefined;
    const real = ownClient();
    // Holds the first release's write until the test lets it go, as a slow network would.
    const slow = {
      send: async (command: unknown, options?: unknown) => {
        const input = (command as { input: { UpdateExpression?: string } }).input;
        if (input.UpdateExpression?.startsWith('ADD #c :minus') && !holdRelease) await new Promise<void>((r) => (holdRelease = r));
        sent.push(input.UpdateExpression ?? 'get');
        return (real.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
      },
    } as unknown as DynamoDBDocumentClient;
    const clock = { now: T0 };
    const limiter = new DynamoLimiter({ client: slow, tableName: dynamo.tableName, ratePerMinute: 0, maxConcurrent: 1, now: () => clock.now });
    const user = newUser();
    const permit = (await limiter.acquire(user, { hold: true })) as Permit;
    void permit.release();
    let settled = false;
    const settling = limiter.settle().then(() => (settled = true));
    const next = limiter.acquire(user, { hold: true });
    await waitFor(async () => holdRelease !== undefined);
    expect(settled).toBe(false);
    await expectConsistent(user, 1);
    holdRelease!();
    await settling;
    const taken = (await next) as Permit;
    expect(taken.ok).toBe(true);
    // The next take went out only after the release landed: no refusal, no read, no retry.
    expect(sent.filter((e) => e !== 'get')).toHaveLength(3);
    expect(sent).not.toContain('get');
    await taken.release();
    await expectConsistent(user, 0);
  });
});

describe('failure policy', () => {
  test('a take whose answer is lost after it landed (a timeout) is allowed, and its release still frees the slot', async () => {
    const real = ownClient();
    let lose = 1;
    // Sends for real, then pretends the answer never came back: the write is in the table, the caller saw an error.
    const lossy = {
      send: async (command: unknown, options?: unknown) => {
        const result = await (real.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
        if ((command as { constructor: { name: string } }).constructor.name === 'UpdateCommand' && lose-- > 0) {
          throw Object.assign(new Error('timed out'), { name: 'TimeoutError' });
        }
        return result;
      },
    } as unknown as DynamoDBDocumentClient;
    const clock = { now: T0 };
    const limiter = new DynamoLimiter({ client: lossy, tableName: dynamo.tableName, ratePerMinute: 0, maxConcurrent: 1, now: () => clock.now });
    const user = newUser();
    const permit = (await limiter.acquire(user, { hold: true })) as Permit;
    expect(permit.ok).toBe(true);
    await expectConsistent(user, 1);
    // The slot really is taken meanwhile…
    expect((await instance(clock, { maxConcurrent: 1 }).acquire(user, { hold: true })).ok).toBe(false);
    // …and the fail-open permit gives it back.
    await permit.release();
    await expectConsistent(user, 0);
  });

  test('an unreachable table lets the call through (fail open) and logs the error without the user\'s data', async () => {
    const logs: string[] = [];
    const limiter = new DynamoLimiter({
      // Nothing listens on port 9 of loopback: the connection is refused at once.
      client: ownClient('http://127.0.0.1:9'),
      tableName: 'ormcp',
      ratePerMinute: 1,
      maxConcurrent: 1,
      logger: createLogger({ write: (l) => logs.push(l) }),
    });
    const permit = (await limiter.acquire('someone', { hold: true })) as Permit;
    expect(permit.ok).toBe(true);
    await permit.release();
    const errors = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === 'limit check failed; call allowed');
    // One write checks both limits, so one failure (and one line) for both.
    expect(errors.map((e) => e.limit)).toEqual(['rate+concurrency']);
    for (const e of errors) expect(e.level).toBe('error');
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not reached');
}
