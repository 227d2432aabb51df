/**
 * The benchmark upstream in its own process (`node --import tsx bench/lib/upstream-child.ts`), so the process
 * being measured spends no CPU on the upstream's side of each call. Prints its base URL on stdout, exits when
 * stdin closes (the parent went away) or on SIGTERM.
 */
import { startUpstream } from './upstream.js';

const upstream = await startUpstream();
process.stdout.write(`${upstream.baseUrl}\n`);
const stop = () => void upstream.close().finally(() => process.exit(0));
process.stdin.on('end', stop).on('error', stop).resume();
process.once('SIGTERM', stop);
