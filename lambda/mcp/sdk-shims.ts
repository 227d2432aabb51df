/**
 * What the Lambda bundle gives the MCP SDK for its `@modelcontextprotocol/server/_shims` import (an alias in
 * infra/constructs/mcp-function-bundling.ts): the Node shim's `process`, and as the default JSON Schema validator
 * the SDK's own @cfworker/json-schema one (the validator it ships for Workers) instead of Ajv.
 *
 * Why: Ajv is ~150 KB of the ~770 KB bundle and is loaded on every cold start, and this server never validates
 * with JSON Schema at run time — its tools' inputs and outputs are zod schemas, and it sends no elicitation (the
 * only other use of the SDK's validator). Should that change, the validator here is still a complete one.
 * Everywhere else (tests, `npm start`) the SDK's Node shim is used unchanged.
 */
export { CfWorkerJsonSchemaValidator as DefaultJsonSchemaValidator } from '@modelcontextprotocol/server/validators/cf-worker';
export { default as process } from 'node:process';
