/**
 * When `npm start` cannot start it says why in one line the operator can act on (which setting or file), then
 * exits 1 — instead of a bare driver message such as "Requested resource not found".
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretFormatError } from '../../lambda/crypto/keyring.js';
import { startupFailureLine, startupSettings } from '../../lambda/local/startup-failure.js';
import { TableNotReadyError } from '../../lambda/store/dynamo.js';
import { npmStartNodeArgs } from '../support/harness.js';
import { childEnv } from './support.js';

const settings = { port: '8787', dataDir: '/srv/ormcp-data' };
const failureLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('Could not start the server:'));

function npmStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, npmStartNodeArgs(), { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`npm start neither failed nor exited: ${stderr}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stderr });
    });
  });
}

describe('npm start that cannot start', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'ormcp-start-failure-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  test('a port in use: one line naming the port and PORT, exit 1', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = String((blocker.address() as { port: number }).port);
    try {
      const { code, stderr } = await npmStart({ PORT: port, ORMCP_DATA_DIR: dataDir });
      expect(code).toBe(1);
      expect(failureLines(stderr)).toEqual([`Could not start the server: port ${port} is already in use; stop what is using it or set PORT to a free port.`]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  test('a damaged server secret: one line naming the file, and never its content', async () => {
    const content = 'not-json-but-a-secret-looking-value-0123456789';
    writeFileSync(join(dataDir, 'server-secret.json'), content, { mode: 0o600 });
    const { code, stderr } = await npmStart({ PORT: '0', ORMCP_DATA_DIR: dataDir });
    expect(code).toBe(1);
    const lines = failureLines(stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${dataDir}/server-secret.json is invalid`);
    expect(stderr).not.toContain(content);
  });
});

describe('startupFailureLine', () => {
  const errno = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${code}: something`), { code, ...extra });

  test.each([
    ['a busy port', errno('EADDRINUSE'), /port 8787 is already in use.*set PORT/],
    ['a privileged port', errno('EACCES'), /not allowed to listen on port 8787; set PORT/],
    ['an unwritable data dir', errno('EACCES', { path: '/srv/ormcp-data/server-secret.json' }), /cannot write the data dir \/srv\/ormcp-data .*ORMCP_DATA_DIR/],
    ['a bad secret', new SecretFormatError('the server secret needs a "current" version name'), /\/srv\/ormcp-data\/server-secret\.json is invalid: the server secret needs/],
    ['a table that never became ready', new TableNotReadyError('the table "ormcp" did not become ACTIVE after 500 checks'), /did not become ACTIVE.*\/srv\/ormcp-data\/dynamodb; start again/],
    ['a locked LevelDB', new Error('IO error: lock /srv/ormcp-data/dynamodb/LOCK: Resource temporarily unavailable'), /data dir \/srv\/ormcp-data is in use by another process/],
    ['anything else', new Error('Requested resource\nnot found'), /^Could not start the server: Requested resource not found \(data dir \/srv\/ormcp-data, port 8787\)\.$/],
    ['a thrown string', 'boom', /^Could not start the server: boom \(/],
  ])('%s', (_label, err, expected) => {
    const line = startupFailureLine(err, settings);
    expect(line).toMatch(/^Could not start the server: /);
    expect(line).not.toContain('\n');
    expect(line).toMatch(expected);
  });

  test('reads PORT and ORMCP_DATA_DIR with the same defaults as npm start', () => {
    expect(startupSettings({})).toEqual({ port: '8787', dataDir: '.ormcp' });
    expect(startupSettings({ PORT: '9000', ORMCP_DATA_DIR: '/d' })).toEqual({ port: '9000', dataDir: '/d' });
  });
});
