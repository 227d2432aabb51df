import { createLogger, silentLogger, type LogLevel } from '../../lambda/observability/logger.js';

function capture(level?: LogLevel, base?: Record<string, unknown>) {
  const lines: string[] = [];
  const logger = createLogger({ ...(level ? { level } : {}), ...(base ? { base } : {}), write: (line) => lines.push(line) });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('createLogger', () => {
  test('writes one JSON object per line with level, time, message and fields', () => {
    const { logger, lines, records } = capture();
    logger.info('tool call', { tool: 'send_chat_completion_request', durationMs: 12, ok: true, nested: { a: [1, 2] } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const [r] = records();
    expect(r).toMatchObject({ level: 'info', message: 'tool call', tool: 'send_chat_completion_request', durationMs: 12, ok: true, nested: { a: [1, 2] } });
    expect(typeof r!.time).toBe('string');
    expect(Number.isNaN(Date.parse(r!.time as string))).toBe(false);
  });

  test('each level method writes its own level', () => {
    const { logger, records } = capture('debug');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(records().map((r) => [r.level, r.message])).toEqual([
      ['debug', 'd'],
      ['info', 'i'],
      ['warn', 'w'],
      ['error', 'e'],
    ]);
  });

  test('defaults to info: debug is dropped', () => {
    const { logger, records } = capture();
    logger.debug('hidden');
    logger.info('shown');
    expect(records().map((r) => r.message)).toEqual(['shown']);
  });

  test.each([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ] as [LogLevel, LogLevel[]][])('level %s keeps %j', (level, kept) => {
    const { logger, records } = capture(level);
    logger.debug('debug');
    logger.info('info');
    logger.warn('warn');
    logger.error('error');
    expect(records().map((r) => r.level)).toEqual(kept);
  });

  test('child() merges fields into every line, and children of children stack', () => {
    const { logger, records } = capture('info', { service: 'ormcp' });
    const child = logger.child({ requestId: 'r-1', userId: 'u-1' });
    const grandchild = child.child({ tool: 'get_model_details', userId: 'u-2' });
    child.info('a', { extra: 1 });
    grandchild.warn('b');
    logger.info('c');
    const [a, b, c] = records();
    expect(a).toMatchObject({ service: 'ormcp', requestId: 'r-1', userId: 'u-1', extra: 1, message: 'a' });
    expect(b).toMatchObject({ service: 'ormcp', requestId: 'r-1', userId: 'u-2', tool: 'get_model_details', level: 'warn' });
    expect(c).not.toHaveProperty('requestId');
    expect(c).toMatchObject({ service: 'ormcp', message: 'c' });
  });

  test('child() keeps the parent level and writer', () => {
    const { logger, records } = capture('warn');
    const child = logger.child({ x: 1 });
    child.info('dropped');
    child.error('kept');
    expect(records().map((r) => r.message)).toEqual(['kept']);
  });

  test('per-call fields override base fields', () => {
    const { logger, records } = capture('info', { phase: 'base' });
    logger.info('m', { phase: 'call' });
    expect(records()[0]!.phase).toBe('call');
  });

  test('Error values are serialized as {name, message}, including nested ones', () => {
    const { logger, records } = capture();
    class UpstreamBoom extends Error {
      override name = 'UpstreamBoom';
    }
    logger.error('failed', { err: new TypeError('bad input'), wrapped: { cause: new UpstreamBoom('boom') } });
    const [r] = records();
    expect(r!.err).toEqual({ name: 'TypeError', message: 'bad input' });
    expect(r!.wrapped).toEqual({ cause: { name: 'UpstreamBoom', message: 'boom' } });
    expect(JSON.stringify(r)).not.toContain('stack');
  });

  test('redacts an OpenRouter key or ormcp token that slips into a field or the message', () => {
    const { logger, lines, records } = capture();
    const key = 'sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    const token = 'ormcp_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq';
    logger.info(`auth with ${token}`, { header: `Bearer ${token}`, key, err: new Error(`rejected ${key}`), safe: 'tokenId=0123456789abcdef' });
    expect(lines[0]).not.toContain('0123456789abcdef0123');
    expect(lines[0]).not.toContain('ABCDEFGHIJ');
    const [r] = records(); // still valid JSON after redaction
    expect(r!.key).toBe('[redacted]');
    expect(r!.header).toMatch(/^(Bearer )?\[redacted\]$/);
    expect(r!.message).toBe('auth with [redacted]');
    expect(r!.err).toEqual({ name: 'Error', message: 'rejected [redacted]' });
    expect(r!.safe).toBe('tokenId=0123456789abcdef');
  });

  test('writes to stdout by default', () => {
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      createLogger().info('to stdout', { n: 1 });
      expect(spy).toHaveBeenCalledTimes(1);
      const written = String(spy.mock.calls[0]![0]);
      expect(written.endsWith('\n')).toBe(true);
      expect(JSON.parse(written)).toMatchObject({ level: 'info', message: 'to stdout', n: 1 });
    } finally {
      spy.mockRestore();
    }
  });
});

describe('silentLogger', () => {
  test('writes nothing and its children are silent too', () => {
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      silentLogger.error('nothing');
      silentLogger.child({ a: 1 }).info('nothing');
      expect(spy).not.toHaveBeenCalled();
      expect(silentLogger.child({})).toBe(silentLogger);
    } finally {
      spy.mockRestore();
    }
  });
});
