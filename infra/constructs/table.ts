/**
 * The one DynamoDB table (single-table design, key names shared with the app in lambda/store/schema.ts):
 * tokens (hashed), users, encrypted OpenRouter keys, and later OAuth clients/codes and usage.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE } from '../../lambda/store/schema.js';

export interface McpTableProps {
  /**
   * Deletion protection and RETAIN removal policy. Off only for throwaway stacks.
   * @default true
   */
  readonly deletionProtection?: boolean;
}

export class McpTable extends Construct {
  /** The name of the single global secondary index. */
  static readonly GSI1 = TABLE.index.name;

  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: McpTableProps = {}) {
    super(scope, id);
    const protect = props.deletionProtection ?? true;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // AWS-managed KMS key (alias/aws/dynamodb): encrypted at rest with key use visible in CloudTrail, and no key
      // policy for the operator to manage or lose. Secrets in items are additionally encrypted by the app
      // (AES-256-GCM under a key derived from the server secret), so a customer-managed key adds little here.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: protect,
      removalPolicy: protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.table.addGlobalSecondaryIndex({
      indexName: McpTable.GSI1,
      partitionKey: { name: TABLE.index.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE.index.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
