/**
 * OpenRouterMcpStack: API Gateway (REST, REGIONAL, response streaming) → one Lambda, with its DynamoDB table,
 * server secret and Cognito user pool. Every setting comes from CDK context (see `config.ts`).
 *
 * Dependency order (no cycles): RestApi ← Lambda environment (URL built from the RestApi id, region and stage
 * *name*, never from the Stage/Deployment resources) ← methods/deployment/stage. The user-pool client's callback
 * URL is built the same way, and the Lambda environment references the client, so:
 * RestApi → UserPoolClient → Function → Methods → Deployment → Stage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, CfnOutput, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV, TEAM_CONTROL_OUTPUT, TEAM_CONTROL_OUTPUT_MAX_CHARS } from '../lambda/app/env-contract.js';
import { readConfig, type McpStackConfig } from './config.js';
import { McpAlarms } from './constructs/alarms.js';
import { McpApi } from './constructs/api.js';
import { IMAGES_PREFIX, ImagesBucket } from './constructs/images-bucket.js';
import { McpFunction } from './constructs/mcp-function.js';
import { ServerSecret } from './constructs/server-secret.js';
import { McpTable } from './constructs/table.js';
import { GROUPS_ATTRIBUTE, McpUserPool } from './constructs/user-pool.js';

/** The Lambda entry, relative to the project root. */
export const DEFAULT_LAMBDA_ENTRY = 'lambda/aws/index.ts';

export interface OpenRouterMcpStackProps extends StackProps {
  /** Handler module exporting `handler`, absolute or relative to `projectRoot`. @default lambda/aws/index.ts */
  readonly lambdaEntry?: string;
  /** Directory holding package-lock.json and tsconfig.json. @default nearest ancestor of cwd with cdk.json */
  readonly projectRoot?: string;
  /** Settings; by default read from CDK context. */
  readonly config?: McpStackConfig;
}

