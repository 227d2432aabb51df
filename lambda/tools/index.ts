/** Every tool the server offers, in the order tools/list shows them. */
import { generationTool, keyUsageTool } from './account.js';
import { compareTool } from './compare.js';
import { chatTool, completionTool } from './generate.js';
import { modelDetailsTool, modelsTool } from './models.js';
import type { Tool } from './tool.js';

export const TOOLS: readonly Tool[] = [chatTool, completionTool, compareTool, modelsTool, modelDetailsTool, generationTool, keyUsageTool];
