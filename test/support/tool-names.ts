/** The tool names the design brief fixes (plus those this server adds), as tests expect them — kept apart from the server's own registrations on purpose. */
export const TOOL_NAMES = [
  'send_chat_completion_request',
  'send_completion_request',
  'compare_models',
  'generate_image',
  'retrieve_available_models',
  'get_model_details',
  'get_generation',
  'get_key_usage',
  'list_conversations',
  'delete_conversation',
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];
