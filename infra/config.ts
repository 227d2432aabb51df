/**
 * Deploy-time settings, read from CDK context (`cdk.json`, `cdk.context.json` or `-c key=value`).
 *
 * Context from the command line arrives as strings and from `cdk.json` as JSON values, so every reader
 * accepts both. Invalid values fail the synth with a message naming the key; nothing is guessed.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import * as z from 'zod';
import { GLOB_PATTERN, INTEGER_SETTINGS, LOG_LEVELS, PROVISIONED_KEY_LIMIT_USD, type IntegerSetting } from '../lambda/app/env-contract.js';

/** The longest an API Gateway REST integration may stream a response (and the Lambda maximum): 15 minutes. */
export const STREAMING_MAX_SECONDS = 900;

export interface CustomDomainConfig {
  /** e.g. `mcp.example.com` */
  readonly domainName: string;
  /** ARN of an ACM certificate for `domainName`, in the stack's region (REGIONAL endpoint). */
  readonly certificateArn: string;
}

/** Names Cognito keeps for its own or social providers; a SAML/OIDC provider may not take them. */
const RESERVED_PROVIDER_NAMES = ['cognito', 'google', 'facebook', 'loginwithamazon', 'signinwithapple'];

const providerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,30}[A-Za-z0-9]$/, 'must be 3-32 letters, digits, dots, hyphens or underscores')
  .refine((n) => !RESERVED_PROVIDER_NAMES.includes(n.toLowerCase()), `must not be one of Cognito's reserved names (${RESERVED_PROVIDER_NAMES.join(', ')})`);
const https = z.url({ protocol: /^https$/, error: 'must be an https URL' });
const attributeName = z.string().min(1).max(256);

/** What every federated provider may say about attribute mapping and IdP discovery. */
const providerCommon = {
  name: providerName,
  /** Email domains that go straight to this provider on managed login (Cognito "identifiers"). */
  domains: z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be an email domain such as example.com')).max(50).optional(),
  /** The IdP's claim/attribute holding the email address. @default `email` (OIDC), the WS-Fed emailaddress URI (SAML) */
  emailAttribute: attributeName.optional(),
  /** The IdP's claim/attribute holding the display name. @default `name` (OIDC), the WS-Fed name URI (SAML) */
  nameAttribute: attributeName.optional(),
  /** The IdP's claim/attribute listing the user's groups; mapped to the user pool's `custom:groups`. */
  groupsAttribute: attributeName.optional(),
};

const SamlProvider = z
  .strictObject({
    type: z.literal('saml'),
    ...providerCommon,
    metadataUrl: https.optional(),
    /** Path of the IdP's metadata XML, relative to the project root. */
    metadataFile: z.string().min(1).optional(),
    /** Also sign the user out at the IdP when they sign out. @default false */
    idpSignout: z.boolean().optional(),
  })
  .refine((p) => (p.metadataUrl === undefined) !== (p.metadataFile === undefined), 'give exactly one of metadataUrl and metadataFile');

const OidcProvider = z.strictObject({
  type: z.literal('oidc'),
  ...providerCommon,
  issuer: https,
  clientId: z.string().min(1).max(256),
  /** ARN or name of the Secrets Manager secret holding the client secret (never the secret itself). */
  clientSecret: z
    .string()
    .regex(/^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}$/, 'must be the ARN or name of a Secrets Manager secret'),
  /** When the secret is JSON: the field holding the client secret. */
  clientSecretField: z.string().min(1).max(128).optional(),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).min(1).max(20).optional(),
});

export const IdentityProviderConfig = z.discriminatedUnion('type', [SamlProvider, OidcProvider]);
export type IdentityProviderConfig = z.infer<typeof IdentityProviderConfig>;
const IdentityProviders = z
  .array(IdentityProviderConfig)
  .max(10)
  .refine((list) => new Set(list.map((p) => p.name.toLowerCase())).size === list.length, 'provider names must be unique');

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
  /** A WAFv2 web ACL on the stage (AWS common rules + a per-IP rate rule). */
  readonly waf: boolean;
  /** Requests per client IP per 5 minutes before the WAF answers 429. */
  readonly wafRateLimit: number;
  /** SAML/OIDC providers federated into the user pool (company sign-in). */
  readonly identityProviders: IdentityProviderConfig[];
  /** Cognito's own email + password sign-in (and sign-up) on managed login. */
  readonly cognitoPasswordSignIn: boolean;
  /** The Cognito group (and IdP group name) whose members are operators. */
  readonly adminGroup: string;
  /**
   * Team control (budgets, operator policy, ledger retention) as the function's environment: validated here with
   * the app's own rules, so a bad value fails `cdk synth` instead of the first request. Unset keys are left out.
   */
  readonly teamControlEnv: Record<string, string>;
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
  'waf',
  'wafRateLimit',
  'identityProviders',
  'cognitoPasswordSignIn',
  'adminGroup',
  'budgetDailyUsd',
  'budgetWeeklyUsd',
  'budgetMonthlyUsd',
  'allowedModels',
  'deniedModels',
  'requireZdr',
  'dataCollection',
  'maxPricePerMInUsd',
  'maxPricePerMOutUsd',
  'allowedPlugins',
  'ledgerRetentionDays',
] as const;

