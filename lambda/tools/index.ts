/** Every tool the server offers, in the order tools/list shows them. */
import { generationTool, keyUsageTool } from './account.js';
import { deleteConversationTool, listConversationsTool } from './conversations.js';
import { compareTool } from './compare.js';
import { chatTool, completionTool } from './generate.js';
import { imageTool } from './images.js';
import { modelDetailsTool, modelsTool } from './models.js';
import type { Tool } from './tool.js';

export const TOOLS: readonly Tool[] = [chatTool, completionTool, compareTool, imageTool, modelsTool, modelDetailsTool, generationTool, keyUsageTool, listConversationsTool, deleteConversationTool];
