/**
 * Denial-of-service protection on the deployed stack, asserted on the synthesized template: the WAF web ACL on the
 * stage (on by default, tunable, removable), reserved concurrency (on by default, tunable, removable), and cdk-nag
 * staying clean either way.
 */
import { App } from 'aws-cdk-lib';
import { DEFAULT_RESERVED_CONCURRENCY, DEFAULT_WAF_RATE_LIMIT, readConfig } from '../../infra/config.js';
import { COUNTED_COMMON_RULES } from '../../infra/constructs/waf.js';
import { onlyResource, resourcesOf, synth, type Synthesized } from './support/synth.js';

function acknowledged(s: Synthesized): string[] {
  return s.app.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules').map((m) => [c.node.path, m.data] as const))
    .flatMap(([path, data]) => Object.keys(data as Record<string, string>).map((id) => `${path} ${id.replace(/^Annotation::/, '')}`));
}

describe('default: WAF web ACL on the stage and reserved concurrency', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth();
  });

  test('one REGIONAL web ACL that allows by default, with the per-IP rate rule first and the AWS common rules second', () => {
    const [, acl] = onlyResource(s.json, 'AWS::WAFv2::WebACL');
    const p = acl.Properties;
    expect(p.Scope).toBe('REGIONAL');
    expect(p.DefaultAction).toEqual({ Allow: {} });
    const rules = [...(p.Rules as any[])].sort((a, b) => a.Priority - b.Priority);
    expect(rules.map((r) => r.Name)).toEqual(['RatePerIp', 'AwsCommonRules']);

    const [rate, common] = rules;
    expect(rate.Statement.RateBasedStatement).toEqual({ AggregateKeyType: 'IP', Limit: DEFAULT_WAF_RATE_LIMIT, EvaluationWindowSec: 300 });
    expect(rate.Action).toEqual({ Block: { CustomResponse: { ResponseCode: 429 } } });

    expect(common.Statement.ManagedRuleGroupStatement).toMatchObject({ VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet' });
    expect(common.OverrideAction).toEqual({ None: {} });
    // Only the rules our legitimate traffic trips are counted instead of blocking (see waf.ts for each reason).
    const overrides = common.Statement.ManagedRuleGroupStatement.RuleActionOverrides as any[];
    expect(overrides.map((o) => o.Name).sort()).toEqual([...COUNTED_COMMON_RULES].sort());
    for (const o of overrides) expect(o.ActionToUse).toEqual({ Count: {} });
    expect(overrides.map((o) => o.Name)).not.toContain('NoUserAgent_HEADER');
  });

  test('no request is sampled (samples keep headers, and ours carry bearer tokens), and no WAF logging', () => {
    const [, acl] = onlyResource(s.json, 'AWS::WAFv2::WebACL');
    const configs = [acl.Properties.VisibilityConfig, ...(acl.Properties.Rules as any[]).map((r) => r.VisibilityConfig)];
    for (const v of configs) {
      expect(v.SampledRequestsEnabled).toBe(false);
      expect(v.CloudWatchMetricsEnabled).toBe(true);
    }
    expect(resourcesOf(s.json, 'AWS::WAFv2::LoggingConfiguration')).toEqual({});
  });

  test('the web ACL is associated with the API stage, after the stage exists', () => {
    const [aclId] = onlyResource(s.json, 'AWS::WAFv2::WebACL');
    const [stageId] = onlyResource(s.json, 'AWS::ApiGateway::Stage');
    const restApiId = onlyResource(s.json, 'AWS::ApiGateway::RestApi')[0];
    const [, association] = onlyResource(s.json, 'AWS::WAFv2::WebACLAssociation');
    expect(association.Properties.WebACLArn).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
    const arn = JSON.stringify(association.Properties.ResourceArn);
    expect(arn).toContain(`"Ref":"${restApiId}"`);
    expect(arn).toContain(`"/stages/",{"Ref":"${stageId}"}`);
    expect(onlyResource(s.json, 'AWS::ApiGateway::Stage')[1].Properties.StageName).toBe('prod');
  });

  test('reserved concurrency is set', () => {
    const [, fn] = onlyResource(s.json, 'AWS::Lambda::Function');
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(DEFAULT_RESERVED_CONCURRENCY);
  });

  test('cdk-nag is clean without the WAF acknowledgment (the stage has a web ACL)', () => {
    expect(s.nag.violations).toEqual([]);
    expect(acknowledged(s).join('\n')).not.toMatch(/APIG3/);
  });
});

describe('context: wafRateLimit and reservedConcurrency tuned', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ wafRateLimit: '300', reservedConcurrency: 7 });
  });

  test('the rate rule and the function follow context', () => {
    const [, acl] = onlyResource(s.json, 'AWS::WAFv2::WebACL');
    const rate = (acl.Properties.Rules as any[]).find((r) => r.Name === 'RatePerIp');
    expect(rate.Statement.RateBasedStatement.Limit).toBe(300);
    expect(onlyResource(s.json, 'AWS::Lambda::Function')[1].Properties.ReservedConcurrentExecutions).toBe(7);
  });
});

describe('context: waf=false and reservedConcurrency=0 (both off)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ waf: 'false', reservedConcurrency: '0' });
  });

  test('no web ACL, no association, no reserved concurrency', () => {
    expect(resourcesOf(s.json, 'AWS::WAFv2::WebACL')).toEqual({});
    expect(resourcesOf(s.json, 'AWS::WAFv2::WebACLAssociation')).toEqual({});
    expect(onlyResource(s.json, 'AWS::Lambda::Function')[1].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  test('cdk-nag stays clean through a reasoned acknowledgment on the stage', () => {
    expect(s.nag.violations).toEqual([]);
    expect(acknowledged(s)).toContain('OpenRouterMcp/Api/RestApi/DeploymentStage.prod/Resource AwsSolutions-APIG3');
  });
});

describe('context validation: WAF and reserved concurrency', () => {
  const configFor = (context: Record<string, unknown>) => readConfig(new App({ context }).node);

  test('defaults on; "none" and 0 turn reserved concurrency off; waf accepts true/false strings', () => {
    expect(configFor({})).toMatchObject({ waf: true, wafRateLimit: DEFAULT_WAF_RATE_LIMIT, reservedConcurrency: DEFAULT_RESERVED_CONCURRENCY });
    expect(configFor({ reservedConcurrency: 'none' }).reservedConcurrency).toBeUndefined();
    expect(configFor({ reservedConcurrency: 0 }).reservedConcurrency).toBeUndefined();
    expect(configFor({ waf: 'FALSE' }).waf).toBe(false);
  });

  test.each([
    [{ waf: 'off' }, /"waf" must be true or false/],
    [{ wafRateLimit: 9 }, /"wafRateLimit" must be an integer from 10/],
    [{ wafRateLimit: 'fast' }, /wafRateLimit/],
    [{ reservedConcurrency: -1 }, /reservedConcurrency/],
    [{ reservedConcurrency: 'lots' }, /reservedConcurrency/],
  ])('rejects %j', (context, message) => {
    expect(() => configFor(context)).toThrow(message);
  });
});
