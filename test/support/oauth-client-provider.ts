/**
 * A desktop MCP client's OAuth side for the protocol tests: the SDK v2 client's OAuthClientProvider keeping in memory
 * what a real client keeps on disk, with the browser step recorded rather than opened.
 */
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from '@modelcontextprotocol/client';

export class HeadlessProvider implements OAuthClientProvider {
  info?: StoredOAuthClientInformation;
  saved?: StoredOAuthTokens;
  verifier = '';
  discovery?: OAuthDiscoveryState;
  authorizationUrl?: URL;
  readonly clientMetadataUrl = undefined;

  constructor(
    private readonly redirect: string,
    private readonly clientName: string,
  ) {}

  get redirectUrl(): string {
    return this.redirect;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.clientName, redirect_uris: [this.redirect], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}

/**
 * The client's first connect with no credentials: 401 → discovery → dynamic registration → the authorization URL it
 * would open in a browser. Returns the transport, whose finishAuth takes the code the browser step ends with.
 */
export async function beginAuthorization(
  serverUrl: string,
  provider: HeadlessProvider,
  clientName: string,
): Promise<{ first: StreamableHTTPClientTransport; mcpUrl: URL; authUrl: URL }> {
  const mcpUrl = new URL(`${serverUrl}/mcp`);
  const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
  await expect(new Client({ name: clientName, version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.info?.client_id).toMatch(/^dcr_/);
  const authUrl = provider.authorizationUrl!;
  expect(authUrl.toString().startsWith(`${serverUrl}/oauth/authorize?`)).toBe(true);
  return { first, mcpUrl, authUrl };
}