/** Reserved concurrency unless context says otherwise: caps what one flood can cost (0 or "none" turns it off). */
export const DEFAULT_RESERVED_CONCURRENCY = 50;
/** Requests per IP per 5 minutes: a busy user behind a shared office NAT stays well below it. */
export const DEFAULT_WAF_RATE_LIMIT = 2_000;

const RETENTION_VALUES = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'),
);

class ContextReader {
  constructor(private readonly node: Node) {}

  raw(key: string): unknown {
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

  /** An integer the stack passes to the runtime, with the runtime's default and bounds (lambda/app/env-contract.ts). */
  setting(key: string, s: IntegerSetting): number {
    return this.int(key, s.default, s.min, s.max);
  }

  /** A JSON value: as JSON in cdk.json, or a JSON string from `-c key='[...]'`. */
  json(key: string): unknown {
    const v = this.raw(key);
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      throw new Error(`context "${key}" must be JSON, got ${JSON.stringify(v.slice(0, 80))}`);
    }
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
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new Error(`context "logLevel" must be ${LOG_LEVELS.slice(0, -1).join(', ')} or ${LOG_LEVELS.at(-1)}, got "${logLevel}"`);
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

  const identityProviders = readIdentityProviders(c.json('identityProviders'));
  const cognitoPasswordSignIn = c.bool('cognitoPasswordSignIn', true);
  const selfSignUp = c.bool('selfSignUp', false);
  if (!cognitoPasswordSignIn && identityProviders.length === 0) {
    throw new Error('context "cognitoPasswordSignIn": false needs at least one entry in "identityProviders" (or nobody could sign in)');
  }
  if (!cognitoPasswordSignIn && selfSignUp) {
    throw new Error('context "selfSignUp": true needs "cognitoPasswordSignIn" (self sign-up creates a Cognito password); with company sign-in, users arrive through their identity provider');
  }
  const adminGroup = c.string('adminGroup') ?? 'ormcp-admins';
  if (!/^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u.test(adminGroup)) {
    throw new Error(`context "adminGroup" must be 1-128 visible characters without spaces, got "${adminGroup}"`);
  }

  return {
    tableDeletionProtection,
    userPoolDeletionProtection: c.bool('userPoolDeletionProtection', tableDeletionProtection),
    selfSignUp,
    mfaRequired: c.bool('mfaRequired', false),
    cognitoDomainPrefix,
    callbackUrls: c.list('callbackUrls').map((u) => checkUrl('callbackUrls', u)),
    lambdaMemoryMb: c.int('lambdaMemoryMb', 1024, 128, 10240),
    lambdaTimeoutSeconds: c.int('lambdaTimeoutSeconds', STREAMING_MAX_SECONDS, 1, STREAMING_MAX_SECONDS),
    reservedConcurrency: readReservedConcurrency(c),
    logRetention: logRetentionDays as RetentionDays,
    logLevel: logLevel as McpStackConfig['logLevel'],
    stageName,
    throttleRateLimit: c.int('throttleRateLimit', 50, 1, 1_000_000),
    throttleBurstLimit: c.int('throttleBurstLimit', 100, 1, 1_000_000),
    customDomain: domainName && certificateArn ? { domainName: domainName.toLowerCase(), certificateArn } : undefined,
    oauthRedirectUris,
    managementKeySecretArn,
    provisionedKeyLimitUsd: c.int('provisionedKeyLimitUsd', undefined, PROVISIONED_KEY_LIMIT_USD.min, PROVISIONED_KEY_LIMIT_USD.max),
    allowReprovision: c.bool('allowReprovision', false),
    // The app's own defaults and bounds for ORMCP_RATE_LIMIT_PER_MINUTE / ORMCP_MAX_CONCURRENT_PER_USER.
    rateLimitPerMinute: c.setting('rateLimitPerMinute', INTEGER_SETTINGS.ORMCP_RATE_LIMIT_PER_MINUTE),
    maxConcurrentPerUser: c.setting('maxConcurrentPerUser', INTEGER_SETTINGS.ORMCP_MAX_CONCURRENT_PER_USER),
    alarmEmail,
    alarmTopicArn,
    waf: c.bool('waf', true),
    // WAF's own bounds for a rate-based rule.
    wafRateLimit: c.int('wafRateLimit', DEFAULT_WAF_RATE_LIMIT, 10, 2_000_000_000),
    identityProviders,
    cognitoPasswordSignIn,
    adminGroup,
    teamControlEnv: readTeamControl(c),
  };
}

/** A USD amount as the app parses it (ORMCP_BUDGET_*_USD, ORMCP_MAX_PRICE_PER_M_*): a plain decimal. */
const USD = /^\d{1,7}(\.\d{1,9})?$/;

function readTeamControl(c: ContextReader): Record<string, string> {
  const env: Record<string, string> = {};
  const usd = (key: string, name: string) => {
    const v = c.raw(key);
    if (v === undefined) return;
    const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
    if (!USD.test(s)) throw new Error(`context "${key}" must be a plain decimal number of USD such as 2.50, got ${JSON.stringify(v)}`);
    env[name] = s;
  };
  usd('budgetDailyUsd', 'ORMCP_BUDGET_DAILY_USD');
  usd('budgetWeeklyUsd', 'ORMCP_BUDGET_WEEKLY_USD');
  usd('budgetMonthlyUsd', 'ORMCP_BUDGET_MONTHLY_USD');
  usd('maxPricePerMInUsd', 'ORMCP_MAX_PRICE_PER_M_IN');
  usd('maxPricePerMOutUsd', 'ORMCP_MAX_PRICE_PER_M_OUT');
  for (const [key, name] of [['allowedModels', 'ORMCP_ALLOWED_MODELS'], ['deniedModels', 'ORMCP_DENIED_MODELS']] as const) {
    const globs = c.list(key);
    const bad = globs.find((g) => !GLOB_PATTERN.test(g));
    if (bad !== undefined) throw new Error(`context "${key}": "${bad}" is not a model glob (model-id characters and *, e.g. openai/*)`);
    if (globs.length > 200) throw new Error(`context "${key}" may list at most 200 globs`);
    if (globs.length > 0) env[name] = globs.join(',');
  }
  if (c.bool('requireZdr', false)) env.ORMCP_REQUIRE_ZDR = 'true';
  const dataCollection = c.string('dataCollection');
  if (dataCollection !== undefined) {
    if (dataCollection !== 'allow' && dataCollection !== 'deny') throw new Error(`context "dataCollection" must be allow or deny, got "${dataCollection}"`);
    if (dataCollection === 'deny') env.ORMCP_DATA_COLLECTION = 'deny';
  }
  // Unset: every plugin; "none": none; else a list of plugin ids.
  if (c.raw('allowedPlugins') !== undefined) {
    const plugins = c.list('allowedPlugins');
    const none = plugins.length === 1 && plugins[0] === 'none';
    const bad = none ? undefined : plugins.find((p) => !/^[a-z0-9_-]{1,64}$/.test(p));
    if (bad !== undefined) throw new Error(`context "allowedPlugins": "${bad}" is not a plugin id (such as web or file-parser), or use "none"`);
    env.ORMCP_ALLOWED_PLUGINS = none || plugins.length === 0 ? 'none' : plugins.join(',');
  }
  env.ORMCP_LEDGER_DAYS = String(c.int('ledgerRetentionDays', 90, 1, 3650));
  return env;
}

function readReservedConcurrency(c: ContextReader): number | undefined {
  const v = c.raw('reservedConcurrency');
  if (typeof v === 'string' && /^none$/i.test(v.trim())) return undefined;
  const n = c.int('reservedConcurrency', DEFAULT_RESERVED_CONCURRENCY, 0, 100_000);
  return n === 0 ? undefined : n;
}

function readIdentityProviders(value: unknown): IdentityProviderConfig[] {
  if (value === undefined) return [];
  const parsed = IdentityProviders.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `[${issue.path.join('.')}]` : '';
    throw new Error(`context "identityProviders"${where}: ${issue.message}`);
  }
  return parsed.data;
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
