/**
 * The one Lambda function: the MCP server, OAuth façade and web pages behind API Gateway (response streaming).
 *
 * Bundling (esbuild, local — never Docker): one minified ESM file for Node 22 on arm64, with a source map (for
 * reading stack traces offline) and a banner that gives ESM code a `require` for the CommonJS dependencies that
 * call it. `--enable-source-maps` is deliberately NOT set: Node parses the whole map on the first stack read, which
 * every cold start triggers inside web streams, costing ~100 ms (npm run bench); our logs record error names only.
 *
 * AWS: no SDK in the bundle. The Lambda reaches DynamoDB and Secrets Manager over their JSON protocol, signed with
 * `aws4` (lambda/http/aws-json-rpc.ts), and the bundling step resolves `@aws-sdk/lib-dynamodb` to plain command
 * look-alikes (LAMBDA_ALIASES), so the stores run unchanged: the SDK was ~350 KB of the bundle and ~55 ms of every
 * cold start (README, Performance). The tools' JSON Schemas are computed here and injected as a `define`
 * (lambda/mcp/precomputed-schemas.ts). `bundleAwsSDK` stays on: any SDK module that does reach the bundle is pinned
 * to the versions the tests ran against, not whatever the runtime ships that week.
 */
import * as path from 'node:path';
import { Stack, Validations, type CfnElement, type Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambda/app/env-contract.js';
import { aliasArgsFor, MCP_FUNCTION_BUNDLING, toolSchemasDefine } from './mcp-function-bundling.js';

export { ESM_REQUIRE_BANNER } from './mcp-function-bundling.js';

/**
 * The DynamoDB actions the app uses. Transactions are authorized per item by these same actions; the app never
 * sends a ConditionCheck (in a transaction or alone), so dynamodb:ConditionCheckItem is not granted.
 */
export const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
] as const;

export interface McpFunctionProps {
  /** Absolute path of the handler module (exports `handler`). */
  readonly entry: string;
  /** Repository root: holds package-lock.json and tsconfig.json. */
  readonly projectRoot: string;
  readonly table: dynamodb.ITable;
  /** Index names the function may Query (each granted by exact ARN, no wildcard). */
  readonly indexNames: string[];
  readonly secret: secretsmanager.ISecret;
  readonly memoryMb: number;
  readonly timeout: Duration;
  readonly reservedConcurrency?: number;
  readonly logRetention: logs.RetentionDays;
  readonly logLevel: string;
  /** Per-user limits (0 turns one off), enforced through the table across all instances. */
  readonly limits: { readonly ratePerMinute: number; readonly maxConcurrentPerUser: number };
  /** The `Service` dimension of the function's EMF metrics (the alarms read the same value). */
  readonly metricsService: string;
  /** Team-control variables (ORMCP_BUDGET_*, ORMCP_ALLOWED_MODELS, …, ORMCP_LEDGER_DAYS); none: no caps, open policy. */
  readonly teamControlEnv?: Record<string, string>;
  /** Hours a stored conversation is kept after its last use; 0 stores none. */
  readonly conversationTtlHours: number;
}

/** Values known only once the API and the user pool exist. */
export interface McpFunctionEndpoints {
  /** Public base URL, no trailing slash. */
  readonly publicUrl: string;
  /** The user pool's OIDC issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`). */
  readonly oidcIssuer: string;
  readonly userPoolClientId: string;
  /** Full https URL of the Cognito managed-login domain. */
  readonly cognitoDomainUrl: string;
}

