/**
 * CDK app entry (`cdk.json`: `npx tsx infra/app.ts`).
 *
 * Context: `stackName` (default OpenRouterMcp) names the stack and its construct id, so several copies can live
 * in one account/region (`-c stackName=OpenRouterMcp-dev`). `lambdaEntry` overrides the handler module (tests).
 * Everything else is read by the stack (infra/config.ts).
 */
import { App } from 'aws-cdk-lib';
import { applyNagChecks } from './nag.js';
import { OpenRouterMcpStack } from './stack.js';

const app = new App();

const stackName = String(app.node.tryGetContext('stackName') ?? 'OpenRouterMcp');
const lambdaEntry = app.node.tryGetContext('lambdaEntry') as string | undefined;

new OpenRouterMcpStack(app, stackName, {
  stackName,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  ...(lambdaEntry ? { lambdaEntry } : {}),
});

applyNagChecks(app);
app.synth();
