/** Synthesizes the stack once per context variant for the infrastructure tests (fixture Lambda entry). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { PolicyValidationPluginReport } from 'aws-cdk-lib';
import { applyNagChecks } from '../../../infra/nag.js';
import { OpenRouterMcpStack } from '../../../infra/stack.js';

export const PROJECT_ROOT = path.resolve(__dirname, '../../..');
export const FIXTURE_ENTRY = 'test/infra/fixtures/handler.ts';
export const ENV = { account: '123456789012', region: 'us-east-1' };

/** The feature flags and settings from cdk.json, so tests see what `cdk synth` sees. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export interface Synthesized {
  app: App;
  stack: OpenRouterMcpStack;
  template: Template;
  json: Record<string, any>;
  /** cdk-nag AwsSolutions report over the whole app (after acknowledgments). */
  nag: PolicyValidationPluginReport;
}

export function synth(context: Record<string, unknown> = {}, stackName = 'OpenRouterMcp'): Synthesized {
  const app = new App({ context: { ...cdkJsonContext(), ...context } });
  const stack = new OpenRouterMcpStack(app, stackName, {
    stackName,
    env: ENV,
    lambdaEntry: FIXTURE_ENTRY,
    projectRoot: PROJECT_ROOT,
  });
  const checks = applyNagChecks(app);
  // Template.fromStack synthesizes the app, which runs the cdk-nag plugin: any finding throws here.
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON(), nag: checks.validateScope(app) };
}

/** Resources of one type, by logical id. */
export function resourcesOf(json: Record<string, any>, type: string): Record<string, any> {
  return Object.fromEntries(Object.entries(json.Resources as Record<string, any>).filter(([, r]) => r.Type === type));
}

export function onlyResource(json: Record<string, any>, type: string): [string, any] {
  const all = Object.entries(resourcesOf(json, type));
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0]!;
}
