/**
 * A WAFv2 web ACL in front of the API stage: a per-IP rate-based rule (evaluated first, answers 429) and AWS's
 * managed common rule set. The stage throttle is one bucket shared by every caller; this rule stops one address
 * from spending it, before a Lambda runs.
 *
 * Cost (us-east-1 list prices): $5 per web ACL per month + $1 per rule per month (two rules) + $0.60 per million
 * requests inspected.
 *
 * Requests are not logged and not sampled: WAF samples and logs carry the request headers, and ours carry bearer
 * tokens. CloudWatch metrics (counts only) are kept.
 */
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';

/**
 * Rules of the common rule set that inspect bodies and query strings in ways this API's legitimate traffic trips,
 * switched to Count (still measured, never blocking):
 * - `SizeRestrictions_BODY` blocks bodies over 8 KB; a `tools/call` with a long prompt is bigger (the app caps
 *   bodies itself).
 * - `CrossSiteScripting_BODY`, `GenericLFI_BODY`, `GenericRFI_BODY`, `EC2MetaDataSSRF_BODY`: prompts are free text
 *   and routinely contain HTML, paths, URLs and 169.254.169.254 when users ask about them; the body goes to a model,
 *   not to a shell or a template.
 * - `GenericRFI_QUERYARGUMENTS` blocks query values holding URLs with IPv4 hosts: OAuth's `redirect_uri` is
 *   `http://127.0.0.1:<port>/...` for every native MCP client.
 */
export const COUNTED_COMMON_RULES = [
  'SizeRestrictions_BODY',
  'CrossSiteScripting_BODY',
  'GenericLFI_BODY',
  'GenericRFI_BODY',
  'EC2MetaDataSSRF_BODY',
  'GenericRFI_QUERYARGUMENTS',
] as const;

export interface McpWafProps {
  readonly stage: apigw.Stage;
  /** Requests per client IP per 5-minute window. */
  readonly rateLimitPer5Min: number;
  /** CloudWatch metric name prefix. */
  readonly metricPrefix: string;
}

export class McpWaf extends Construct {
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: McpWafProps) {
    super(scope, id);
    const visibility = (name: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${props.metricPrefix}-${name}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 128),
      sampledRequestsEnabled: false,
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      description: 'OpenRouter MCP API: per-IP rate limit and AWS common rules',
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('web-acl'),
      rules: [
        {
          name: 'RatePerIp',
          priority: 0,
          statement: {
            rateBasedStatement: { aggregateKeyType: 'IP', limit: props.rateLimitPer5Min, evaluationWindowSec: 300 },
          },
          // 429, as the app's own limits answer, so clients back off instead of reporting an error page.
          action: { block: { customResponse: { responseCode: 429 } } },
          visibilityConfig: visibility('rate-per-ip'),
        },
        {
          name: 'AwsCommonRules',
          priority: 1,
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              ruleActionOverrides: COUNTED_COMMON_RULES.map((name) => ({ name, actionToUse: { count: {} } })),
            },
          },
          overrideAction: { none: {} },
          visibilityConfig: visibility('aws-common-rules'),
        },
      ],
    });

    const association = new wafv2.CfnWebACLAssociation(this, 'StageAssociation', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
    // The stage ARN is built from names, not from the Stage resource: the stage must exist first.
    association.node.addDependency(props.stage);
  }
}
