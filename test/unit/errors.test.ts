import { UpstreamError, describeUpstreamError, errorFromResponse, parseRetryAfter, scrub } from '../../lambda/openrouter/errors.js';

const envelope = (code: number | string, message: string, metadata?: Record<string, unknown>) =>
  JSON.stringify({ error: { code, message, ...(metadata ? { metadata } : {}) } });

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  test('reads whole seconds', () => {
    expect(parseRetryAfter('30', now)).toBe(30);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('  7  ', now)).toBe(7);
  });

  test('rounds decimal seconds up', () => {
    expect(parseRetryAfter('1.2', now)).toBe(2);
    expect(parseRetryAfter('0.001', now)).toBe(1);
  });

  test('reads an HTTP date relative to now, and clamps past dates to 0', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:01:30 GMT', now)).toBe(90);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });

  test('returns undefined for garbage, empty and null', () => {
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5x', now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('errorFromResponse', () => {
  test('reads an OpenRouter envelope: message, status, code and metadata', () => {
    const err = errorFromResponse(402, envelope(402, 'Insufficient credits', { provider_name: 'OpenAI' }), null);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('UpstreamError');
    expect(err.kind).toBe('http');
    expect(err.status).toBe(402);
    expect(err.message).toBe('Insufficient credits');
    expect(err.details.rawCode).toBe('402');
    expect(err.details.providerName).toBe('OpenAI');
    expect(err.details.retryAfterSeconds).toBeUndefined();
  });

  test('keeps a string error code and the Retry-After header', () => {
    const err = errorFromResponse(429, envelope('rate_limit_exceeded', 'Slow down'), '12');
    expect(err.details.rawCode).toBe('rate_limit_exceeded');
    expect(err.details.retryAfterSeconds).toBe(12);
  });

  test('reads 403 moderation metadata: reasons (strings only) and flagged input', () => {
    const err = errorFromResponse(
      403,
      envelope(403, 'Input flagged', { reasons: ['violence', 42, 'harassment'], flagged_input: 'some bad words...', provider_name: 'OpenAI' }),
      null,
    );
    expect(err.details.reasons).toEqual(['violence', 'harassment']);
    expect(err.details.flaggedInput).toBe('some bad words...');
  });

  test('scrubs and caps flagged input echoed back from the request', () => {
    const flagged = `my key is sk-or-v1-${'a'.repeat(64)} ${'x'.repeat(400)}`;
    const err = errorFromResponse(403, envelope(403, 'flagged', { reasons: ['r'], flagged_input: flagged }), null);
    expect(err.details.flaggedInput).not.toContain('aaaaaaaa');
    expect(err.details.flaggedInput).toContain('[redacted]');
    expect(err.details.flaggedInput!.length).toBeLessThanOrEqual(201);
  });

  test('uses the raw body text when the body is not JSON', () => {
    const err = errorFromResponse(502, '  <html>Bad Gateway</html>\n', null);
    expect(err.message).toBe('<html>Bad Gateway</html>');
    expect(err.details.rawCode).toBeUndefined();
  });

  test('uses the raw body text when the JSON is not an OpenRouter envelope', () => {
    expect(errorFromResponse(500, '{"detail":"boom"}', null).message).toBe('{"detail":"boom"}');
  });

  test('falls back to "HTTP <status>" for an empty body', () => {
    expect(errorFromResponse(503, '', null).message).toBe('HTTP 503');
    expect(errorFromResponse(503, '   ', null).message).toBe('HTTP 503');
  });

  test('redacts keys echoed in the upstream message', () => {
    const err = errorFromResponse(401, envelope(401, 'Invalid key sk-or-v1-0123456789abcdef0123456789abcdef'), null);
    expect(err.message).not.toContain('0123456789abcdef');
    expect(err.message).toContain('[redacted]');
  });
});

describe('describeUpstreamError', () => {
  const http = (status: number, message: string, details: ConstructorParameters<typeof UpstreamError>[3] = {}) =>
    describeUpstreamError(new UpstreamError('http', status, message, details));

  test('400 for an unknown model points to retrieve_available_models', () => {
    for (const msg of ['foo/bar is not a valid model ID', 'Model not found', 'No endpoints found for model x/y', 'Invalid model: x']) {
      const text = http(400, msg);
      expect(text).toContain('retrieve_available_models');
      expect(text).toContain(msg);
    }
  });

  test('other 400s point to the input schema instead', () => {
    const text = http(400, 'temperature must be <= 2');
    expect(text).not.toContain('retrieve_available_models');
    expect(text).toMatch(/input schema/);
    expect(text).toContain('temperature must be <= 2');
  });

  test('401 asks to connect a new key', () => {
    expect(http(401, 'No auth credentials found')).toMatch(/OpenRouter API key.*invalid.*Connect a new key/s);
  });

  test('402 mentions credits and the spending limit', () => {
    const text = http(402, 'Insufficient credits');
    expect(text).toMatch(/credits/);
    expect(text).toMatch(/limit/);
    expect(text).toContain('https://openrouter.ai/settings/credits');
  });

  test('403 lists the moderation reasons and the flagged input', () => {
    const text = describeUpstreamError(errorFromResponse(403, envelope(403, 'flagged', { reasons: ['violence', 'hate'], flagged_input: 'xyz' }), null));
    expect(text).toMatch(/moderation/);
    expect(text).toContain('Reasons: violence, hate.');
    expect(text).toContain('Flagged input: "xyz"');
  });

  test('403 without metadata still explains moderation, without empty reason text', () => {
    const text = http(403, 'flagged');
    expect(text).toMatch(/moderation/);
    expect(text).not.toContain('Reasons:');
  });

  test('408 suggests retrying or lowering max_tokens', () => {
    expect(http(408, 'timeout')).toMatch(/timed out.*max_tokens/s);
  });

  test('429 mentions the Retry-After seconds, or "a few" when unknown', () => {
    expect(describeUpstreamError(errorFromResponse(429, envelope(429, 'Rate limit'), '17'))).toContain('Retry after 17 seconds');
    expect(http(429, 'Rate limit')).toContain('Retry after a few seconds');
  });

  test('502 blames the provider and suggests fallbacks', () => {
    const text = http(502, 'upstream broke');
    expect(text).toMatch(/provider/);
    expect(text).toMatch(/fallbacks/);
    expect(text).toContain('upstream broke');
  });

  test('503 says no provider is available', () => {
    expect(http(503, 'no providers')).toMatch(/No provider is currently available/);
  });

  test('other statuses name the status', () => {
    expect(http(418, 'teapot')).toBe('OpenRouter returned HTTP 418. OpenRouter said: teapot');
  });

  test('timeout and network kinds have their own text regardless of status', () => {
    expect(describeUpstreamError(new UpstreamError('timeout', 504, 'x'))).toMatch(/did not answer in time/);
    expect(describeUpstreamError(new UpstreamError('network', 0, 'ECONNRESET'))).toMatch(/Could not reach OpenRouter/);
  });

  test('stream and invalid_response kinds include the upstream message', () => {
    expect(describeUpstreamError(new UpstreamError('stream', 500, 'provider died'))).toMatch(/part-way through the stream.*provider died/);
    expect(describeUpstreamError(new UpstreamError('invalid_response', 502, 'bad json'))).toMatch(/could not read.*bad json/);
  });
});

describe('scrub', () => {
  test('redacts OpenRouter keys, ormcp tokens and bearer credentials', () => {
    const key = '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';
    const token = 'ormcp_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq';
    const out = scrub(`key=${key} token=${token} header: Bearer xyz.abc-def_ghi/JKL=`);
    expect(out).not.toContain('0f1e2d3c');
    expect(out).not.toContain('0123456789abcdef');
    expect(out).not.toContain('xyz.abc');
    expect(out).toBe('key=[redacted] token=[redacted] header: [redacted]');
  });

  test('redacts case-insensitive "bearer" and every occurrence', () => {
    const out = scrub('bearer abcdefgh12345 and BEARER zyxwvuts98765 and sk-or-v1-aaaaaaaaaa sk-or-v1-bbbbbbbbbb');
    expect(out).toBe('[redacted] and [redacted] and [redacted] [redacted]');
  });

  test('leaves ordinary text alone', () => {
    const text = 'Model openai/gpt-4o is not available; try ormcp later. Bearer token missing.';
    expect(scrub(text)).toBe(text);
  });

  test('caps length at 500 by default with an ellipsis, and at a custom max', () => {
    const long = 'a'.repeat(1200);
    const out = scrub(long);
    expect(out.length).toBe(501);
    expect(out.endsWith('…')).toBe(true);
    expect(scrub(long, 10)).toBe(`${'a'.repeat(10)}…`);
    expect(scrub('a'.repeat(500))).toBe('a'.repeat(500));
  });

  test('redacts before capping, so a key straddling the cap is not half-shown', () => {
    const out = scrub(`${'x'.repeat(490)}sk-or-v1-${'k'.repeat(40)}`);
    expect(out).not.toContain('kkkk');
    expect(out).toBe(`${'x'.repeat(490)}[redacted]`);
  });

  test('UpstreamError messages are scrubbed on construction', () => {
    expect(new UpstreamError('http', 500, 'Authorization: Bearer supersecretvalue').message).toBe('Authorization: [redacted]');
  });
});
