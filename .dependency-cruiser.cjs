/**
 * The import rules `npm test` checks (test/architecture/imports.test.ts). Imports run one way, from the hosts
 * down to crypto and observability:
 *
 *   hosts      aws/ (Lambda)   local/ (npm start)   cli/ (ormcp)
 *   app        app/            composition root, routing, configuration contract
 *   features   mcp/ tools/ team/ oauth/ web/
 *   services   openrouter/ catalog/ limits/ auth/ store/ ui/ (page kit: HTML templates, CSP, pages, sessions, cookies);
 *              images/ (where generated images are kept: S3, the data dir)
 *   base       http/ crypto/ observability/ version.ts; policy/ budget/ (pure team-control rules, no I/O);
 *              aws-sdk/ (the bounded-requests setting every AWS SDK client shares); mcp-clients/ (client setup snippets)
 *
 * A module may import its own folder and any folder on a lower floor, never one on its own floor (features and
 * services name their peers explicitly below) or above. infra/ may import only the contracts it shares with the
 * runtime (the environment contract, the table schema, the metric names, and the tool schemas it precomputes).
 */
const FLOORS = [
  ['aws', 'local', 'cli'],
  ['app'],
  ['mcp', 'tools', 'team', 'oauth', 'web'],
  ['openrouter', 'catalog', 'limits', 'auth', 'store', 'ui', 'images'],
  ['http', 'crypto', 'observability', 'policy', 'budget', 'aws-sdk', 'mcp-clients'],
];
/** Peers on one floor that one may import: [from, to]. */
const PEER_EDGES = [
  ['cli', 'local'], // the CLI's local mode opens the same embedded store npm start runs
  ['mcp', 'tools'], // the MCP server registers the tools
  ['tools', 'team'], // every paid tool call runs inside team control (policy, budget, ledger)
  ['team', 'tools'], // team control records the tool call's outcome type
  ['web', 'oauth'], // the pages sign users in through oauth/sign-in.ts, the step the OAuth flow uses too
  ['tools', 'catalog'],
  ['tools', 'openrouter'],
  ['tools', 'limits'],
  ['catalog', 'openrouter'],
  ['limits', 'store'],
  ['auth', 'store'],
  ['store', 'auth'],
];

const floorOf = new Map(FLOORS.flatMap((names, i) => names.map((n) => [n, i])));
const folders = [...floorOf.keys()];
const forbidden = [];
for (const from of folders) {
  const allowed = folders.filter((to) => to === from || floorOf.get(to) > floorOf.get(from) || PEER_EDGES.some(([a, b]) => a === from && b === to));
  const denied = folders.filter((to) => !allowed.includes(to));
  if (denied.length === 0) continue;
  forbidden.push({
    name: `layer-${from}`,
    comment: `lambda/${from}/ sits on floor ${floorOf.get(from)}; it may not import ${denied.join(', ')} (see the floors at the top of this file)`,
    severity: 'error',
    from: { path: `^lambda/${from}/` },
    to: { path: `^lambda/(${denied.join('|')})/` },
  });
}
forbidden.push(
  { name: 'no-circular', comment: 'import cycles make the floors meaningless', severity: 'error', from: {}, to: { circular: true } },
  {
    name: 'runtime-not-infra-or-tests',
    comment: 'the Lambda bundle and the local tools never import the stack or the tests',
    severity: 'error',
    from: { path: '^lambda/' },
    to: { path: '^(infra|test|bench)/' },
  },
  {
    name: 'infra-only-contracts',
    comment:
      'the stack shares only contracts with the runtime: the environment contract, the table schema, the metric names ' +
      'and the tool schemas the bundling step precomputes',
    severity: 'error',
    from: { path: '^infra/' },
    to: { path: '^lambda/', pathNot: '^lambda/(app/env-contract|store/schema|observability/metrics|mcp/precomputed-schemas)\\.ts$' },
  },
  {
    name: 'local-only-packages',
    comment: 'the embedded identity provider and dynalite serve npm start only; they never enter the Lambda bundle',
    severity: 'error',
    from: { pathNot: '^(lambda/local|lambda/cli|test|bench)/' },
    to: { path: 'node_modules/(oidc-provider|dynalite)/' },
  },
);

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '\\.d\\.ts$' },
  },
};
