/**
 * Node 22 LTS is the baseline. On an older Node the local tools still run, but the AWS SDK would print a
 * nine-line support warning on every command; keep the SDK quiet and say it in one line, to a person at a
 * terminal only (scripts reading stderr get nothing).
 */
const BASELINE_MAJOR = 22;

export function checkNodeVersion(write = (line) => process.stderr.write(`${line}\n`)) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= BASELINE_MAJOR) return;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  if (process.stderr.isTTY) write(`note: Node ${process.versions.node} is past its end of life; this project is built and tested on Node ${BASELINE_MAJOR} LTS.`);
}
