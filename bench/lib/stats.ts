/**
 * Small statistics and printing helpers shared by the benchmarks. Every benchmark prints one table and a
 * one-line summary, and returns its headline figures (each against a goal) for the final summary of `bench/run.ts`.
 */

export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Nearest-rank percentile (p in 0..100) of the values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = sorted(values);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const s = sorted(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export const min = (values: readonly number[]): number => Math.min(...values);
export const max = (values: readonly number[]): number => Math.max(...values);

export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const fmtInt = (value: number): string => Math.round(value).toLocaleString('en-US');
export const fmtMb = (bytes: number): string => `${fmt(bytes / 1024 / 1024, 1)} MB`;

/** A plain-text table with right-aligned numeric columns (columns after the first). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface Figure {
  /** What was measured, e.g. "added latency, in-process, median". */
  label: string;
  /** The printed value with its unit, e.g. "0.84 ms". */
  value: string;
  /** The goal as printed, e.g. "≤ 2 ms"; absent for context figures. */
  goal?: string;
  met?: boolean;
}

export interface BenchResult {
  name: string;
  figures: Figure[];
  /** Extra lines for the final summary (notes, caveats). */
  notes?: string[];
}

export function verdict(f: Figure): string {
  if (f.met === undefined) return '';
  return f.met ? 'met' : 'MISSED';
}

export function printHeader(title: string, detail: string): void {
  process.stdout.write(`\n=== ${title} ===\n${detail}\n\n`);
}

export function printSummaryLine(text: string): void {
  process.stdout.write(`\n${text}\n`);
}

export function summaryTable(results: BenchResult[]): string {
  const rows: string[][] = [];
  for (const r of results) for (const f of r.figures) rows.push([`${r.name}: ${f.label}`, f.value, f.goal ?? '', verdict(f)]);
  return table(['figure', 'value', 'goal', 'result'], rows);
}

/** Runs `main` when the file is the process entry (`tsx bench/<name>.ts`), not when imported by bench/run.ts. */
export function isEntry(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  const path = new URL(moduleUrl).pathname;
  return path === entry || path.replace(/\.ts$/, '') === entry.replace(/\.ts$/, '');
}

export async function runStandalone(run: () => Promise<BenchResult>): Promise<void> {
  try {
    const result = await run();
    process.stdout.write(`\n${summaryTable([result])}\n`);
    // A missed goal is a finding, not a failure: the exit code says only whether the benchmark ran.
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
}

/** The k-th of all orderings of the items, so interleaved runs rotate which variant goes first. */
export function rotation<T>(items: readonly T[], k: number): T[] {
  const all = permutations(items);
  return all[k % all.length]!;
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}
