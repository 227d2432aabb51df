/** Builds the MCP server for one request: every tool, bound to the verified caller. */
import { McpServer } from '@modelcontextprotocol/server';
import { registerAccountTools } from '../tools/account.js';
import type { ToolDeps } from '../tools/context.js';
import { registerGenerationTools } from '../tools/generate.js';
import { registerModelTools } from '../tools/models.js';
import { SERVER_NAME, SERVER_VERSION } from '../version.js';

const INSTRUCTIONS =
  'Gives access to every OpenRouter model on the user\'s own OpenRouter key. Use retrieve_available_models to find a ' +
  'model id (filter by capability, price or context), get_model_details to compare providers, then ' +
  'send_chat_completion_request (or send_completion_request for raw text). Every result reports the model and ' +
  'provider that served, token usage and cost; get_generation gives the final billed cost and get_key_usage the ' +
  'remaining credit.';

export function createMcpServer(deps: ToolDeps): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, title: 'OpenRouter', version: SERVER_VERSION },
    {
      // Prompts and resources are declared (empty) so generic clients and the conformance suite get empty
      // lists instead of "method not found"; nothing here ever changes at run time.
      capabilities: { tools: { listChanged: false }, prompts: { listChanged: false }, resources: { listChanged: false }, logging: {} },
      instructions: INSTRUCTIONS,
    },
  );
  registerGenerationTools(server, deps);
  registerModelTools(server, deps);
  registerAccountTools(server, deps);
  return server;
}
