/**
 * The alarms an operator needs, each on a signal that means users are failing rather than on noise:
 *   - API 5xx rate (API Gateway's own 5XXError / Count on the stage, so failures outside the app count too);
 *   - Lambda errors (invocations that failed or timed out) and Lambda throttles (no concurrency left);
 *   - per-user limit refusals (our `Throttles` EMF metric): users hammering the server, or limits set too tight;
 *   - upstream error rate (our `UpstreamErrors` / `ToolCalls`): OpenRouter or its providers failing;
 *   - budget refusals (our `BudgetRefusals`): users hitting their spending caps, or caps set too tight.
 * Rates use metric math with a floor on traffic, so two failed requests at 3 a.m. do not page anyone. Missing data
 * (no traffic, or no EMF line yet) is "not breaching". Notifications go to an optional SNS topic: a new one with
 * an email subscription, and/or an existing one.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { DIM_SERVICE, METRIC, METRICS_NAMESPACE } from '../../lambda/observability/metrics.js';

export interface AlarmThresholds {
  /** Percent of API requests answered 5xx, per 5 minutes (2 of 3 periods). */
  readonly api5xxPercent: number;
  /** Percent of tool calls whose upstream failed, per 5 minutes (2 of 3 periods). */
  readonly upstreamErrorPercent: number;
  /** Rates are only judged above this many requests (or tool calls) per 5 minutes. */
  readonly minRequests: number;
  /** Failed or timed-out invocations per 5 minutes. */
  readonly lambdaErrors: number;
  /** Throttled invocations per 5 minutes. */
  readonly lambdaThrottles: number;
  /** Per-user limit refusals per 5 minutes. */
  readonly limitRefusals: number;
  /** Generations refused by a user's budget cap per 5 minutes. */
  readonly budgetRefusals: number;
}

export const DEFAULT_THRESHOLDS: AlarmThresholds = {
  api5xxPercent: 5,
  upstreamErrorPercent: 20,
  minRequests: 10,
  lambdaErrors: 3,
  lambdaThrottles: 1,
  limitRefusals: 25,
  budgetRefusals: 10,
};

export interface McpAlarmsProps {
  readonly fn: lambda.IFunction;
  readonly stage: apigw.Stage;
  /** The `Service` dimension the function's EMF metrics carry (ORMCP_METRICS_SERVICE). */
  readonly service: string;
  /** Subscribe this address to a new topic for every alarm. */
  readonly email?: string;
  /** Also (or instead) notify this existing topic. */
  readonly topicArn?: string;
  readonly thresholds?: Partial<AlarmThresholds>;
}

const PERIOD = Duration.minutes(5);

export class McpAlarms extends Construct {
  readonly api5xxRate: cloudwatch.Alarm;
  readonly lambdaErrors: cloudwatch.Alarm;
  readonly lambdaThrottles: cloudwatch.Alarm;
  readonly limitRefusals: cloudwatch.Alarm;
  readonly upstreamErrorRate: cloudwatch.Alarm;
  readonly budgetRefusals: cloudwatch.Alarm;
  /** The topic created for `email`, if any. */
  readonly topic: sns.Topic | undefined;

  constructor(scope: Construct, id: string, props: McpAlarmsProps) {
    super(scope, id);
    const t = { ...DEFAULT_THRESHOLDS, ...props.thresholds };
    const prefix = Stack.of(this).stackName;
    const ours = (metricName: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { [DIM_SERVICE]: props.service }, statistic: 'Sum', period: PERIOD });
    const rate = (failures: cloudwatch.IMetric, total: cloudwatch.IMetric, label: string) =>
      new cloudwatch.MathExpression({
        expression: `IF(total >= ${t.minRequests}, 100 * failures / total, 0)`,
        usingMetrics: { failures, total },
        label,
        period: PERIOD,
      });
    const common = { evaluationPeriods: 1, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING } as const;

    this.api5xxRate = new cloudwatch.Alarm(this, 'Api5xxRate', {
      alarmName: `${prefix}-api-5xx-rate`,
      alarmDescription:
        `More than ${t.api5xxPercent}% of API requests answered 5xx (at least ${t.minRequests} requests per 5 minutes, 2 of 3 periods). ` +
        'Check the function log group for "request failed" / "authentication backend failed" lines and the Lambda errors alarm.',
      metric: rate(props.stage.metricServerError({ statistic: 'Sum', period: PERIOD }), props.stage.metricCount({ statistic: 'Sum', period: PERIOD }), 'API 5xx %'),
      threshold: t.api5xxPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...common,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });

