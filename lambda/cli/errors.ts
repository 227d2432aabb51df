/**
 * The CLI's two failure kinds and the one place that turns any error into a one-line message:
 * usage errors exit 2 (with a usage hint), everything else exits 1. Messages never carry a stack trace,
 * and anything shaped like a key or token (plus the exact secrets this run handled) is redacted.
 */
import { SecretFormatError } from '../crypto/keyring.js';
import { scrub } from '../observability/scrub.js';
import { StoreError } from '../store/account-store.js';

/** Bad command line: unknown command or option, missing or malformed argument. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose usage to show (e.g. "token issue"); empty for the top level. */
  constructor(
    message: string,
    readonly command: string = '',
  ) {
    super(message);
  }
}

/** An operational failure with a message fit for the operator (not found, no key, AWS trouble). Exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

const MAX_MESSAGE = 400;

/** One line for `ormcp: …` on stderr. */
export function describeError(err: unknown, secrets: Iterable<string> = []): string {
  return redact(rawMessage(err), secrets);
}

function rawMessage(err: unknown): string {
  if (err instanceof CliError || err instanceof UsageError || err instanceof StoreError) return err.message;
  if (err instanceof SecretFormatError) return `the server secret is unusable: ${err.message}`;
  const e = err as { name?: string; message?: string; $metadata?: unknown; code?: string } | null;
  const known = knownAwsProblem(err);
  if (known) return known;
  if (/Database is closed|IO error: lock/i.test(e?.message ?? '')) {
    return 'the local database could not be opened: its data dir is in use by another process (another ormcp run, or a server that does not share it); try again when it has finished';
  }
  if (e?.code === 'ECONNREFUSED') return `could not connect: ${e.message ?? ''}`;
  if (e && typeof e === 'object' && '$metadata' in e) return `AWS error ${awsMessage(err)}`;
  return `unexpected error (${e?.name ?? 'Error'}): ${e?.message ?? String(err)}`;
}

/** An AWS SDK error as "Name: message", with the missing-credentials and missing-region cases made actionable. */
export function awsMessage(err: unknown): string {
  const e = err as { name?: string; message?: string } | null;
  return knownAwsProblem(err) ?? `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
}

function knownAwsProblem(err: unknown): string | undefined {
  const e = err as { name?: string; message?: string } | null;
  const message = e?.message ?? '';
  if (e?.name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return 'no AWS credentials found: configure them (aws configure / aws sso login, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)';
  }
  if (/Region is missing/i.test(message)) return 'no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)';
  return undefined;
}

export function redact(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 6) out = out.split(s).join('[redacted]');
  out = scrub(out, Infinity).replace(/\s*\n\s*/g, ' ').trim();
  return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE)}…` : out;
}
