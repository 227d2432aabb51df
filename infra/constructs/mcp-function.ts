/**
 * The one Lambda function: the MCP server, OAuth façade and web pages behind API Gateway (response streaming).
 *
 * Bundling (esbuild, local — never Docker): one minified ESM file for Node 22 on arm64, with a source map (for
 * reading stack traces offline) and a banner that gives ESM code a `require` for the CommonJS dependencies that
 * call it. `--enable-source-maps` is deliberately NOT set: Node parses the whole map on the first stack read, which
 * every cold start triggers inside web streams, costing ~100 ms (npm run bench); our logs record error names only.
 *
 * AWS SDK v3: BUNDLED, not taken from the runtime. Measured with esbuild 0.28 on the real entry
 * (lambda/aws/index.ts: MCP server, zod, DynamoDB + Secrets Manager clients), minified ESM, node22, with this banner:
 *   - SDK bundled:                 1,230,756 B (315,489 B gzipped; 689,974 B zipped with the source map)
 *   - SDK external (`@aws-sdk/*`):   869,148 B (206,241 B gzipped; 439,425 B zipped with the source map)
 *   - module load, Node 20 x86, `--enable-source-maps`, 7 runs each: bundled 132–162 ms (median 137),
 *     external 171–230 ms (median 191), the external SDK resolved from node_modules as the runtime would.
 * (Those figures predate `import * as z from 'zod'`, which took the bundled file to 885 KB; `npm run bench` has the current ones.)
 * The bundled file is 0.36 MB larger but loads ~30% faster (one tree-shaken file instead of hundreds of CJS files),
 * and it pins the SDK to the versions in package-lock.json that the tests ran against, instead of whatever the
 * runtime ships that week. Both are far below Lambda's 50 MB zipped / 250 MB unzipped limits.
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
import { MCP_FUNCTION_BUNDLING } from './mcp-function-bundling.js';

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
        ORMCP_TABLE_NAME: props.table.tableName,
        ORMCP_SECRET_ARN: props.secret.secretArn,
        ORMCP_LOG_LEVEL: props.logLevel,
        ORMCP_RATE_LIMIT_PER_MINUTE: String(props.limits.ratePerMinute),
        ORMCP_MAX_CONCURRENT_PER_USER: String(props.limits.maxConcurrentPerUser),
        // Metrics as EMF lines in the function's own log group: no PutMetricData permission needed.
        ORMCP_METRICS: 'emf',
        ORMCP_METRICS_SERVICE: props.metricsService,
      },
      bundling: {
        ...MCP_FUNCTION_BUNDLING,
        format: MCP_FUNCTION_BUNDLING.format as nodejs.OutputFormat,
        mainFields: [...MCP_FUNCTION_BUNDLING.mainFields],
        forceDockerBundling: false,
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
    this.function.addEnvironment('ORMCP_IMAGES_BUCKET', bucket.bucketName);
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
    this.function.addEnvironment('ORMCP_PUBLIC_URL', endpoints.publicUrl);
    this.function.addEnvironment('ORMCP_OIDC_ISSUER', endpoints.oidcIssuer);
    this.function.addEnvironment('ORMCP_OIDC_CLIENT_ID', endpoints.userPoolClientId);
    // Cognito ends its own session at /logout (it has no OIDC end_session_endpoint).
    this.function.addEnvironment('ORMCP_OIDC_LOGOUT_URL', `${endpoints.cognitoDomainUrl}/logout`);
  }

  /**
   * Who is an operator: members of the Cognito group `group` (ID-token claim `cognito:groups`, set only by an
   * administrator) and, when an IdP maps its groups, federated users whose `claim` lists the group. The server must
   * honour `claim` only for federated users (ID token with an `identities` claim): a password user could write
   * their own custom attribute through Cognito's user API.
   */
  useAdminGroup(group: string, claim: string | undefined): void {
    this.function.addEnvironment('ORMCP_ADMIN_GROUP', group);
    if (claim) this.function.addEnvironment('ORMCP_ADMIN_CLAIM', claim);
  }

  /** Lets the function read the operator's OpenRouter management key (to create a key per user). */
  useManagementKey(secretArn: string, limitUsd: number | undefined, allowReprovision = false): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'OpenRouterManagementKey', actions: ['secretsmanager:GetSecretValue'], resources: [secretArn] }));
    this.function.addEnvironment('ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN', secretArn);
    if (limitUsd !== undefined) this.function.addEnvironment('ORMCP_PROVISIONED_KEY_LIMIT_USD', String(limitUsd));
    if (allowReprovision) this.function.addEnvironment('ORMCP_ALLOW_REPROVISION', 'true');
  }
}
