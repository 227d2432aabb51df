/** Who is calling: resolved from the bearer token before any MCP work happens. */

export interface Principal {
  userId: string;
  /** Public id of the credential used (safe to log). */
  tokenId: string;
  /** The user's own OpenRouter key, decrypted for this request only; absent until the user connects one. */
  openRouterKey?: string;
  /** When the credential expires (ISO time), if it does; caches must not outlive it. */
  expiresAt?: string;
  /** OAuth access tokens only: the resource (MCP URL) the token was issued for; requests elsewhere are refused. */
  audience?: string;
  /** OAuth access tokens only: the OAuth client the token was issued to (a public id, safe to log), for the ledger. */
  clientId?: string;
}

export interface Authenticator {
  /** The principal for a bearer token, or undefined when it is unknown, malformed, expired or revoked. */
  authenticate(token: string): Promise<Principal | undefined>;
}
