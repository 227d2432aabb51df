/**
 * Where a user's OpenRouter key comes from — never argv (shell history, `ps`):
 *
 *   token issue:  --openrouter-key-stdin → stdin;  otherwise OPENROUTER_API_KEY (if set).
 *   user set-key: --openrouter-key-stdin → stdin;  otherwise piped stdin (a pipe, file or socket, read to
 *                 EOF) if it is not empty;  otherwise OPENROUTER_API_KEY;  otherwise, on a terminal, a
 *                 hidden prompt.
 *
 * "stdin" on a terminal is a prompt with echo off. The key is trimmed; it is never printed.
 */
import { fstatSync } from 'node:fs';
import { CliError } from './errors.js';
import type { CliIo, InputStream } from './io.js';

export type KeySource = 'stdin' | 'OPENROUTER_API_KEY' | 'prompt';

export interface ProvidedKey {
  key: string;
  source: KeySource;
}

const MAX_STDIN_BYTES = 8192;

export async function keyForTokenIssue(io: CliIo, fromStdin: boolean): Promise<ProvidedKey | undefined> {
  if (fromStdin) return readKeyFromStdin(io);
  return fromEnv(io);
}

export async function keyForSetKey(io: CliIo, fromStdin: boolean): Promise<ProvidedKey> {
  if (fromStdin) return readKeyFromStdin(io);
  if (isPiped(io.stdin)) {
    const key = await readAll(io.stdin);
    if (key) return { key, source: 'stdin' };
  }
  const env = fromEnv(io);
  if (env) return env;
  if (canPrompt(io.stdin)) return { key: await promptHidden(io, 'OpenRouter API key (input hidden): '), source: 'prompt' };
  throw new CliError('no OpenRouter key: pipe it on stdin, set OPENROUTER_API_KEY, or run in a terminal to be prompted');
}

/** Human wording for where the key came from. */
export function describeSource(source: KeySource): string {
  return source === 'OPENROUTER_API_KEY' ? 'from OPENROUTER_API_KEY' : source === 'stdin' ? 'from stdin' : 'as entered';
}

function fromEnv(io: CliIo): ProvidedKey | undefined {
  const key = io.env.OPENROUTER_API_KEY?.trim();
  return key ? { key, source: 'OPENROUTER_API_KEY' } : undefined;
}

async function readKeyFromStdin(io: CliIo): Promise<ProvidedKey> {
  if (canPrompt(io.stdin)) return { key: await promptHidden(io, 'OpenRouter API key (input hidden): '), source: 'prompt' };
  const key = await readAll(io.stdin);
  if (!key) throw new CliError('--openrouter-key-stdin: nothing on stdin (pipe the key in, e.g. `pass show openrouter | ormcp …`)');
  return { key, source: 'stdin' };
}

/** True when stdin is data someone piped or redirected in; false for a terminal or /dev/null. */
function isPiped(stdin: InputStream): boolean {
  if (stdin.isTTY) return false;
  if (typeof stdin.fd !== 'number') return true; // an injected stream (tests, embedding)
  try {
    const st = fstatSync(stdin.fd);
    return st.isFIFO() || st.isFile() || st.isSocket();
  } catch {
    return false;
  }
}

export function canPrompt(stdin: InputStream): boolean {
  return stdin.isTTY === true && typeof stdin.setRawMode === 'function';
}

async function readAll(stdin: InputStream): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_STDIN_BYTES) throw new CliError('stdin holds more than an OpenRouter key (over 8 KiB)');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** Reads one line from the terminal with echo off. Ctrl-C cancels. */
export function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const input = io.stdin;
  io.stderr.write(prompt);
  input.setRawMode!(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode!(false);
      input.pause();
      io.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          if (!value.trim()) reject(new CliError('no key entered'));
          else resolve(value.trim());
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new CliError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}
