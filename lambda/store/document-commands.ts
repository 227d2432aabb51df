/**
 * Look-alikes of @aws-sdk/lib-dynamodb's command classes, for the Lambda bundle: the bundling step
 * (infra/constructs/mcp-function-bundling.ts) resolves `@aws-sdk/lib-dynamodb` to this file, so the stores' own
 * `new GetCommand({...})` build plain `{ input, operation }` objects for documentClientOverRpc (dynamo-rpc.ts) and
 * the AWS SDK stays out of the bundle. Everywhere else (tests, `npm start`, the CLI) the stores get the real
 * classes and the SDK's DocumentClient. Only the commands the stores send are here: importing any other value of
 * lib-dynamodb into the Lambda's code fails its build instead of failing at run time.
 */
import type { BatchGetCommandInput, BatchWriteCommandInput, DeleteCommandInput, GetCommandInput, PutCommandInput, QueryCommandInput, UpdateCommandInput } from '@aws-sdk/lib-dynamodb';

abstract class DocumentCommand<I extends object> {
  /** DynamoDB's operation name; class names do not survive minification. */
  abstract readonly operation: string;
  constructor(readonly input: I) {}
}

export class GetCommand extends DocumentCommand<GetCommandInput> {
  readonly operation = 'GetItem';
}
export class PutCommand extends DocumentCommand<PutCommandInput> {
  readonly operation = 'PutItem';
}
export class UpdateCommand extends DocumentCommand<UpdateCommandInput> {
  readonly operation = 'UpdateItem';
}
export class DeleteCommand extends DocumentCommand<DeleteCommandInput> {
  readonly operation = 'DeleteItem';
}
export class QueryCommand extends DocumentCommand<QueryCommandInput> {
  readonly operation = 'Query';
}
export class BatchGetCommand extends DocumentCommand<BatchGetCommandInput> {
  readonly operation = 'BatchGetItem';
}
export class BatchWriteCommand extends DocumentCommand<BatchWriteCommandInput> {
  readonly operation = 'BatchWriteItem';
}
