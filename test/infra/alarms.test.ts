/**
 * Per-user limits and observability in the stack: the limits and metrics settings reach the function, six alarms
 * watch the API 5xx rate, Lambda errors and throttles, per-user limit refusals and the upstream error rate (reading
 * the metric names and namespace the app writes) and budget refusals, and notifications go to an optional topic. cdk-nag stays clean.
 */
import { App } from 'aws-cdk-lib';
import { readConfig } from '../../infra/config.js';
import { DEFAULT_THRESHOLDS } from '../../infra/constructs/alarms.js';
import { METRIC, METRICS_NAMESPACE } from '../../lambda/observability/metrics.js';
import { cdkJsonContext, onlyResource, resourcesOf, synth, type Synthesized } from './support/synth.js';

const ALARMS = ['api-5xx-rate', 'lambda-errors', 'lambda-throttles', 'per-user-limit-refusals', 'upstream-error-rate', 'budget-refusals'];

function alarmsOf(s: Synthesized): Record<string, any> {
  return Object.fromEntries(Object.values(resourcesOf(s.json, 'AWS::CloudWatch::Alarm')).map((a) => [String(a.Properties.AlarmName).replace(/^OpenRouterMcp-/, ''), a.Properties]));
}

function env(s: Synthesized): Record<string, unknown> {
  return onlyResource(s.json, 'AWS::Lambda::Function')[1].Properties.Environment.Variables;
}

/** The metric queries of a metric-math alarm, by id. */
function queries(alarm: any): Record<string, any> {
  return Object.fromEntries((alarm.Metrics as any[]).map((m) => [m.Id, m]));
}

function acknowledgments(s: Synthesized): string[] {
  return s.app.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => `${c.node.path} ${id.replace(/^Annotation::/, '')} ${reason.length > 60 ? 'reasoned' : 'UNREASONED'}`)),
  );
}

