import { Admission } from '../../lambda/http/admission.js';

const MiB = 1024 * 1024;
const limits = { maxRequests: 3, maxBodyBytes: 10 * MiB, perRequestBodyBytes: 4 * MiB };
const body = (contentLength?: string) => ({ hasBody: true, contentLength });
const noBody = { hasBody: false, contentLength: undefined };

test('declared bodies reserve their length until the budget is spent; releasing gives it back once', () => {
  const a = new Admission(limits);
  const first = a.tryAdmit(body(String(4 * MiB)))!;
  expect(a.tryAdmit(body(String(4 * MiB)))).toBeDefined();
  expect(a.inFlight()).toEqual({ requests: 2, bodyBytes: 8 * MiB });
  expect(a.tryAdmit(body(String(3 * MiB)))).toBeUndefined();
  expect(a.tryAdmit(body(String(2 * MiB)))).toBeDefined();
  first();
  first();
  expect(a.inFlight()).toEqual({ requests: 2, bodyBytes: 6 * MiB });
});

test('a body of unknown length (chunked) reserves the whole per-request limit; an oversized declaration no more', () => {
  const a = new Admission(limits);
  a.tryAdmit(body(undefined));
  expect(a.inFlight().bodyBytes).toBe(4 * MiB);
  a.tryAdmit(body(String(900 * MiB)));
  expect(a.inFlight().bodyBytes).toBe(8 * MiB);
  // A malformed length counts as unknown: 12 bytes would fit, the 4 MiB it reserves does not.
  expect(a.tryAdmit(body('12abc'))).toBeUndefined();
});

test('body-less requests are bounded by count', () => {
  const a = new Admission(limits);
  expect([a.tryAdmit(noBody), a.tryAdmit(noBody), a.tryAdmit(noBody)].every(Boolean)).toBe(true);
  expect(a.tryAdmit(noBody)).toBeUndefined();
  expect(a.inFlight()).toEqual({ requests: 3, bodyBytes: 0 });
});
