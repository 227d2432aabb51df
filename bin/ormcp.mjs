#!/usr/bin/env node
// `ormcp`: the operator CLI. Runs the TypeScript sources through tsx (a runtime dependency), so
// `npx ormcp …` works in a source checkout after `npm install`. The code is in lambda/cli/.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';
import { checkNodeVersion } from '../lambda/local/node-version.mjs';

checkNodeVersion();

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../lambda/cli/main.ts');
