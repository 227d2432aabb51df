/**
 * The public HTTP front: an API Gateway REST API (REGIONAL) whose every path and method is proxied to the one
 * Lambda in response-STREAM mode (`/mcp`, `/.well-known/*`, `/oauth/*`, `/`, `/app/*`; routing is the app's job).
 *
 * Streaming lets a response run past the 29 s buffered limit: API Gateway allows a streamed integration up to
 * 15 minutes (900,000 ms), with a 5 minute idle timeout on REGIONAL endpoints
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html).
 */
import { Stack, Token, Validations, type Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { CustomDomainConfig } from '../config.js';
import { McpWaf } from './waf.js';

export interface McpApiProps {
  readonly handler: lambda.IFunction;
  readonly stageName: string;
  /** Integration timeout (≤ 15 minutes with streaming). */
  readonly integrationTimeout: Duration;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly logRetention: logs.RetentionDays;
  readonly customDomain?: CustomDomainConfig;
  /** A WAF web ACL on the stage with this per-IP limit (requests per 5 minutes); none when undefined. */
  readonly wafRateLimit?: number;
}

/**
 * One JSON object per request. Deliberately absent: headers (Authorization), query strings (OAuth codes and
 * states travel there), bodies. `$context.path` is the path without the query string.
 */
const ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(
  JSON.stringify({
    requestId: apigw.AccessLogField.contextRequestId(),
    extendedRequestId: apigw.AccessLogField.contextExtendedRequestId(),
    requestTime: apigw.AccessLogField.contextRequestTime(),
    requestTimeEpoch: apigw.AccessLogField.contextRequestTimeEpoch(),
    ip: apigw.AccessLogField.contextIdentitySourceIp(),
    userAgent: apigw.AccessLogField.contextIdentityUserAgent(),
    domainName: apigw.AccessLogField.contextDomainName(),
    httpMethod: apigw.AccessLogField.contextHttpMethod(),
    path: apigw.AccessLogField.contextPath(),
    resourcePath: apigw.AccessLogField.contextResourcePath(),
    protocol: apigw.AccessLogField.contextProtocol(),
    status: apigw.AccessLogField.contextStatus(),
    responseLength: apigw.AccessLogField.contextResponseLength(),
    responseLatency: apigw.AccessLogField.contextResponseLatency(),
    integrationStatus: apigw.AccessLogField.contextIntegrationStatus(),
    integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
    integrationError: apigw.AccessLogField.contextIntegrationErrorMessage(),
    errorMessage: apigw.AccessLogField.contextErrorMessage(),
    errorType: apigw.AccessLogField.contextErrorResponseType(),
  }),
);

export class McpApi extends Construct {
  readonly api: apigw.RestApi;
  readonly stage: apigw.Stage;
  readonly accessLogGroup: logs.LogGroup;
  /** `https://<id>.execute-api.<region>.<suffix>/<stage>` — depends only on the RestApi resource (no cycle). */
  readonly executeApiUrl: string;
  /** The base every public URL is built on: the custom domain if configured, else {@link executeApiUrl}. */
  readonly publicUrl: string;
  readonly domain?: apigw.DomainName;
  readonly waf?: McpWaf;

  constructor(scope: Construct, id: string, props: McpApiProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });

    this.api = new apigw.RestApi(this, 'RestApi', {
      restApiName: `${stack.stackName}-api`,
      description: 'OpenRouter MCP: MCP endpoint, OAuth authorization-server façade and web pages',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // The account-level API Gateway → CloudWatch Logs role, needed for execution (error) logs.
      cloudWatchRole: true,
      deployOptions: {
        stageName: props.stageName,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: ACCESS_LOG_FORMAT,
        // Execution logs at ERROR only; never data traces (they would log request bodies and tokens).
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        // Per-method detailed metrics are billed as custom metrics; the free stage-level metrics suffice.
        metricsEnabled: false,
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
      },
    });
    // RestApi always adds an "Endpoint" output; the stack exports its own, named ones instead.
    this.api.node.tryRemoveChild('Endpoint');
    this.stage = this.api.deploymentStage;

    // API Gateway creates the execution log group on first use with no expiry; create it first, with retention.
    const executionLogs = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${props.stageName}`,
      retention: props.logRetention,
    });
    this.stage.node.addDependency(executionLogs);

    const integration = new apigw.LambdaIntegration(props.handler, {
      proxy: true,
      responseTransferMode: apigw.ResponseTransferMode.STREAM,
      timeout: props.integrationTimeout,
      allowTestInvoke: false,
    });
    const methods = [
      this.api.root.addMethod('ANY', integration),
      this.api.root.addResource('{proxy+}').addMethod('ANY', integration),
    ];

    this.executeApiUrl = `https://${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${props.stageName}`;

    if (props.customDomain) {
      const certRegion = props.customDomain.certificateArn.split(':')[3];
      if (!Token.isUnresolved(stack.region) && certRegion !== stack.region) {
        throw new Error(
          `certificateArn is in ${certRegion}, but a REGIONAL custom domain needs an ACM certificate in ${stack.region}`,
        );
      }
      this.domain = new apigw.DomainName(this, 'CustomDomain', {
        domainName: props.customDomain.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
        endpointType: apigw.EndpointType.REGIONAL,
        securityPolicy: apigw.SecurityPolicy.TLS_1_2,
      });
      // The whole domain maps to the stage: https://<domain>/mcp, no stage segment.
      this.domain.addBasePathMapping(this.api, { stage: this.stage });
      this.publicUrl = `https://${props.customDomain.domainName}`;
    } else {
      this.publicUrl = this.executeApiUrl;
    }

    if (props.wafRateLimit !== undefined) {
      this.waf = new McpWaf(this, 'Waf', { stage: this.stage, rateLimitPer5Min: props.wafRateLimit, metricPrefix: stack.stackName });
    }

    // cdk-nag acknowledgments, each on the one resource it is about.
    Validations.of(this.api.node.defaultChild!).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Proxy integration to one Lambda that validates every input itself (zod schemas, JSON-RPC errors, body ' +
        'size limit); API Gateway request models would duplicate and drift from those rules.',
    });
    for (const method of methods) {
      Validations.of(method.node.defaultChild!).acknowledge(
        {
          id: 'AwsSolutions-APIG4',
          reason:
            'Authorization is done in the Lambda: MCP bearer tokens (HMAC-verified) and OAuth access tokens from the ' +
            'built-in authorization-server façade. /.well-known/*, /oauth/* and the sign-in page must be reachable ' +
            'without credentials by design (OAuth discovery and login), so an API Gateway authorizer cannot front them.',
        },
        {
          id: 'AwsSolutions-COG4',
          reason:
            'Cognito is the identity provider behind the OAuth façade, not the API authorizer: MCP clients present ' +
            'tokens issued by this server (audience-bound to the MCP resource), which a Cognito authorizer cannot verify.',
        },
      );
    }
    if (!this.waf) {
      Validations.of(this.stage.node.defaultChild!).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          'The operator turned the WAF off (context waf=false, e.g. to save its ~$7/month); the stage is still ' +
          'throttled, the function has reserved concurrency, and the app authenticates every MCP call.',
      });
    }
    Validations.of(this.api.node.findChild('CloudWatchRole').node.defaultChild!).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented managed policy for the regional API Gateway ' +
        'CloudWatch Logs role (required for execution logging); it grants only CloudWatch Logs actions.',
    });
  }
}