describe('default stack: limits on, metrics on, alarms without notifications', () => {
  let s: Synthesized;
  let functionId: string;
  beforeAll(() => {
    s = synth();
    functionId = onlyResource(s.json, 'AWS::Lambda::Function')[0];
  });

  test('the function gets the limits from cdk.json and writes EMF metrics under the stack name', () => {
    expect(cdkJsonContext()).toMatchObject({ rateLimitPerMinute: 60, maxConcurrentPerUser: 4 });
    expect(env(s)).toMatchObject({
      ORMCP_RATE_LIMIT_PER_MINUTE: '60',
      ORMCP_MAX_CONCURRENT_PER_USER: '4',
      ORMCP_METRICS: 'emf',
      ORMCP_METRICS_SERVICE: 'OpenRouterMcp',
    });
  });

  test('five alarms, named after the stack, missing data not breaching, no actions', () => {
    const alarms = alarmsOf(s);
    expect(Object.keys(alarms).sort()).toEqual([...ALARMS].sort());
    for (const a of Object.values(alarms)) {
      expect(a.TreatMissingData).toBe('notBreaching');
      expect(a.AlarmDescription.length).toBeGreaterThan(40);
      expect(a.AlarmActions).toBeUndefined();
      expect(a.OKActions).toBeUndefined();
    }
    expect(resourcesOf(s.json, 'AWS::SNS::Topic')).toEqual({});
  });

  test('API 5xx rate: 5XXError / Count of the stage, judged above a traffic floor, 2 of 3 five-minute periods', () => {
    const alarm = alarmsOf(s)['api-5xx-rate'];
    const q = queries(alarm);
    expect(Object.values(q).find((m: any) => m.Expression)?.Expression).toBe(
      `IF(total >= ${DEFAULT_THRESHOLDS.minRequests}, 100 * failures / total, 0)`,
    );
    expect(q.failures.MetricStat.Metric).toMatchObject({ Namespace: 'AWS/ApiGateway', MetricName: '5XXError' });
    expect(q.total.MetricStat.Metric).toMatchObject({ Namespace: 'AWS/ApiGateway', MetricName: 'Count' });
    for (const id of ['failures', 'total']) {
      expect(q[id].MetricStat.Stat).toBe('Sum');
      expect(q[id].MetricStat.Period).toBe(300);
      expect(q[id].ReturnData).toBe(false);
      expect(q[id].MetricStat.Metric.Dimensions.map((d: any) => d.Name).sort()).toEqual(['ApiName', 'Stage']);
      expect(q[id].MetricStat.Metric.Dimensions.find((d: any) => d.Name === 'Stage').Value).toEqual({ Ref: onlyResource(s.json, 'AWS::ApiGateway::Stage')[0] });
    }
    expect(alarm).toMatchObject({ Threshold: DEFAULT_THRESHOLDS.api5xxPercent, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 2 });
  });

  test('upstream error rate: our UpstreamErrors / ToolCalls for this service (the names the app writes)', () => {
    const alarm = alarmsOf(s)['upstream-error-rate'];
    const q = queries(alarm);
    const service = [{ Name: 'Service', Value: 'OpenRouterMcp' }];
    expect(q.failures.MetricStat.Metric).toEqual({ Namespace: METRICS_NAMESPACE, MetricName: METRIC.upstreamErrors, Dimensions: service });
    expect(q.total.MetricStat.Metric).toEqual({ Namespace: METRICS_NAMESPACE, MetricName: METRIC.toolCalls, Dimensions: service });
    expect(alarm).toMatchObject({ Threshold: DEFAULT_THRESHOLDS.upstreamErrorPercent, EvaluationPeriods: 3, DatapointsToAlarm: 2 });
  });

  test('Lambda errors and throttles of this function; limit refusals from our Throttles metric', () => {
    const alarms = alarmsOf(s);
    for (const [name, metric, threshold] of [
      ['lambda-errors', 'Errors', DEFAULT_THRESHOLDS.lambdaErrors],
      ['lambda-throttles', 'Throttles', DEFAULT_THRESHOLDS.lambdaThrottles],
    ] as const) {
      expect(alarms[name]).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Statistic: 'Sum',
        Period: 300,
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId } }],
      });
    }
    expect(alarms['per-user-limit-refusals']).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.throttles,
      Dimensions: [{ Name: 'Service', Value: 'OpenRouterMcp' }],
      Statistic: 'Sum',
      Threshold: DEFAULT_THRESHOLDS.limitRefusals,
    });
  });

  test('budget refusals from our BudgetRefusals metric (the name the app writes)', () => {
    expect(alarmsOf(s)['budget-refusals']).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.budgetRefusals,
      Dimensions: [{ Name: 'Service', Value: 'OpenRouterMcp' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: DEFAULT_THRESHOLDS.budgetRefusals,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('metrics come from logs: the function needs no cloudwatch:PutMetricData', () => {
    expect(JSON.stringify(resourcesOf(s.json, 'AWS::IAM::Policy'))).not.toContain('cloudwatch:');
  });
});

describe('context: alarm email, limits changed', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ alarmEmail: 'ops@example.com', rateLimitPerMinute: '0', maxConcurrentPerUser: 10 }, 'OpenRouterMcp');
  });

  test('the limits follow context (0 turns the rate limit off)', () => {
    expect(env(s)).toMatchObject({ ORMCP_RATE_LIMIT_PER_MINUTE: '0', ORMCP_MAX_CONCURRENT_PER_USER: '10' });
  });

  test('a topic with the email subscribed; every alarm notifies it on ALARM and OK', () => {
    const [topicId, topic] = onlyResource(s.json, 'AWS::SNS::Topic');
    expect(topic.Properties.DisplayName).toBe('OpenRouterMcp alarms');
    const [, sub] = onlyResource(s.json, 'AWS::SNS::Subscription');
    expect(sub.Properties).toMatchObject({ Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: topicId } });
    const alarms = alarmsOf(s);
    expect(Object.keys(alarms)).toHaveLength(ALARMS.length);
    for (const a of Object.values(alarms)) {
      expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(a.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  test('topic policy: TLS only, and CloudWatch may publish for this account\'s alarms only', () => {
    const [, policy] = onlyResource(s.json, 'AWS::SNS::TopicPolicy');
    const statements = policy.Properties.PolicyDocument.Statement as any[];
    const tls = statements.find((st) => st.Effect === 'Deny');
    expect(tls.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    const cw = statements.find((st) => st.Sid === 'CloudWatchAlarms');
    expect(cw).toMatchObject({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' });
    expect(cw.Condition.StringEquals['aws:SourceAccount']).toBe('123456789012');
    expect(JSON.stringify(cw.Condition.ArnLike['aws:SourceArn'])).toContain(':cloudwatch:us-east-1:123456789012:alarm:*');
  });

  test('cdk-nag clean; the one new acknowledgment (SNS2, topic encryption) is on the topic with its reason', () => {
    expect(s.nag.violations).toEqual([]);
    expect(s.nag.success).toBe(true);
    const acks = acknowledgments(s).filter((a) => a.includes('/Alarms/'));
    expect(acks).toEqual(['OpenRouterMcp/Alarms/Topic/Resource AwsSolutions-SNS2 reasoned']);
  });
});

describe('context: an existing alarm topic', () => {
  let s: Synthesized;
  const topicArn = 'arn:aws:sns:us-east-1:123456789012:ops-pager';
  beforeAll(() => {
    s = synth({ alarmTopicArn: topicArn });
  });

  test('every alarm notifies that topic; no topic is created', () => {
    expect(resourcesOf(s.json, 'AWS::SNS::Topic')).toEqual({});
    for (const a of Object.values(alarmsOf(s))) {
      expect(a.AlarmActions).toEqual([topicArn]);
      expect(a.OKActions).toEqual([topicArn]);
    }
    expect(s.nag.violations).toEqual([]);
  });
});

describe('context validation', () => {
  test.each([
    [{ rateLimitPerMinute: -1 }, /rateLimitPerMinute/],
    [{ rateLimitPerMinute: 100_001 }, /rateLimitPerMinute/],
    [{ maxConcurrentPerUser: 'many' }, /maxConcurrentPerUser/],
    [{ alarmEmail: 'not-an-address' }, /alarmEmail/],
    [{ alarmTopicArn: 'ops-pager' }, /alarmTopicArn/],
    [{ alarmTopicArn: 'arn:aws:sqs:us-east-1:123456789012:q' }, /alarmTopicArn/],
  ])('rejects %j', (context, message) => {
    expect(() => readConfig(new App({ context }).node)).toThrow(message);
  });

  test('defaults without cdk.json: the app\'s own defaults, no notifications', () => {
    expect(readConfig(new App().node)).toMatchObject({ rateLimitPerMinute: 60, maxConcurrentPerUser: 4, alarmEmail: undefined, alarmTopicArn: undefined });
  });
});
