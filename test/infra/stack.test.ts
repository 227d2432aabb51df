/**
 * The CDK stack, asserted on the synthesized CloudFormation (one synth per context variant, shared by its tests).
 * The Lambda entry is a fixture so these tests do not depend on the app code; cli-synth.test.ts bundles the real one.
 */
import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { DEFAULT_RESERVED_CONCURRENCY, readConfig, STREAMING_MAX_SECONDS } from '../../infra/config.js';
import { loadConfig } from '../../lambda/app/config.js';
import { ENV as RUNTIME_ENV, LambdaEnv } from '../../lambda/app/env-contract.js';
import { TABLE_ACTIONS } from '../../infra/constructs/mcp-function.js';
import { defaultDomainPrefix } from '../../infra/constructs/user-pool.js';
import { applyNagChecks } from '../../infra/nag.js';
import { OpenRouterMcpStack } from '../../infra/stack.js';
import { cdkJsonContext, ENV, FIXTURE_ENTRY, onlyResource, PROJECT_ROOT, resourcesOf, synth, type Synthesized } from './support/synth.js';

const OUTPUTS = [
  'McpUrl',
  'SignInUrl',
  'ApiUrl',
  'TableName',
  'SecretName',
  'SecretArn',
  'UserPoolId',
  'UserPoolClientId',
  'CognitoDomain',
  'ImagesBucket',
  'TeamControl',
];
const LAMBDA_ENV = [
  'ORMCP_TABLE_NAME',
  'ORMCP_SECRET_ARN',
  'ORMCP_PUBLIC_URL',
  'ORMCP_LOG_LEVEL',
  'ORMCP_OIDC_ISSUER',
  'ORMCP_OIDC_CLIENT_ID',
  'ORMCP_OIDC_LOGOUT_URL',
  'ORMCP_ADMIN_GROUP',
  'ORMCP_IMAGES_BUCKET',
];

