/**
 * Where a cold start's CPU time goes: runs the cold-start child of bench/coldstart.ts under `--cpu-prof`
 * (BENCH_PROFILE_RUNS times, default 3), maps every sample in the minified bundle back through its source map to
 * the original file, and prints self time by package, the top functions, and inclusive time per project file.
 * Not part of `npm run bench`. BENCH_PROFILE_KEEP=1 keeps the .cpuprofile files (open them in Chrome DevTools).
 *
 *   tsx bench/profile-coldstart.ts [ours|hello] [--no-source-maps]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHILD, prepareColdStart, runChild } from './coldstart.js';
import { fmt, median, table } from './lib/stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const target = process.argv.includes('hello') ? 'hello' : 'ours';
const sourceMaps = !process.argv.includes('--no-source-maps');
const runs = Number(process.env.BENCH_PROFILE_RUNS ?? 3);

const setup = await prepareColdStart();
const dir = mkdtempSync(join(tmpdir(), 'ormcp-bench-prof-'));
try {
  const bundle = target === 'ours' ? setup.ours : setup.hello;
  const env = {
    ...setup.lambdaEnv,
    NODE_OPTIONS: sourceMaps ? '--enable-source-maps' : '',
    BENCH_BUNDLE: bundle.file,
    BENCH_EXPECT_TOOL: target === 'ours' ? 'send_chat_completion_request' : 'hello',
  };
  await runChild([CHILD], env); // warm the file cache
  const walls: number[] = [];
  for (let i = 0; i < runs; i++) {
    walls.push((await runChild(['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100', CHILD], env)).wall);
  }

  const map = new SourceMap(JSON.parse(readFileSync(`${bundle.file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  const bundleUrl = pathToFileURL(bundle.file).href;
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  /** Inclusive time per project file: a sample counts for every lambda/ or bench/ file on its stack. */
  const underFile = new Map<string, number>();
  /** Inclusive time per package: a sample counts once for every package on its stack (who caused the work). */
  const underPackage = new Map<string, number>();
  let total = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const where = new Map<number, { pkg: string; fn: string }>();
    for (const n of profile.nodes) {
      const { url, functionName, lineNumber, columnNumber } = n.callFrame;
      let pkg: string;
      let fn = functionName || '(anonymous)';
      if (url === bundleUrl) {
        const entry = map.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number };
        const source = entry.originalSource ?? '?';
        const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(source);
        pkg = m ? m[1]! : source.replace(/^.*\/(lambda|bench)\//, '$1/');
        fn = entry.originalSource ? `${m ? m[2] : pkg}:${(entry.originalLine ?? 0) + 1}` : `${functionName || '(anonymous)'} at index.mjs:${lineNumber + 1}:${columnNumber + 1}`;
      } else if (url.startsWith('node:')) {
        pkg = 'node internals';
        fn = `${functionName || '(anonymous)'} ${url}`;
      } else if (url) {
        pkg = url.endsWith('cold-child.mjs') ? 'bench child' : url;
      } else {
        pkg = functionName.startsWith('(') ? functionName : 'V8/native builtins';
      }
      where.set(n.id, { pkg, fn: `${fn}` });
    }
    profile.samples.forEach((id, i) => {
      const dt = (profile.timeDeltas[i] ?? 0) / 1000;
      const w = where.get(id) ?? { pkg: '?', fn: String(nodes.get(id)?.callFrame.functionName) };
      total += dt;
      add(byPackage, w.pkg, dt);
      add(byFunction, `${w.pkg} — ${w.fn}`, dt);
      const files = new Set<string>();
      const packages = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const pkg = where.get(at)?.pkg ?? '';
        if (/^(lambda|bench)\//.test(pkg)) files.add(pkg);
        else if (pkg && pkg !== 'bench child' && !pkg.startsWith('(')) packages.add(pkg);
      }
      for (const f of files) add(underFile, f, dt);
      for (const p of packages) add(underPackage, p, dt);
    });
  }

  const n = runs;
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, ms]) => [name.length > 110 ? `${name.slice(0, 107)}...` : name, fmt(ms / n, 1), `${fmt((100 * ms) / total, 1)} %`]);
  process.stdout.write(`cold start of ${target}${sourceMaps ? ' with --enable-source-maps' : ''}: ${runs} profiled runs, median wall ${fmt(median(walls), 0)} ms (profiling adds overhead)\n\n`);
  process.stdout.write(`${table(['self time by package (ms per run)', 'ms', 'share'], top(byPackage, 14))}\n\n`);
  process.stdout.write(`${table(['top functions by self time (ms per run)', 'ms', 'share'], top(byFunction, 25))}\n\n`);
  process.stdout.write(`${table(['packages by inclusive time (ms per run)', 'ms', 'share'], top(underPackage, 14))}\n\n`);
  process.stdout.write(`${table(['project files by inclusive time (ms per run)', 'ms', 'share'], top(underFile, 15))}\n`);
} finally {
  if (process.env.BENCH_PROFILE_KEEP) process.stdout.write(`profiles kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  await setup.close();
}
