/**
 * Runs before `npm test`: says in one line what the machine lacks, before anything slow starts, instead of
 * letting a suite fail minutes later with a less direct message.
 */
import { accessSync, constants } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
try {
  accessSync(chromium, constants.X_OK);
} catch {
  process.stderr.write(
    `npm test needs Chromium for the browser tests: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium binary.\n`,
  );
  process.exit(1);
}
if (Number(process.versions.node.split('.')[0]) < 22) {
  process.stderr.write(
    `note: running on Node ${process.versions.node}; the baseline is Node 22 LTS. The conformance and Inspector tests fetch Node 22 with npx (from the npm registry).\n`,
  );
}