    this.lambdaErrors = new cloudwatch.Alarm(this, 'LambdaErrors', {
      alarmName: `${prefix}-lambda-errors`,
      alarmDescription: `At least ${t.lambdaErrors} invocations failed or timed out in 5 minutes. Check the function log group.`,
      metric: props.fn.metricErrors({ statistic: 'Sum', period: PERIOD }),
      threshold: t.lambdaErrors,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      ...common,
    });

    this.lambdaThrottles = new cloudwatch.Alarm(this, 'LambdaThrottles', {
      alarmName: `${prefix}-lambda-throttles`,
      alarmDescription:
        'Invocations were throttled: the function ran out of concurrency (reserved concurrency or the account limit). ' +
        'Raise reservedConcurrency or the account quota, or lower maxConcurrentPerUser.',
      metric: props.fn.metricThrottles({ statistic: 'Sum', period: PERIOD }),
      threshold: t.lambdaThrottles,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      ...common,
    });

    this.limitRefusals = new cloudwatch.Alarm(this, 'LimitRefusals', {
      alarmName: `${prefix}-per-user-limit-refusals`,
      alarmDescription:
        `At least ${t.limitRefusals} tool calls in 5 minutes were refused by the per-user rate or concurrency limit. ` +
        'The "tool call refused by a per-user limit" log lines name the users; raise rateLimitPerMinute / maxConcurrentPerUser if the limits are too tight.',
      metric: ours(METRIC.throttles),
      threshold: t.limitRefusals,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      ...common,
    });

    this.upstreamErrorRate = new cloudwatch.Alarm(this, 'UpstreamErrorRate', {
      alarmName: `${prefix}-upstream-error-rate`,
      alarmDescription:
        `More than ${t.upstreamErrorPercent}% of tool calls failed upstream (OpenRouter or its providers: 5xx, timeouts, broken answers; ` +
        `at least ${t.minRequests} calls per 5 minutes, 2 of 3 periods). Check https://status.openrouter.ai and the "tool call failed upstream" log lines.`,
      metric: rate(ours(METRIC.upstreamErrors), ours(METRIC.toolCalls), 'Upstream error %'),
      threshold: t.upstreamErrorPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...common,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
    });

    this.budgetRefusals = new cloudwatch.Alarm(this, 'BudgetRefusals', {
      alarmName: `${prefix}-budget-refusals`,
      alarmDescription:
        `At least ${t.budgetRefusals} generations in 5 minutes were refused by a user's budget cap. ` +
        'The "tool call refused by the budget" log lines name the users; raise their caps (`ormcp budget set`) or the budget*Usd defaults if they are too tight.',
      metric: ours(METRIC.budgetRefusals),
      threshold: t.budgetRefusals,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      ...common,
    });

    const topics: sns.ITopic[] = [];
    if (props.email) {
      this.topic = new sns.Topic(this, 'Topic', { displayName: `${prefix} alarms`, enforceSSL: true });
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
      // The topic policy replaces SNS's default one, so CloudWatch is allowed to publish explicitly, for this
      // account's alarms only.
      const stack = Stack.of(this);
      this.topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarms',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
          conditions: {
            StringEquals: { 'aws:SourceAccount': stack.account },
            ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
          },
        }),
      );
      Validations.of(this.topic.node.defaultChild!).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'Alarm notifications carry only alarm names, states and metric values, no user data. Encrypting them would need ' +
          'a customer managed KMS key ($1/month) with a key policy for CloudWatch: the AWS managed SNS key cannot be used by alarms.',
      });
      topics.push(this.topic);
    } else {
      this.topic = undefined;
    }
    if (props.topicArn) topics.push(sns.Topic.fromTopicArn(this, 'ExistingTopic', props.topicArn));

    for (const alarm of [this.api5xxRate, this.lambdaErrors, this.lambdaThrottles, this.limitRefusals, this.upstreamErrorRate, this.budgetRefusals]) {
      for (const topic of topics) {
        alarm.addAlarmAction(new actions.SnsAction(topic));
        alarm.addOkAction(new actions.SnsAction(topic));
      }
    }
  }
}
