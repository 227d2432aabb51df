/** Reported to MCP clients as serverInfo.version; kept in step with package.json by a test. */
export const SERVER_NAME = 'openrouter-mcp';
export const SERVER_VERSION = '0.1.0';
