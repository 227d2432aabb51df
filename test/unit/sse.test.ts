import { SseDecoder, sseEvents } from '../../lambda/openrouter/sse.js';

/** Feed every piece to one decoder, then flush; returns every event in order. */
function decodeAll(pieces: string[]): string[] {
  const d = new SseDecoder();
  const out: string[] = [];
  for (const p of pieces) out.push(...d.push(p));
  out.push(...d.end());
  return out;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of sseEvents(body)) out.push(e);
  return out;
}

const OPENROUTER_LIKE =
  ': OPENROUTER PROCESSING\n\n' +
  'data: {"id":"gen-1","choices":[{"delta":{"content":"Hel"}}]}\n\n' +
  ': OPENROUTER PROCESSING\n\n' +
  'data: {"id":"gen-1","choices":[{"delta":{"content":"lo"}}]}\n\n' +
  'event: ignored\nid: 7\nretry: 100\n' +
  'data: first\ndata: second\n\n' +
  'data: [DONE]\n\n';
const OPENROUTER_LIKE_EVENTS = [
  '{"id":"gen-1","choices":[{"delta":{"content":"Hel"}}]}',
  '{"id":"gen-1","choices":[{"delta":{"content":"lo"}}]}',
  'first\nsecond',
  '[DONE]',
];

describe('SseDecoder', () => {
  test('emits the payload of a data line when the blank line arrives, not before', () => {
    const d = new SseDecoder();
    expect(d.push('data: {"a":1}\n')).toEqual([]);
    expect(d.push('\n')).toEqual(['{"a":1}']);
    expect(d.end()).toEqual([]);
  });

  test('returns several events completed by one push, in order', () => {
    expect(new SseDecoder().push('data: one\n\ndata: two\n\ndata: three\n\n')).toEqual(['one', 'two', 'three']);
  });

  test('joins multi-line data with \\n', () => {
    expect(decodeAll(['data: line 1\ndata: line 2\ndata: line 3\n\n'])).toEqual(['line 1\nline 2\nline 3']);
  });

  test('strips exactly one space after the colon, and accepts no space', () => {
    expect(decodeAll(['data:x\n\n', 'data:  two spaces\n\n', 'data\n\n'])).toEqual(['x', ' two spaces', '']);
  });

  test('keeps colons inside the value', () => {
    expect(decodeAll(['data: {"url":"https://x.test:8080/a"}\n\n'])).toEqual(['{"url":"https://x.test:8080/a"}']);
  });

  test('ignores comments such as ": OPENROUTER PROCESSING" and does not emit an event for them', () => {
    expect(decodeAll([': OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n'])).toEqual([]);
    expect(decodeAll(['data: a\n: comment between data lines\ndata: b\n\n'])).toEqual(['a\nb']);
  });

  test('ignores non-data fields (event, id, retry, unknown) and a field named like data', () => {
    expect(decodeAll(['event: message\nid: 1\nretry: 5000\nfoo: bar\ndatas: nope\nDATA: nope\n\n'])).toEqual([]);
    expect(decodeAll(['event: message\ndata: kept\nid: 2\n\n'])).toEqual(['kept']);
  });

  test('blank lines with no data in between produce no empty events', () => {
    expect(decodeAll(['\n\n\n\ndata: x\n\n\n\n'])).toEqual(['x']);
  });

  test('accepts CRLF line endings', () => {
    expect(decodeAll(['data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n'])).toEqual(['a\nb', 'c']);
  });

  test('accepts lone CR line endings', () => {
    expect(decodeAll(['data: a\rdata: b\r\rdata: c\r\r'])).toEqual(['a\nb', 'c']);
  });

  test('accepts mixed line endings in one stream', () => {
    expect(decodeAll(['data: a\r\ndata: b\n\rdata: c\r\r\n'])).toEqual(['a\nb', 'c']);
  });

  test('end() flushes a final event that has no trailing blank line', () => {
    const d = new SseDecoder();
    expect(d.push('data: {"done":true}')).toEqual([]);
    expect(d.end()).toEqual(['{"done":true}']);
  });

  test('end() flushes a final event whose last line ended but no blank line followed', () => {
    const d = new SseDecoder();
    expect(d.push('data: a\ndata: b\n')).toEqual([]);
    expect(d.end()).toEqual(['a\nb']);
  });

  test('end() on an empty or comment-only buffer yields nothing', () => {
    expect(new SseDecoder().end()).toEqual([]);
    const d = new SseDecoder();
    d.push(': keep-alive');
    expect(d.end()).toEqual([]);
  });

  test('decodes an OpenRouter-like stream fed in one piece', () => {
    expect(decodeAll([OPENROUTER_LIKE])).toEqual(OPENROUTER_LIKE_EVENTS);
  });

  test('gives the same events however an LF stream is split in two, at every offset', () => {
    for (let i = 0; i <= OPENROUTER_LIKE.length; i++) {
      expect([i, decodeAll([OPENROUTER_LIKE.slice(0, i), OPENROUTER_LIKE.slice(i)])]).toEqual([i, OPENROUTER_LIKE_EVENTS]);
    }
  });

  test('gives the same events however an LF stream is split in three, at every pair of offsets', () => {
    const s = 'data: a\ndata: b\n\n: c\n\ndata: d\n\n';
    for (let i = 0; i <= s.length; i++) {
      for (let j = i; j <= s.length; j++) {
        expect([i, j, decodeAll([s.slice(0, i), s.slice(i, j), s.slice(j)])]).toEqual([i, j, ['a\nb', 'd']]);
      }
    }
  });

  test('gives the same events when fed one character at a time (LF and lone CR)', () => {
    expect(decodeAll([...OPENROUTER_LIKE])).toEqual(OPENROUTER_LIKE_EVENTS);
    const cr = OPENROUTER_LIKE.replace(/\n/g, '\r');
    expect(decodeAll([...cr])).toEqual(OPENROUTER_LIKE_EVENTS);
  });

  test('a CRLF stream split anywhere except between \\r and \\n decodes the same', () => {
    const crlf = OPENROUTER_LIKE.replace(/\n/g, '\r\n');
    for (let i = 0; i <= crlf.length; i++) {
      if (crlf[i - 1] === '\r' && crlf[i] === '\n') continue; // covered by the known-bug test below
      expect([i, decodeAll([crlf.slice(0, i), crlf.slice(i)])]).toEqual([i, OPENROUTER_LIKE_EVENTS]);
    }
  });

  // KNOWN BUG (lambda/openrouter/sse.ts, SseDecoder.push): a chunk ending in "\r" whose CRLF partner "\n"
  // starts the next chunk is treated as two line endings (CR, then an empty LF line), so the empty line
  // dispatches the event early: "data: a\r" + "\ndata: b\r\n\r\n" yields ["a", "b"] instead of ["a\nb"].
  // Flip to `test` once the decoder holds back a trailing "\r" until it sees the next character.
  test('a CRLF stream split between \\r and \\n decodes the same', () => {
    expect(decodeAll(['data: a\r', '\ndata: b\r\n\r\n'])).toEqual(['a\nb']);
  });
});

