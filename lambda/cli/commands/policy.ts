/** `ormcp policy show`: the operator policy in force, as the server reads it from its environment (the stack's, with --stack). */
import { createPolicy, describePolicy } from '../../policy/policy.js';
import { WINDOWS } from '../../budget/windows.js';
import { json } from '../format.js';
import { serverSettings } from '../server-settings.js';
import type { CommandSpec } from '../spec.js';
import { usdCell } from '../usage-report.js';

export const policyShow: CommandSpec = {
  path: ['policy', 'show'],
  summary: 'the policy in force: models, data policy, price ceiling, plugins, default budgets',
  synopsis: 'policy show [--json]',
  positionals: [],
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'the settings as JSON']],
  details:
    'Read from the ORMCP_* variables the server reads (ORMCP_ALLOWED_MODELS, ORMCP_DENIED_MODELS, ORMCP_REQUIRE_ZDR, …): this shell\'s, or with --stack the deployed function\'s (the stack\'s TeamControl output).',
  async run(ctx) {
    const { policy, budgetDefaults } = await serverSettings(ctx);
    const view = describePolicy(createPolicy(policy));
    if (ctx.values.json) {
      ctx.out(json({ ...view, budgetDefaults: Object.fromEntries(WINDOWS.map((w) => [w, budgetDefaults[w] ?? null])) }));
      return 0;
    }
    for (const line of view.summary) ctx.out(line);
    ctx.out(`Default budgets: ${WINDOWS.map((w) => `${w} ${budgetDefaults[w] === undefined ? 'no cap' : usdCell(budgetDefaults[w]!)}`).join(', ')}.`);
    return 0;
  },
};
