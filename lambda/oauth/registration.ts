/** POST /oauth/register: dynamic client registration (RFC 7591), a JSON body in, the registered client out. */
import { isJsonBody } from '../http/form.js';
import type { Logger } from '../observability/logger.js';
import type { ClientDirectory } from './clients.js';
import { OAuthError, oauthJson } from './errors.js';
import { readOAuthBody } from './request-body.js';

export async function registerClient(request: Request, clients: ClientDirectory, logger: Logger): Promise<Response> {
  if (!isJsonBody(request)) throw new OAuthError('invalid_client_metadata', 'Send the client metadata as application/json.');
  const body = await readOAuthBody(request);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new OAuthError('invalid_client_metadata', 'The body is not valid JSON.');
  }
  const registered = await clients.register(json);
  logger.info('oauth client registered', { client_id: registered.client_id, auth_method: registered.token_endpoint_auth_method });
  return oauthJson(registered, 201);
}
