/**
 * Deploy-time settings, read from CDK context (`cdk.json`, `cdk.context.json` or `-c key=value`).
 *
 * Context from the command line arrives as strings and from `cdk.json` as JSON values, so every reader
 * accepts both. Invalid values fail the synth with a message naming the key; nothing is guessed.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';

/** The longest an API Gateway REST integration may stream a response (and the Lambda maximum): 15 minutes. */
export const STREAMING_MAX_SECONDS = 900;

export interface CustomDomainConfig {
  /** e.g. `mcp.example.com` */
  readonly domainName: string;
  /** ARN of an ACM certificate for `domainName`, in the stack's region (REGIONAL endpoint). */
  readonly certificateArn: string;
}

export interface McpStackConfig {
  readonly tableDeletionProtection: boolean;
  readonly userPoolDeletionProtection: boolean;
  readonly selfSignUp: boolean;
  readonly mfaRequired: boolean;
  /** Literal prefix, or undefined to derive `<stack name>-<account>`. */
  readonly cognitoDomainPrefix: string | undefined;
  /** Extra OAuth callback URLs for the app client, besides `<public base>/oauth/callback`. */
  readonly callbackUrls: string[];
  readonly lambdaMemoryMb: number;
  readonly lambdaTimeoutSeconds: number;
  readonly reservedConcurrency: number | undefined;
  readonly logRetention: RetentionDays;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly stageName: string;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly customDomain: CustomDomainConfig | undefined;
  /** Redirect URIs OAuth clients may register besides loopback and the known chat clients' callbacks. */
  readonly oauthRedirectUris: string[];
  /** ARN of a secret holding an OpenRouter management key; when set, users can get a key created for them. */
  readonly managementKeySecretArn: string | undefined;
  /** Credit limit (USD) of keys created with the management key. */
  readonly provisionedKeyLimitUsd: number | undefined;
  /** Whether a user may have another key created after theirs was removed, without `ormcp user reset-key`. */
  readonly allowReprovision: boolean;
  /** Per-user tool calls per minute, across all Lambda instances; 0 turns the rate limit off. */
  readonly rateLimitPerMinute: number;
  /** Per-user generations in flight, across all Lambda instances; 0 turns the concurrency limit off. */
  readonly maxConcurrentPerUser: number;
  /** Alarm notifications: this address is subscribed to a new SNS topic (it must confirm the subscription). */
  readonly alarmEmail: string | undefined;
  /** Alarm notifications: an existing SNS topic (e.g. one wired to chat or paging). */
  readonly alarmTopicArn: string | undefined;
}

/** Context keys this stack reads (the CLI also reads `stackName` and `lambdaEntry` in `infra/app.ts`). */
export const CONTEXT_KEYS = [
  'tableDeletionProtection',
  'userPoolDeletionProtection',
  'selfSignUp',
  'mfaRequired',
  'cognitoDomainPrefix',
  'callbackUrls',
  'oauthRedirectUris',
  'managementKeySecretArn',
  'provisionedKeyLimitUsd',
  'allowReprovision',
  'lambdaMemoryMb',
  'lambdaTimeoutSeconds',
  'reservedConcurrency',
  'logRetentionDays',
  'logLevel',
  'stageName',
  'throttleRateLimit',
  'throttleBurstLimit',
  'domainName',
  'certificateArn',
  'rateLimitPerMinute',
  'maxConcurrentPerUser',
  'alarmEmail',
  'alarmTopicArn',
] as const;

const RETENTION_VALUES = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'),
);

class ContextReader {
  constructor(private readonly node: Node) {}

  private raw(key: string): unknown {
    const v: unknown = this.node.tryGetContext(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' && v.trim() === '') return undefined;
    return v;
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new Error(`context "${key}" must be a string, got ${JSON.stringify(v)}`);
    return v.trim();
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
    throw new Error(`context "${key}" must be true or false, got ${JSON.stringify(v)}`);
  }

  int(key: string, fallback: number, min: number, max: number): number;
  int(key: string, fallback: undefined, min: number, max: number): number | undefined;
  int(key: string, fallback: number | undefined, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`context "${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return n;
  }

  list(key: string): string[] {
    const v = this.raw(key);
    if (v === undefined) return [];
    const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
    if (!items || !items.every((s) => typeof s === 'string')) {
      throw new Error(`context "${key}" must be a comma-separated string or a list of strings`);
    }
    return items.map((s: string) => s.trim()).filter(Boolean);
  }
}

function checkUrl(key: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`context "${key}": "${value}" is not a URL`);
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`context "${key}": "${value}" must use https (http only for localhost)`);
  }
  return value;
}

/** Reads and validates every setting; throws on the first invalid one. */
export function readConfig(node: Node): McpStackConfig {
  const c = new ContextReader(node);

  const tableDeletionProtection = c.bool('tableDeletionProtection', true);

  const logRetentionDays = c.int('logRetentionDays', 30, 1, 9999);
  if (!RETENTION_VALUES.has(logRetentionDays)) {
    throw new Error(
      `context "logRetentionDays" must be one of CloudWatch's values (${[...RETENTION_VALUES].join(', ')}), got ${logRetentionDays}`,
    );
  }

