/**
 * cdk-nag v3: the AwsSolutions pack runs as a CDK policy-validation plugin on every synth; any unacknowledged
 * finding fails the synth. Acknowledgments (`Validations.of(x).acknowledge({ id, reason })`) live next to the
 * resources they cover, each with its reason.
 */
import { Validations, type Stage } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

export function applyNagChecks(app: Stage): AwsSolutionsChecks {
  const checks = new AwsSolutionsChecks(app, { verbose: true });
  Validations.of(app).addPlugins(checks);
  return checks;
}
