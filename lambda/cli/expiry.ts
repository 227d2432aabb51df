/** `--expires`: a lifetime of N days, hours or minutes from now, or `never` (the default). */
import { UsageError } from './errors.js';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;
/** Ten years: a longer lifetime is a typo, or should be `never`. */
const MAX_MS = 3650 * UNIT_MS.d;

/** undefined = never expires. Throws a UsageError for anything else than Nd, Nh, Nm or never. */
export function parseExpiry(value: string | undefined, now: Date, command = 'token issue'): Date | undefined {
  if (value === undefined || value === 'never') return undefined;
  const m = /^([1-9][0-9]{0,6})([dhm])$/.exec(value.trim());
  if (!m) throw new UsageError('--expires takes a lifetime such as 30d, 12h or 90m, or "never"', command);
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms > MAX_MS) throw new UsageError('--expires is at most 3650d (ten years); use "never" for no expiry', command);
  return new Date(now.getTime() + ms);
}
