/** Process entry of `ormcp` (bin/ormcp.mjs loads it through tsx). */
import { run } from './run.js';

// The AWS SDK warns on stderr about its own future Node requirement; an operator can do nothing about it here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    // run() reports its own errors; this is only a last resort that must not print a stack trace either.
    process.stderr.write('ormcp: unexpected failure\n');
    process.exitCode = 1;
  },
);