describe('sseEvents', () => {
  const enc = new TextEncoder();

  test('decodes a byte stream into data payloads, flushing the final unterminated event', async () => {
    const events = await collect(streamOf([enc.encode('data: one\n\ndata: t'), enc.encode('wo\n\ndata: three')]));
    expect(events).toEqual(['one', 'two', 'three']);
  });

  test('an empty stream yields nothing', async () => {
    expect(await collect(streamOf([]))).toEqual([]);
  });

  test('reassembles multibyte UTF-8 characters split across chunks, at every byte offset', async () => {
    const text = 'data: {"content":"héllo → 世界 🎉"}\n\ndata: ünïcödé\n\n';
    const bytes = enc.encode(text);
    expect(bytes.length).toBeGreaterThan(text.length); // really multibyte
    for (let i = 0; i <= bytes.length; i++) {
      const events = await collect(streamOf([bytes.slice(0, i), bytes.slice(i)]));
      expect([i, events]).toEqual([i, ['{"content":"héllo → 世界 🎉"}', 'ünïcödé']]);
    }
  });

  test('reassembles a stream delivered one byte per chunk', async () => {
    const bytes = enc.encode('data: 🎉 emoji\n\n: comment\n\ndata: 中文\n\n');
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(await collect(streamOf(chunks))).toEqual(['🎉 emoji', '中文']);
  });

  test('releases the reader lock when the consumer stops early', async () => {
    const body = streamOf([enc.encode('data: 1\n\ndata: 2\n\n')]);
    for await (const e of sseEvents(body)) {
      expect(e).toBe('1');
      break;
    }
    expect(body.locked).toBe(false);
  });
});