/** Flattens an Fn::Join of literal strings and refs into a readable string: {Ref: X} → ${X}. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v.Ref) return `\${${v.Ref}}`;
  if (v['Fn::GetAtt']) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(render).join(v['Fn::Join'][0] as string);
  return JSON.stringify(value);
}

function lambdaFunction(s: Synthesized): any {
  return onlyResource(s.json, 'AWS::Lambda::Function')[1];
}

describe('default stack', () => {
  let s: Synthesized;
  let restApiId: string;
  beforeAll(() => {
    s = synth();
    restApiId = onlyResource(s.json, 'AWS::ApiGateway::RestApi')[0];
  });

  test('REST API is REGIONAL', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
  });

  test('ANY / and ANY /{proxy+} are Lambda proxy integrations in STREAM mode with the streaming timeout', () => {
    const methods = Object.values(resourcesOf(s.json, 'AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(2);
    for (const m of methods) {
      expect(m.Properties.HttpMethod).toBe('ANY');
      expect(m.Properties.AuthorizationType).toBe('NONE');
      const integration = m.Properties.Integration;
      expect(integration.Type).toBe('AWS_PROXY');
      expect(integration.ResponseTransferMode).toBe('STREAM');
      expect(integration.TimeoutInMillis).toBe(STREAMING_MAX_SECONDS * 1000);
      // Streaming goes through Lambda's InvokeWithResponseStream API.
      expect(render(integration.Uri)).toMatch(/:lambda:path\/2021-11-15\/functions\/.*\/response-streaming-invocations$/);
    }
    s.template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
  });

  test('Lambda: Node 22 on arm64, 1024 MB, 15 min, ESM bundle, every environment variable', () => {
    const fn = lambdaFunction(s).Properties;
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(fn.Architectures).toEqual(['arm64']);
    expect(fn.MemorySize).toBe(1024);
    expect(fn.Timeout).toBe(STREAMING_MAX_SECONDS);
    expect(fn.Handler).toBe('index.handler');
    // Reserved by default: a flood cannot take the account's whole concurrency (or bill) with it.
    expect(fn.ReservedConcurrentExecutions).toBe(DEFAULT_RESERVED_CONCURRENCY);
    const env = fn.Environment.Variables;
    for (const key of LAMBDA_ENV) expect(env[key]).toBeDefined();
    // No --enable-source-maps: it costs ~100 ms of every cold start (see the construct).
    expect(env.NODE_OPTIONS).toBeUndefined();
    expect(env.ORMCP_LOG_LEVEL).toBe('info');
    expect(render(env.ORMCP_PUBLIC_URL)).toBe(`https://\${${restApiId}}.execute-api.us-east-1.\${AWS::URLSuffix}/prod`);
    expect(render(env.ORMCP_OIDC_LOGOUT_URL)).toMatch(/^https:\/\/\$\{\w+\}\.auth\.us-east-1\.amazoncognito\.com\/logout$/);
    expect(render(env.ORMCP_OIDC_ISSUER)).toMatch(/^\$\{\w+\.ProviderURL\}$|cognito-idp/);
    // No management key unless the operator configures one.
    expect(env.ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN).toBeUndefined();
    expect(fn.LoggingConfig.LogGroup.Ref).toBeDefined();
  });

  test('the public URL depends on the RestApi only, not on its Stage or Deployment (no dependency cycle)', () => {
    const fn = lambdaFunction(s);
    const refs = JSON.stringify(fn).match(/"Ref":"(\w+)"/g) ?? [];
    const stageOrDeployment = Object.keys({
      ...resourcesOf(s.json, 'AWS::ApiGateway::Stage'),
      ...resourcesOf(s.json, 'AWS::ApiGateway::Deployment'),
    });
    for (const id of stageOrDeployment) expect(refs).not.toContain(`"Ref":"${id}"`);
    expect(fn.DependsOn ?? []).not.toEqual(expect.arrayContaining(stageOrDeployment));
  });

  test('function log group keeps 30 days', () => {
    const fn = lambdaFunction(s).Properties;
    const [, group] = Object.entries(resourcesOf(s.json, 'AWS::Logs::LogGroup')).find(([id]) => id === fn.LoggingConfig.LogGroup.Ref)!;
    expect(group.Properties.RetentionInDays).toBe(30);
  });

  test('table: pk/sk, gsi1 (ALL), TTL on ttl, on-demand, PITR, KMS encryption, deletion protection + RETAIN', () => {
    const [, table] = onlyResource(s.json, 'AWS::DynamoDB::Table');
    const p = table.Properties;
    expect(p.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(p.AttributeDefinitions).toEqual(
      expect.arrayContaining(['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((n) => ({ AttributeName: n, AttributeType: 'S' }))),
    );
    expect(p.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'gsi1',
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
    expect(p.TimeToLiveSpecification).toEqual({ AttributeName: 'ttl', Enabled: true });
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    // SSEEnabled without a key = KMS with the AWS-managed key alias/aws/dynamodb.
    expect(p.SSESpecification).toEqual({ SSEEnabled: true });
    expect(p.DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });

  test('server secret is generated by Secrets Manager and retained', () => {
    const [, secret] = onlyResource(s.json, 'AWS::SecretsManager::Secret');
    expect(secret.Properties.GenerateSecretString).toEqual({
      SecretStringTemplate: '{"current":"v1"}',
      GenerateStringKey: 'v1',
      PasswordLength: 64,
      ExcludePunctuation: true,
    });
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(secret.DeletionPolicy).toBe('Retain');
  });

  test('no secret value anywhere in the template', () => {
    const text = JSON.stringify(s.json);
    const has = (re: RegExp) => re.test(text);
    expect(has(/"SecretString"\s*:/)).toBe(false);
    // The template names v1 only as the key to generate, never with a value.
    expect(has(/\\"v1\\"\s*:/)).toBe(false);
    expect(has(/"v1"\s*:/)).toBe(false);
    // Nothing shaped like the generated value (64 alphanumerics), once logical ids and asset hashes are set aside.
    let scrubbed = text;
    for (const id of Object.keys(s.json.Resources)) scrubbed = scrubbed.split(id).join('');
    const long = (scrubbed.match(/[A-Za-z0-9]{64,}/g) ?? []).filter((m) => !/^[0-9a-f]+$/.test(m));
    expect(long).toEqual([]);
    // No client secret, password or key material in properties either.
    expect(has(/ClientSecret|"Password"|PrivateKey/)).toBe(false);
  });

  test('Lambda role: only the allowed actions, each on its own resource, no wildcards, no managed policies', () => {
    const fn = lambdaFunction(s).Properties;
    const roleId = fn.Role['Fn::GetAtt'][0] as string;
    const [, table] = onlyResource(s.json, 'AWS::DynamoDB::Table');
    const tableId = Object.entries(s.json.Resources).find(([, r]) => r === table)![0];
    const secretId = onlyResource(s.json, 'AWS::SecretsManager::Secret')[0];
    const role = s.json.Resources[roleId];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.Policies).toBeUndefined();

    const policies = Object.values(resourcesOf(s.json, 'AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })),
    );
    expect(policies).toHaveLength(1);
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    const allowed = new Set<string>([...TABLE_ACTIONS, 'secretsmanager:GetSecretValue', 'logs:CreateLogStream', 'logs:PutLogEvents', 's3:GetObject', 's3:PutObject']);
    const bucketId = onlyResource(s.json, 'AWS::S3::Bucket')[0];
    for (const st of statements) {
      expect(st.Effect).toBe('Allow');
      const actions = [st.Action].flat() as string[];
      for (const a of actions) expect(allowed).toContain(a);
      const resources = [st.Resource].flat().map(render);
      // The one wildcard: objects under images/ of the images bucket (keys are random per image).
      if (actions.some((a) => a.startsWith('s3:'))) {
        expect(resources).toEqual([`\${${bucketId}.Arn}/images/*`]);
        continue;
      }
      for (const r of resources) expect(r).not.toContain('*');
      if (actions.some((a) => a.startsWith('dynamodb:'))) {
        expect(actions.every((a) => a.startsWith('dynamodb:'))).toBe(true);
        expect(resources.sort()).toEqual([`\${${tableId}.Arn}`, `\${${tableId}.Arn}/index/gsi1`]);
      } else if (actions.some((a) => a.startsWith('secretsmanager:'))) {
        expect(actions).toEqual(['secretsmanager:GetSecretValue']);
        expect(resources).toEqual([`\${${secretId}}`]);
      } else {
        expect(resources).toEqual([`\${${fn.LoggingConfig.LogGroup.Ref}.Arn}`]);
      }
    }
    const granted = new Set(statements.flatMap((st) => [st.Action].flat() as string[]));
    for (const a of TABLE_ACTIONS) expect(granted).toContain(a);
    // Granted once and never used: least privilege means it is gone, not merely unused.
    expect(granted).not.toContain('dynamodb:ConditionCheckItem');
    expect(granted).not.toContain('dynamodb:Scan');
    expect(granted).toContain('secretsmanager:GetSecretValue');
  });

  test('stage prod: JSON access logs to a dedicated group, throttling, error-level execution logs without data trace', () => {
    const [, stage] = onlyResource(s.json, 'AWS::ApiGateway::Stage');
    const p = stage.Properties;
    expect(p.StageName).toBe('prod');
    const fields = JSON.parse(p.AccessLogSetting.Format) as Record<string, string>;
    expect(fields).toMatchObject({ requestId: '$context.requestId', status: '$context.status', path: '$context.path' });
    expect(JSON.stringify(fields)).not.toMatch(/authorization|querystring|requestOverride|\$input/i);
    const destination = render(p.AccessLogSetting.DestinationArn);
    const accessGroupId = destination.match(/log-group:\$\{(\w+)\}/)![1]!;
    expect(s.json.Resources[accessGroupId].Type).toBe('AWS::Logs::LogGroup');
    expect(s.json.Resources[accessGroupId].Properties.RetentionInDays).toBe(30);
    expect(accessGroupId).not.toBe(lambdaFunction(s).Properties.LoggingConfig.LogGroup.Ref);
    expect(p.MethodSettings).toEqual([
      {
        HttpMethod: '*',
        ResourcePath: '/*',
        LoggingLevel: 'ERROR',
        DataTraceEnabled: false,
        MetricsEnabled: false,
        ThrottlingRateLimit: 50,
        ThrottlingBurstLimit: 100,
      },
    ]);
  });

  test('every log group has a retention (the execution log group is pre-created)', () => {
    const groups = Object.values(resourcesOf(s.json, 'AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(3);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBe(30);
    expect(groups.map((g) => render(g.Properties.LogGroupName ?? ''))).toContain(`API-Gateway-Execution-Logs_\${${restApiId}}/prod`);
  });

  test('user pool: email sign-in, strong passwords, optional TOTP MFA, admin-only sign-up, Essentials, retained', () => {
    const [, pool] = onlyResource(s.json, 'AWS::Cognito::UserPool');
    const p = pool.Properties;
    expect(p.UsernameAttributes).toEqual(['email']);
    expect(p.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: true });
    expect(p.MfaConfiguration).toBe('OPTIONAL');
    expect(p.EnabledMfas).toEqual(['SOFTWARE_TOKEN_MFA']);
    expect(p.Policies.PasswordPolicy).toMatchObject({
      MinimumLength: 12,
      RequireLowercase: true,
      RequireUppercase: true,
      RequireNumbers: true,
      RequireSymbols: true,
    });
    expect(p.UserPoolTier).toBe('ESSENTIALS');
    expect(p.DeletionProtection).toBe('ACTIVE');
    expect(pool.DeletionPolicy).toBe('Retain');
  });

  test('managed login (v2) domain with a default-derived prefix, and a branding style for the client', () => {
    const [, domain] = onlyResource(s.json, 'AWS::Cognito::UserPoolDomain');
    expect(domain.Properties.ManagedLoginVersion).toBe(2);
    expect(domain.Properties.Domain).toBe('openroutermcp-123456789012');
    const [, client] = onlyResource(s.json, 'AWS::Cognito::UserPoolClient');
    const [, branding] = onlyResource(s.json, 'AWS::Cognito::ManagedLoginBranding');
    expect(branding.Properties.UseCognitoProvidedValues).toBe(true);
    expect(branding.Properties.ClientId).toEqual({ Ref: Object.entries(s.json.Resources).find(([, r]) => r === client)![0] });
  });

  test('app client: public (PKCE), code grant, openid/email/profile, callback <api base>/oauth/callback', () => {
    const [, client] = onlyResource(s.json, 'AWS::Cognito::UserPoolClient');
    const p = client.Properties;
    expect(p.GenerateSecret).toBe(false);
    expect(p.AllowedOAuthFlows).toEqual(['code']);
    expect(p.AllowedOAuthFlowsUserPoolClient).toBe(true);
    expect(p.AllowedOAuthScopes).toEqual(['openid', 'email', 'profile']);
    expect(p.SupportedIdentityProviders).toEqual(['COGNITO']);
    expect(p.CallbackURLs.map(render)).toEqual([
      `https://\${${restApiId}}.execute-api.us-east-1.\${AWS::URLSuffix}/prod/oauth/callback`,
    ]);
  });

  test('outputs', () => {
    const outputs = s.json.Outputs as Record<string, any>;
    for (const o of OUTPUTS) expect(outputs[o]).toBeDefined();
    expect(outputs.CustomDomainTarget).toBeUndefined();
    const base = `https://\${${restApiId}}.execute-api.us-east-1.\${AWS::URLSuffix}/prod`;
    expect(render(outputs.McpUrl.Value)).toBe(`${base}/mcp`);
    expect(render(outputs.SignInUrl.Value)).toBe(`${base}/`);
    expect(render(outputs.ApiUrl.Value)).toBe(base);
    // Only our named outputs: RestApi's automatic "Endpoint" output is removed.
    expect(Object.keys(outputs).sort()).toEqual([...OUTPUTS].sort());
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding, no annotations', () => {
    expect(s.nag.violations).toEqual([]);
    expect(s.nag.success).toBe(true);
    const annotations = Annotations.fromStack(s.stack);
    expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });

  test('exactly the reviewed acknowledgments, each on its own resource, each with a reason', () => {
    const acks = s.app.node.findAll().flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
        .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))),
    );
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(60);
    const listed = acks.map((a) => `${a.path} ${a.id.replace(/^Annotation::/, '')}`).sort();
    expect(listed).toEqual(
      [
        'OpenRouterMcp/ServerSecret/Secret/Resource AwsSolutions-SMG4',
        'OpenRouterMcp/Server/Function/Resource AwsSolutions-L1',
        'OpenRouterMcp/Images/Bucket/Resource AwsSolutions-S1',
        'OpenRouterMcp/Server/Role/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<ImagesBucket4B6DB8E1.Arn>/images/*]',
        'OpenRouterMcp/Api/RestApi/Resource AwsSolutions-APIG2',
        'OpenRouterMcp/Api/RestApi/Default/ANY/Resource AwsSolutions-APIG4',
        'OpenRouterMcp/Api/RestApi/Default/ANY/Resource AwsSolutions-COG4',
        'OpenRouterMcp/Api/RestApi/Default/{proxy+}/ANY/Resource AwsSolutions-APIG4',
        'OpenRouterMcp/Api/RestApi/Default/{proxy+}/ANY/Resource AwsSolutions-COG4',
        'OpenRouterMcp/Api/RestApi/CloudWatchRole/Resource AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        'OpenRouterMcp/Users/UserPool/Resource AwsSolutions-COG8',
        'OpenRouterMcp/Users/UserPool/Resource AwsSolutions-COG2',
      ].sort(),
    );
  });
});

describe('cdk-nag is enforced', () => {
  test('an unacknowledged finding fails the synth', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = new OpenRouterMcpStack(app, 'NagProbe', { env: ENV, lambdaEntry: FIXTURE_ENTRY, projectRoot: PROJECT_ROOT });
    new secretsmanager.Secret(stack, 'UnrotatedSecret');
    applyNagChecks(app);
    expect(() => app.synth()).toThrow(/NagProbe\/UnrotatedSecret[\s\S]*AwsSolutions-SMG4/);
  });
});

describe('context: tableDeletionProtection=false (as the CLI passes it, a string)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ tableDeletionProtection: 'false' }, 'OpenRouterMcp-dev');
  });

  test('table and user pool are unprotected and deleted with the stack', () => {
    const [, table] = onlyResource(s.json, 'AWS::DynamoDB::Table');
    expect(table.Properties.DeletionProtectionEnabled).toBe(false);
    expect(table.DeletionPolicy).toBe('Delete');
    const [, pool] = onlyResource(s.json, 'AWS::Cognito::UserPool');
    expect(pool.Properties.DeletionProtection).toBe('INACTIVE');
    expect(pool.DeletionPolicy).toBe('Delete');
  });

  test('the server secret stays retained, and the domain prefix follows the stack name', () => {
    expect(onlyResource(s.json, 'AWS::SecretsManager::Secret')[1].DeletionPolicy).toBe('Retain');
    expect(onlyResource(s.json, 'AWS::Cognito::UserPoolDomain')[1].Properties.Domain).toBe('openroutermcp-dev-123456789012');
  });

  test('still no cdk-nag finding', () => {
    expect(s.nag.violations).toEqual([]);
  });
});

describe('context: custom domain, extra callbacks, required MFA and the other knobs', () => {
  let s: Synthesized;
  const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789';
  beforeAll(() => {
    s = synth({
      domainName: 'mcp.example.com',
      certificateArn,
      callbackUrls: 'https://app.example.com/cb, http://localhost:6274/oauth/callback',
      mfaRequired: 'true',
      selfSignUp: true,
      cognitoDomainPrefix: 'my-mcp-login',
      lambdaMemoryMb: '2048',
      lambdaTimeoutSeconds: 600,
      reservedConcurrency: '20',
      logRetentionDays: '90',
      logLevel: 'debug',
      stageName: 'v1',
      throttleRateLimit: 10,
      throttleBurstLimit: '20',
    });
  });

  test('REGIONAL custom domain (TLS 1.2) mapped to the stage at the root, target output for DNS', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'mcp.example.com',
      RegionalCertificateArn: certificateArn,
      EndpointConfiguration: { Types: ['REGIONAL'] },
      SecurityPolicy: 'TLS_1_2',
    });
    const [, mapping] = onlyResource(s.json, 'AWS::ApiGateway::BasePathMapping');
    const stageId = onlyResource(s.json, 'AWS::ApiGateway::Stage')[0];
    expect(mapping.Properties.Stage).toEqual({ Ref: stageId });
    expect(mapping.Properties.BasePath).toBeUndefined();
    const outputs = s.json.Outputs as Record<string, any>;
    expect(outputs.CustomDomainTarget).toBeDefined();
    expect(render(outputs.CustomDomainTarget.Value)).toMatch(/RegionalDomainName/);
    expect(outputs.McpUrl.Value).toBe('https://mcp.example.com/mcp');
    expect(outputs.SignInUrl.Value).toBe('https://mcp.example.com/');
    expect(render(outputs.ApiUrl.Value)).toMatch(/execute-api\.us-east-1\.\$\{AWS::URLSuffix\}\/v1$/);
  });

  test('public URL and callbacks use the custom domain', () => {
    const fn = lambdaFunction(s).Properties;
    expect(fn.Environment.Variables.ORMCP_PUBLIC_URL).toBe('https://mcp.example.com');
    expect(fn.Environment.Variables.ORMCP_LOG_LEVEL).toBe('debug');
    const [, client] = onlyResource(s.json, 'AWS::Cognito::UserPoolClient');
    expect(client.Properties.CallbackURLs).toEqual([
      'https://mcp.example.com/oauth/callback',
      'https://app.example.com/cb',
      'http://localhost:6274/oauth/callback',
    ]);
    expect(client.Properties.LogoutURLs).toEqual(['https://mcp.example.com/']);
  });

  test('function, API and log settings follow context', () => {
    const fn = lambdaFunction(s).Properties;
    expect(fn.MemorySize).toBe(2048);
    expect(fn.Timeout).toBe(600);
    expect(fn.ReservedConcurrentExecutions).toBe(20);
    for (const m of Object.values(resourcesOf(s.json, 'AWS::ApiGateway::Method'))) {
      expect(m.Properties.Integration.TimeoutInMillis).toBe(600_000);
    }
    const [, stage] = onlyResource(s.json, 'AWS::ApiGateway::Stage');
    expect(stage.Properties.StageName).toBe('v1');
    expect(stage.Properties.MethodSettings[0]).toMatchObject({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
    for (const g of Object.values(resourcesOf(s.json, 'AWS::Logs::LogGroup'))) expect(g.Properties.RetentionInDays).toBe(90);
  });

  test('user pool: MFA required, self sign-up on, the given domain prefix', () => {
    const [, pool] = onlyResource(s.json, 'AWS::Cognito::UserPool');
    expect(pool.Properties.MfaConfiguration).toBe('ON');
    expect(pool.Properties.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: false });
    expect(onlyResource(s.json, 'AWS::Cognito::UserPoolDomain')[1].Properties.Domain).toBe('my-mcp-login');
  });

  test('still no cdk-nag finding (and no MFA acknowledgment needed)', () => {
    expect(s.nag.violations).toEqual([]);
    const acks = s.app.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((m) => Object.keys(m.data as Record<string, string>));
    expect(acks.join(' ')).not.toMatch(/COG2/);
  });
});

describe('custom domain certificate region', () => {
  test('a certificate from another region is rejected (REGIONAL endpoints need a same-region certificate)', () => {
    const app = new App({
      context: {
        domainName: 'mcp.example.com',
        certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d',
        'aws:cdk:bundling-stacks': [],
      },
    });
    expect(
      () => new OpenRouterMcpStack(app, 'CertProbe', { env: ENV, lambdaEntry: FIXTURE_ENTRY, projectRoot: PROJECT_ROOT }),
    ).toThrow(/eu-west-1.*us-east-1/);
  });
});

describe('context: OpenRouter management key and extra OAuth redirect URIs', () => {
  const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:openrouter-management-AbCdEf';
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ managementKeySecretArn: ARN, provisionedKeyLimitUsd: '25', oauthRedirectUris: 'https://agents.example.com/oauth/cb,myapp://oauth/cb' });
  });

  test('the function may read exactly that secret and knows the limit and the extra redirect URIs', () => {
    const env = lambdaFunction(s).Properties.Environment.Variables;
    expect(env.ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN).toBe(ARN);
    expect(env.ORMCP_PROVISIONED_KEY_LIMIT_USD).toBe('25');
    expect(env.ORMCP_ALLOW_REPROVISION).toBeUndefined(); // default: no second key without the operator
    expect(env.ORMCP_OAUTH_REDIRECT_URIS).toBe('https://agents.example.com/oauth/cb,myapp://oauth/cb');
    const statements = Object.values(resourcesOf(s.json, 'AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    const grant = statements.find((st) => [st.Resource].flat().includes(ARN));
    expect(grant).toMatchObject({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue' });
  });

  test('still no cdk-nag finding', () => {
    expect(s.nag.violations).toEqual([]);
  });

  test('every variable the function gets is named in the environment contract, and the runtime accepts the literal ones', () => {
    const env = lambdaFunction(s).Properties.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(env).filter((name) => !Object.hasOwn(RUNTIME_ENV, name))).toEqual([]);
    // Values known at synth time; the others (table name, ARNs, URLs) are references resolved at deploy time.
    const literal = Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    expect(Object.keys(literal)).toEqual(expect.arrayContaining(['ORMCP_LOG_LEVEL', 'ORMCP_RATE_LIMIT_PER_MINUTE', 'ORMCP_METRICS', 'ORMCP_PROVISIONED_KEY_LIMIT_USD']));
    expect(() => loadConfig(literal)).not.toThrow();
    expect(LambdaEnv.safeParse({ ...literal, ORMCP_TABLE_NAME: 't', ORMCP_SECRET_ARN: 'arn' }).success).toBe(true);
  });

  test('allowReprovision reaches the function as ORMCP_ALLOW_REPROVISION', () => {
    const allowed = synth({ managementKeySecretArn: ARN, allowReprovision: 'true' });
    expect(lambdaFunction(allowed).Properties.Environment.Variables.ORMCP_ALLOW_REPROVISION).toBe('true');
  });

  test.each([
    [{ managementKeySecretArn: 'openrouter-management' }, /managementKeySecretArn/],
    [{ oauthRedirectUris: 'http://example.com/cb' }, /oauthRedirectUris/],
    [{ oauthRedirectUris: 'https://example.com/cb#frag' }, /oauthRedirectUris/],
    [{ provisionedKeyLimitUsd: -1 }, /provisionedKeyLimitUsd/],
    [{ allowReprovision: 'sometimes' }, /allowReprovision/],
  ])('rejects %j', (context, message) => {
    expect(() => readConfig(new App({ context }).node)).toThrow(message);
  });
});

describe('context validation', () => {
  function configFor(context: Record<string, unknown>) {
    return readConfig(new App({ context }).node);
  }

  test('defaults', () => {
    expect(configFor({})).toMatchObject({
      tableDeletionProtection: true,
      userPoolDeletionProtection: true,
      selfSignUp: false,
      mfaRequired: false,
      callbackUrls: [],
      lambdaMemoryMb: 1024,
      lambdaTimeoutSeconds: 900,
      reservedConcurrency: DEFAULT_RESERVED_CONCURRENCY,
      logRetention: 30,
      logLevel: 'info',
      stageName: 'prod',
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      customDomain: undefined,
    });
  });

  test('team control: no caps, an open policy and 90 days of ledger unless context sets them', () => {
    expect(configFor({}).teamControlEnv).toEqual({ ORMCP_LEDGER_DAYS: '90' });
  });

  test.each([
    [{ budgetDailyUsd: '-1' }, /budgetDailyUsd/],
    [{ budgetMonthlyUsd: '1e3' }, /budgetMonthlyUsd/],
    [{ maxPricePerMInUsd: 'cheap' }, /maxPricePerMInUsd/],
    [{ allowedModels: 'openai/gpt 4o' }, /allowedModels/],
    [{ deniedModels: ['ok/*', 'bad model'] }, /deniedModels/],
    [{ requireZdr: 'yes' }, /requireZdr/],
    [{ dataCollection: 'never' }, /dataCollection/],
    [{ allowedPlugins: 'Web Search' }, /allowedPlugins/],
    [{ ledgerRetentionDays: 0 }, /ledgerRetentionDays/],
    [{ logRetentionDays: 31 }, /logRetentionDays/],
    [{ lambdaTimeoutSeconds: 901 }, /lambdaTimeoutSeconds/],
    [{ lambdaMemoryMb: 'lots' }, /lambdaMemoryMb/],
    [{ tableDeletionProtection: 'yes' }, /tableDeletionProtection/],
    [{ domainName: 'mcp.example.com' }, /certificateArn/],
    [{ certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/x' }, /domainName/],
    [{ callbackUrls: 'http://example.com/cb' }, /https/],
    [{ cognitoDomainPrefix: 'My_Prefix' }, /lowercase/],
    [{ cognitoDomainPrefix: 'my-aws-login' }, /must not contain/],
    [{ stageName: 'prod/v2' }, /stageName/],
    [{ logLevel: 'trace' }, /logLevel/],
  ])('rejects %j', (context, message) => {
    expect(() => configFor(context)).toThrow(message);
  });

  test('derived Cognito domain prefix is lowercase and avoids reserved words', () => {
    expect(defaultDomainPrefix('OpenRouterMcp', '123456789012')).toBe('openroutermcp-123456789012');
    expect(defaultDomainPrefix('My_AWS_Cognito_Stack', '123456789012')).toBe('my-stack-123456789012');
  });
});

describe('context: team control (budgets, operator policy, ledger retention)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({
      budgetDailyUsd: 2.5,
      budgetWeeklyUsd: '10',
      budgetMonthlyUsd: '30.00',
      allowedModels: ['openai/*', 'anthropic/*'],
      deniedModels: 'openai/o1*',
      requireZdr: 'true',
      dataCollection: 'deny',
      maxPricePerMInUsd: '5',
      maxPricePerMOutUsd: 15,
      allowedPlugins: 'web,file-parser',
      ledgerRetentionDays: '30',
    });
  });

  test('every key reaches the function as the variable the app reads', () => {
    expect(lambdaFunction(s).Properties.Environment.Variables).toMatchObject({
      ORMCP_BUDGET_DAILY_USD: '2.5',
      ORMCP_BUDGET_WEEKLY_USD: '10',
      ORMCP_BUDGET_MONTHLY_USD: '30.00',
      ORMCP_ALLOWED_MODELS: 'openai/*,anthropic/*',
      ORMCP_DENIED_MODELS: 'openai/o1*',
      ORMCP_REQUIRE_ZDR: 'true',
      ORMCP_DATA_COLLECTION: 'deny',
      ORMCP_MAX_PRICE_PER_M_IN: '5',
      ORMCP_MAX_PRICE_PER_M_OUT: '15',
      ORMCP_ALLOWED_PLUGINS: 'web,file-parser',
      ORMCP_LEDGER_DAYS: '30',
    });
  });

  test('the app parses that environment into the same settings', () => {
    const config = loadConfig(Object.fromEntries(Object.entries(lambdaFunction(s).Properties.Environment.Variables).filter(([k, v]) => k.startsWith('ORMCP_') && typeof v === 'string' && !k.includes('ARN') && !k.includes('TABLE')) as [string, string][]));
    expect(config.budgetDefaults).toEqual({ daily: 2.5, weekly: 10, monthly: 30 });
    expect(config.policy).toEqual({
      allowedModels: ['openai/*', 'anthropic/*'],
      deniedModels: ['openai/o1*'],
      requireZdr: true,
      dataCollection: 'deny',
      maxPricePerMillion: { prompt: '5', completion: '15' },
      allowedPlugins: ['web', 'file-parser'],
    });
    expect(config.ledgerDays).toBe(30);
  });

  test('the stack publishes the same variables as its TeamControl output (for ormcp --stack), nothing else', () => {
    const published = JSON.parse((s.json.Outputs as Record<string, { Value: string }>).TeamControl!.Value) as Record<string, string>;
    const env = lambdaFunction(s).Properties.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(published).sort()).toEqual(
      ['ORMCP_BUDGET_DAILY_USD', 'ORMCP_BUDGET_WEEKLY_USD', 'ORMCP_BUDGET_MONTHLY_USD', 'ORMCP_ALLOWED_MODELS', 'ORMCP_DENIED_MODELS', 'ORMCP_REQUIRE_ZDR', 'ORMCP_DATA_COLLECTION', 'ORMCP_MAX_PRICE_PER_M_IN', 'ORMCP_MAX_PRICE_PER_M_OUT', 'ORMCP_ALLOWED_PLUGINS', 'ORMCP_LEDGER_DAYS'].sort(),
    );
    for (const [name, value] of Object.entries(published)) expect(env[name]).toBe(value);
  });

  test('settings too long for one output are left out of it, with a warning at synth', () => {
    const long = synth({ allowedModels: Array.from({ length: 200 }, (_, i) => `vendor-${i}/model-with-a-long-name-${i}`) });
    expect((long.json.Outputs as Record<string, unknown>).TeamControl).toBeUndefined();
    expect(Annotations.fromStack(long.stack).findWarning('*', Match.stringLikeRegexp('too long for the TeamControl output'))).toHaveLength(1);
  });

  test('allowedPlugins "none" allows no plugin', () => {
    expect(readConfig(new App({ context: { allowedPlugins: 'none' } }).node).teamControlEnv.ORMCP_ALLOWED_PLUGINS).toBe('none');
  });
});
