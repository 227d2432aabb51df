/** Process entry of `ormcp` (bin/ormcp.mjs loads it through tsx). */
import { describeError } from './errors.js';
import { run } from './run.js';

// The AWS SDK warns on stderr about its own future Node requirement; an operator can do nothing about it here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Last resort: a failure thrown outside run()'s promise chain (e.g. inside embedded dynalite) still ends
// as one `ormcp: …` line and exit code 1, never a stack trace.
process.on('uncaughtException', (err) => {
  process.stderr.write(`ormcp: ${describeError(err)}\n`);
  process.exit(1);
});

// `ormcp token list | head -1`: a reader that went away is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ormcp: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
