/**
 * Consent swap: the victim opens the consent page for app A; before they click, another site navigates their
 * browser to /oauth/authorize for app B (a top-level GET, which replaces the pending-authorization cookie). The
 * victim's "Allow" on A's page must not send a code to B: the decision counts only for the request its page
 * showed, and a mismatch is refused with a page that says so.
 */
import { TEST_ORIGIN as ORIGIN, Browser, authorizeUrl, hiddenFields, obtainCode, registerClient, startOAuthHarness, type OAuthHarness, type RegisteredTestClient } from '../support/oauth.js';
import { authorizeParams, unchanged } from '../oauth/negative-helpers.js';

const APP_A = 'http://127.0.0.1:9991/a/callback';
const APP_B = 'http://127.0.0.1:9992/b/callback';
let h: OAuthHarness;
let victim: Browser;
let appA: RegisteredTestClient;
let appB: RegisteredTestClient;

beforeAll(async () => {
  h = await startOAuthHarness();
  victim = new Browser(h.fetch, ORIGIN, { sub: 'sub-vera', email: 'vera@example.com' });
  appA = await registerClient(h, { client_name: 'Honest App', redirect_uris: [APP_A] });
  // Anyone may register a client (DCR): the attacker's app, with the attacker's redirect URI.
  appB = await registerClient(h, { client_name: 'Attacker App', redirect_uris: [APP_B] });
  // The victim is signed in and has a key (a first authorization for A got them there).
  await obtainCode(h, { client: appA, browser: victim });
});
afterAll(async () => {
  await h.close();
});

/** The victim at A's consent page: what the page shows and the fields its form would send. */
async function consentFor(client: RegisteredTestClient, redirectUri: string): Promise<{ page: string; fields: Record<string, string> }> {
  const step = await victim.follow(authorizeUrl(authorizeParams(client)), redirectUri);
  expect(step.url).toBe(`${ORIGIN}/oauth/consent`);
  const page = await step.response!.text();
  return { page, fields: hiddenFields(page, '/oauth/consent') };
}

test.each(['approve', 'deny'])('"%s" on A\'s page after another site started an authorization for B sends nothing to B', async (decision) => {
  const { page, fields } = await consentFor(appA, APP_A);
  expect(page).toContain('Allow Honest App?');
  // The attacker's page: a top-level navigation in the victim's browser (only its cookie effect matters here).
  const hijack = await victim.get(authorizeUrl(authorizeParams(appB, { state: 'attacker-state' })));
  expect(new URL(hijack.headers.get('location')!, ORIGIN).toString()).toBe(`${ORIGIN}/oauth/consent`);

  const res = await unchanged(h, () => victim.post(`${ORIGIN}/oauth/consent`, { ...fields, decision }));
  // No redirect anywhere (B gets neither a code nor an error), no code stored, and the page says why.
  expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 409, location: null });
  const body = await res.text();
  expect(body).toContain('This authorization request changed');
  expect(body).toContain('nothing was changed');
});

test('after a refused swap, starting again from A works and the code goes to A', async () => {
  const { fields } = await consentFor(appA, APP_A);
  await victim.get(authorizeUrl(authorizeParams(appB)));
  const refused = await victim.post(`${ORIGIN}/oauth/consent`, { ...fields, decision: 'approve' });
  expect(refused.status).toBe(409);
  const again = await consentFor(appA, APP_A);
  expect(again.fields.request).not.toBe(fields.request);
  const res = await victim.post(`${ORIGIN}/oauth/consent`, { ...again.fields, decision: 'approve' });
  expect(res.status).toBe(303);
  const back = new URL(res.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(APP_A);
  expect(back.searchParams.get('code')).toEqual(expect.any(String));
});

test('the request id of one pending request does not approve another, even for the same client', async () => {
  const first = await consentFor(appA, APP_A);
  const second = await consentFor(appA, APP_A);
  const res = await unchanged(h, () => victim.post(`${ORIGIN}/oauth/consent`, { ...first.fields, decision: 'approve' }));
  expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 409, location: null });
  const ok = await victim.post(`${ORIGIN}/oauth/consent`, { ...second.fields, decision: 'approve' });
  expect(ok.status).toBe(303);
});
