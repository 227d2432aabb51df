/** Builds the MCP server for one request: every tool, bound to the verified caller. */
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/server';
import type { ToolDeps } from '../tools/context.js';
import { TOOLS } from '../tools/index.js';
import { runTool } from '../tools/run.js';
import type { Tool } from '../tools/tool.js';
import { SERVER_NAME, SERVER_VERSION } from '../version.js';
import { advertisedJsonSchema } from './advertised-schema.js';
import { JsonSchemaCache } from './json-schema-cache.js';
import { bundledToolSchemas, seedFrom } from './precomputed-schemas.js';

const INSTRUCTIONS =
  'Gives access to every OpenRouter model on the user\'s own OpenRouter key. Use retrieve_available_models to find a ' +
  'model id (filter by capability, price or context), get_model_details to compare providers, then ' +
  'send_chat_completion_request (or send_completion_request for raw text). Every result reports the model and ' +
  'provider that served, token usage and cost; get_generation gives the final billed cost and get_key_usage the ' +
  'remaining credit.';

/**
 * One per process: the tool schemas are module constants, so their (advertised) JSON Schemas are too. In the
 * Lambda bundle they were converted at build time (precomputed-schemas.ts).
 */
const PROCESS_SCHEMA_CACHE = new JsonSchemaCache(advertisedJsonSchema, seedFrom(TOOLS, bundledToolSchemas()));

/** An McpServer whose tools advertise JSON Schemas converted once per process (see json-schema-cache.ts). */
class CachedSchemaMcpServer extends McpServer {
  constructor(
    info: ConstructorParameters<typeof McpServer>[0],
    options: ConstructorParameters<typeof McpServer>[1],
    private readonly schemas: JsonSchemaCache,
  ) {
    super(info, options);
  }

  // One implementation behind both of the SDK's registerTool overloads; callers keep the typed overloads.
  override registerTool(name: string, config: { inputSchema?: unknown; outputSchema?: unknown }, cb: never): RegisteredTool {
    const register = super.registerTool.bind(this) as (name: string, config: object, cb: never) => RegisteredTool;
    return register(name, { ...config, inputSchema: this.schemas.wrap(config.inputSchema), outputSchema: this.schemas.wrap(config.outputSchema) }, cb);
  }
}

export function createMcpServer(deps: ToolDeps, schemas: JsonSchemaCache = PROCESS_SCHEMA_CACHE): McpServer {
  const server = new CachedSchemaMcpServer(
    { name: SERVER_NAME, title: 'OpenRouter', version: SERVER_VERSION },
    {
      // Prompts and resources are declared (empty) so generic clients and the conformance suite get empty
      // lists instead of "method not found"; nothing here ever changes at run time.
      capabilities: { tools: { listChanged: false }, prompts: { listChanged: false }, resources: { listChanged: false }, logging: {} },
      instructions: INSTRUCTIONS,
    },
    schemas,
  );
  for (const tool of TOOLS) registerDeclaredTool(server, tool, deps);
  return server;
}

/** One declaration as an MCP tool whose every call runs inside runTool (limits, log line, metrics, observer). */
function registerDeclaredTool(server: McpServer, tool: Tool, deps: ToolDeps): void {
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: tool.input,
      outputSchema: tool.output,
      annotations: { title: tool.title, ...tool.annotations },
    },
    // runTool hands the body the arguments as team control rewrote them (same shape: defaults and policy only fill).
    (args, ctx) => runTool(tool, deps, (admitted) => tool.run(admitted as typeof args, ctx, deps), { context: tool.logContext?.(args, ctx), args }),
  );
}