  const logLevel = c.string('logLevel') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new Error(`context "logLevel" must be debug, info, warn or error, got "${logLevel}"`);
  }

  const stageName = c.string('stageName') ?? 'prod';
  if (!/^[A-Za-z0-9_]{1,128}$/.test(stageName)) {
    throw new Error(`context "stageName" may hold only letters, digits and underscores, got "${stageName}"`);
  }

  const cognitoDomainPrefix = c.string('cognitoDomainPrefix');
  if (cognitoDomainPrefix !== undefined) checkDomainPrefix(cognitoDomainPrefix);

  const domainName = c.string('domainName');
  const certificateArn = c.string('certificateArn');
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error('context "domainName" and "certificateArn" go together: set both or neither');
  }
  if (domainName !== undefined && !/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(domainName)) {
    throw new Error(`context "domainName" must be a host name such as mcp.example.com, got "${domainName}"`);
  }
  if (certificateArn !== undefined && !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(certificateArn)) {
    throw new Error(`context "certificateArn" must be an ACM certificate ARN, got "${certificateArn}"`);
  }

  const managementKeySecretArn = c.string('managementKeySecretArn');
  if (managementKeySecretArn !== undefined && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/.test(managementKeySecretArn)) {
    throw new Error(`context "managementKeySecretArn" must be a Secrets Manager secret ARN, got "${managementKeySecretArn}"`);
  }
  const oauthRedirectUris = c.list('oauthRedirectUris').map((u) => {
    // Custom schemes (native apps) are allowed; web callbacks must be https.
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^\s#]+$/i.test(u) || /^http:/i.test(u)) throw new Error(`context "oauthRedirectUris": "${u}" must be an https or app-scheme URL without a fragment`);
    return u;
  });

  const alarmEmail = c.string('alarmEmail');
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) {
    throw new Error(`context "alarmEmail" must be an email address, got "${alarmEmail}"`);
  }
  const alarmTopicArn = c.string('alarmTopicArn');
  if (alarmTopicArn !== undefined && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(alarmTopicArn)) {
    throw new Error(`context "alarmTopicArn" must be an SNS topic ARN, got "${alarmTopicArn}"`);
  }

  return {
    tableDeletionProtection,
    userPoolDeletionProtection: c.bool('userPoolDeletionProtection', tableDeletionProtection),
    selfSignUp: c.bool('selfSignUp', false),
    mfaRequired: c.bool('mfaRequired', false),
    cognitoDomainPrefix,
    callbackUrls: c.list('callbackUrls').map((u) => checkUrl('callbackUrls', u)),
    lambdaMemoryMb: c.int('lambdaMemoryMb', 1024, 128, 10240),
    lambdaTimeoutSeconds: c.int('lambdaTimeoutSeconds', STREAMING_MAX_SECONDS, 1, STREAMING_MAX_SECONDS),
    reservedConcurrency: c.int('reservedConcurrency', undefined, 1, 100_000),
    logRetention: logRetentionDays as RetentionDays,
    logLevel: logLevel as McpStackConfig['logLevel'],
    stageName,
    throttleRateLimit: c.int('throttleRateLimit', 50, 1, 1_000_000),
    throttleBurstLimit: c.int('throttleBurstLimit', 100, 1, 1_000_000),
    customDomain: domainName && certificateArn ? { domainName: domainName.toLowerCase(), certificateArn } : undefined,
    oauthRedirectUris,
    managementKeySecretArn,
    provisionedKeyLimitUsd: c.int('provisionedKeyLimitUsd', undefined, 0, 1_000_000),
    allowReprovision: c.bool('allowReprovision', false),
    // Same defaults and bounds as the app's ORMCP_RATE_LIMIT_PER_MINUTE / ORMCP_MAX_CONCURRENT_PER_USER.
    rateLimitPerMinute: c.int('rateLimitPerMinute', 60, 0, 100_000),
    maxConcurrentPerUser: c.int('maxConcurrentPerUser', 4, 0, 1_000),
    alarmEmail,
    alarmTopicArn,
  };
}

/** Cognito prefix domains: lowercase letters, digits and hyphens, no reserved words. */
export function checkDomainPrefix(prefix: string): string {
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(prefix)) {
    throw new Error(
      `Cognito domain prefix "${prefix}" must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen`,
    );
  }
  if (/aws|amazon|cognito/.test(prefix)) {
    throw new Error(`Cognito domain prefix "${prefix}" must not contain "aws", "amazon" or "cognito"`);
  }
  return prefix;
}