/** The nearest directory, from `start` upwards, holding both cdk.json and package.json. */
export function findProjectRoot(start: string = process.cwd()): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'cdk.json')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no directory with cdk.json and package.json above ${start}`);
  }
}

export class OpenRouterMcpStack extends Stack {
  readonly config: McpStackConfig;
  readonly table: McpTable;
  readonly serverSecret: ServerSecret;
  readonly images: ImagesBucket;
  readonly mcpFunction: McpFunction;
  readonly api: McpApi;
  readonly users: McpUserPool;
  readonly alarms: McpAlarms;

  constructor(scope: Construct, id: string, props: OpenRouterMcpStackProps = {}) {
    super(scope, id, {
      description: 'OpenRouter MCP server: API Gateway (streaming) + Lambda + DynamoDB + Secrets Manager + Cognito',
      ...props,
    });
    const config = (this.config = props.config ?? readConfig(this.node));
    const projectRoot = props.projectRoot ?? findProjectRoot();
    const entry = path.resolve(projectRoot, props.lambdaEntry ?? DEFAULT_LAMBDA_ENTRY);
    if (!fs.existsSync(entry)) throw new Error(`Lambda entry ${entry} does not exist`);

    Tags.of(this).add('project', 'openrouter-mcp');

    this.table = new McpTable(this, 'Data', { deletionProtection: config.tableDeletionProtection });
    this.serverSecret = new ServerSecret(this, 'ServerSecret');

    const timeout = Duration.seconds(config.lambdaTimeoutSeconds);
    this.mcpFunction = new McpFunction(this, 'Server', {
      entry,
      projectRoot,
      table: this.table.table,
      indexNames: [McpTable.GSI1],
      secret: this.serverSecret.secret,
      memoryMb: config.lambdaMemoryMb,
      timeout,
      reservedConcurrency: config.reservedConcurrency,
      logRetention: config.logRetention,
      logLevel: config.logLevel,
      limits: { ratePerMinute: config.rateLimitPerMinute, maxConcurrentPerUser: config.maxConcurrentPerUser },
      metricsService: this.stackName,
      teamControlEnv: config.teamControlEnv,
      conversationTtlHours: config.conversationTtlHours,
    });

    this.images = new ImagesBucket(this, 'Images');
    this.mcpFunction.useImagesBucket(this.images.bucket, IMAGES_PREFIX);

    this.api = new McpApi(this, 'Api', {
      handler: this.mcpFunction.function,
      stageName: config.stageName,
      // API Gateway may hold a streamed response as long as the function may run.
      integrationTimeout: timeout,
      throttleRateLimit: config.throttleRateLimit,
      throttleBurstLimit: config.throttleBurstLimit,
      logRetention: config.logRetention,
      customDomain: config.customDomain,
      ...(config.waf ? { wafRateLimit: config.wafRateLimit } : {}),
    });

    this.alarms = new McpAlarms(this, 'Alarms', {
      fn: this.mcpFunction.function,
      stage: this.api.stage,
      service: this.stackName,
      ...(config.alarmEmail ? { email: config.alarmEmail } : {}),
      ...(config.alarmTopicArn ? { topicArn: config.alarmTopicArn } : {}),
    });

    this.users = new McpUserPool(this, 'Users', {
      publicUrl: this.api.publicUrl,
      extraCallbackUrls: config.callbackUrls,
      selfSignUp: config.selfSignUp,
      mfaRequired: config.mfaRequired,
      domainPrefix: config.cognitoDomainPrefix,
      deletionProtection: config.userPoolDeletionProtection,
      identityProviders: config.identityProviders,
      projectRoot,
      passwordSignIn: config.cognitoPasswordSignIn,
      adminGroup: config.adminGroup,
    });

    this.mcpFunction.connect({
      publicUrl: this.api.publicUrl,
      oidcIssuer: this.users.userPool.userPoolProviderUrl,
      userPoolClientId: this.users.client.userPoolClientId,
      cognitoDomainUrl: this.users.domainUrl,
    });
    this.mcpFunction.useAdminGroup(config.adminGroup, this.users.mapsGroups ? GROUPS_ATTRIBUTE : undefined);
    if (config.managementKeySecretArn) this.mcpFunction.useManagementKey(config.managementKeySecretArn, config.provisionedKeyLimitUsd, config.allowReprovision);
    if (config.oauthRedirectUris.length) this.mcpFunction.function.addEnvironment(ENV.ORMCP_OAUTH_REDIRECT_URIS, config.oauthRedirectUris.join(','));

    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    out('McpUrl', `${this.api.publicUrl}/mcp`, 'The MCP endpoint to paste into clients');
    out('SignInUrl', `${this.api.publicUrl}/`, 'Sign-in and self-service page');
    out('ApiUrl', this.api.executeApiUrl, 'API Gateway stage URL (execute-api), no trailing slash');
    out('TableName', this.table.table.tableName, 'DynamoDB table');
    out('ImagesBucket', this.images.bucket.bucketName, 'S3 bucket of generated images (private, objects expire after a day)');
    out('SecretName', this.serverSecret.secret.secretName, 'Secrets Manager server secret (name)');
    out('SecretArn', this.serverSecret.secret.secretArn, 'Secrets Manager server secret (ARN)');
    out('UserPoolId', this.users.userPool.userPoolId, 'Cognito user pool');
    const teamControl = JSON.stringify(config.teamControlEnv);
    if (teamControl.length <= TEAM_CONTROL_OUTPUT_MAX_CHARS) out(TEAM_CONTROL_OUTPUT, teamControl, 'Budget defaults and operator policy the function runs with (its ORMCP_* variables), for ormcp --stack');
    else Annotations.of(this).addWarning(`The team-control settings are ${teamControl.length} characters as JSON, too long for the ${TEAM_CONTROL_OUTPUT} output: ormcp --stack will not show them.`);
    out('UserPoolClientId', this.users.client.userPoolClientId, 'Cognito app client of the OAuth façade');
    out('CognitoDomain', this.users.domainUrl, 'Cognito managed-login domain (https URL)');
    if (this.api.domain) {
      out(
        'CustomDomainTarget',
        this.api.domain.domainNameAliasDomainName,
        `Point a CNAME (or alias) for ${config.customDomain?.domainName} at this name`,
      );
    }
  }
}