export class McpFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: McpFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention });

    // An explicit role instead of AWSLambdaBasicExecutionRole: logs may go only to this function's log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'OpenRouter MCP function: its table, its secret, its log group; nothing else',
    });
    this.logGroup.grantWrite(this.role);

    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'Table',
        actions: [...TABLE_ACTIONS],
        resources: [
          props.table.tableArn,
          ...props.indexNames.map((name) => `${props.table.tableArn}/index/${name}`),
        ],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ServerSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.secret.secretArn],
      }),
    );

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'OpenRouter MCP server (MCP, OAuth façade, web pages)',
      entry: props.entry,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMb,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      reservedConcurrentExecutions: props.reservedConcurrency,
      projectRoot: props.projectRoot,
      depsLockFilePath: path.join(props.projectRoot, 'package-lock.json'),
      environment: {
        [ENV.ORMCP_TABLE_NAME]: props.table.tableName,
        [ENV.ORMCP_SECRET_ARN]: props.secret.secretArn,
        [ENV.ORMCP_LOG_LEVEL]: props.logLevel,
        [ENV.ORMCP_RATE_LIMIT_PER_MINUTE]: String(props.limits.ratePerMinute),
        [ENV.ORMCP_MAX_CONCURRENT_PER_USER]: String(props.limits.maxConcurrentPerUser),
        // Metrics as EMF lines in the function's own log group: no PutMetricData permission needed.
        [ENV.ORMCP_METRICS]: 'emf',
        [ENV.ORMCP_METRICS_SERVICE]: props.metricsService,
        // Budgets, operator policy, ledger retention (infra/config.ts readTeamControl).
        ...props.teamControlEnv,
        [ENV.ORMCP_CONVERSATION_TTL_HOURS]: String(props.conversationTtlHours),
      },
      bundling: {
        ...MCP_FUNCTION_BUNDLING,
        format: MCP_FUNCTION_BUNDLING.format as nodejs.OutputFormat,
        mainFields: [...MCP_FUNCTION_BUNDLING.mainFields],
        forceDockerBundling: false,
        esbuildArgs: aliasArgsFor(props.projectRoot),
        define: toolSchemasDefine(),
        tsconfig: path.join(props.projectRoot, 'tsconfig.json'),
      },
    });

    Validations.of(this.function.node.defaultChild!).acknowledge({
      id: 'AwsSolutions-L1',
        reason:
          'Node.js 22 is pinned on purpose: the bundle targets node22 and the test suite runs on Node 20/22; ' +
          'moving to a newer runtime is a tested change, not an automatic one.',
    });
  }

  /**
   * Lets the function keep generated images in `bucket`: write and read objects under its prefix, nothing else (no
   * listing, no deleting: the bucket's lifecycle rule removes them). The region comes from the runtime's AWS_REGION.
   */
  useImagesBucket(bucket: s3.IBucket, prefix: string): void {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'Images', actions: ['s3:PutObject', 's3:GetObject'], resources: [bucket.arnForObjects(`${prefix}*`)] }),
    );
    this.function.addEnvironment(ENV.ORMCP_IMAGES_BUCKET, bucket.bucketName);
    const bucketId = Stack.of(this).getLogicalId(bucket.node.defaultChild as CfnElement);
    Validations.of(this.role.node.findChild('DefaultPolicy').node.defaultChild!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
      reason:
        'Object keys are random per image, so the grant is every object under the images prefix of this one bucket; ' +
        'the actions are only PutObject and GetObject (no list, no delete), and the bucket itself is private.',
    });
  }

  /** Adds the environment that depends on the API and the user pool (created after this function). */
  connect(endpoints: McpFunctionEndpoints): void {
    this.function.addEnvironment(ENV.ORMCP_PUBLIC_URL, endpoints.publicUrl);
    this.function.addEnvironment(ENV.ORMCP_OIDC_ISSUER, endpoints.oidcIssuer);
    this.function.addEnvironment(ENV.ORMCP_OIDC_CLIENT_ID, endpoints.userPoolClientId);
    // Cognito ends its own session at /logout (it has no OIDC end_session_endpoint).
    this.function.addEnvironment(ENV.ORMCP_OIDC_LOGOUT_URL, `${endpoints.cognitoDomainUrl}/logout`);
  }

  /**
   * Who is an operator: members of the Cognito group `group` (ID-token claim `cognito:groups`, set only by an
   * administrator) and, when an IdP maps its groups, federated users whose `claim` lists the group. The server must
   * honour `claim` only for federated users (ID token with an `identities` claim): a password user could write
   * their own custom attribute through Cognito's user API.
   */
  useAdminGroup(group: string, claim: string | undefined): void {
    this.function.addEnvironment(ENV.ORMCP_ADMIN_GROUP, group);
    if (claim) this.function.addEnvironment(ENV.ORMCP_ADMIN_CLAIM, claim);
  }

  /** Lets the function read the operator's OpenRouter management key (to create a key per user). */
  useManagementKey(secretArn: string, limitUsd: number | undefined, allowReprovision = false): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'OpenRouterManagementKey', actions: ['secretsmanager:GetSecretValue'], resources: [secretArn] }));
    this.function.addEnvironment(ENV.ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN, secretArn);
    if (limitUsd !== undefined) this.function.addEnvironment(ENV.ORMCP_PROVISIONED_KEY_LIMIT_USD, String(limitUsd));
    if (allowReprovision) this.function.addEnvironment(ENV.ORMCP_ALLOW_REPROVISION, 'true');
  }
}
