/**
 * Secrets Manager's JSON protocol (GetSecretValue) on loopback, with a switchable failure: throttle, deny, hang,
 * reset, a 500, an empty or a malformed secret. Point a client at it with an endpoint override, or a Lambda process
 * with AWS_ENDPOINT_URL_SECRETS_MANAGER.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type SecretsMode = 'ok' | 'throttle' | 'deny' | 'hang' | 'reset' | 'error500' | 'empty' | 'malformed';

export class FakeSecretsManager {
  mode: SecretsMode = 'ok';
  requests = 0;
  private server: Server | undefined;
  private readonly hanging = new Set<IncomingMessage>();
  constructor(
    private readonly secretString: string,
    private readonly secretArn: string,
    /** Secret-looking material the 'malformed' answer carries, so a test can check it never reaches a log. */
    private readonly leakBait = 'sk-or-v1-bait',
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests++;
      req.resume().on('end', () => {
        const error = (status: number, type: string, message: string) => {
          res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-ErrorType': type });
          res.end(JSON.stringify({ __type: type, message }));
        };
        const ok = (secretString?: string) => {
          res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify({ ARN: this.secretArn, Name: 'OpenRouterMcpSecret', VersionId: 'v1', ...(secretString === undefined ? {} : { SecretString: secretString }) }));
        };
        switch (this.mode) {
          case 'ok':
            return ok(this.secretString);
          case 'throttle':
            return error(400, 'ThrottlingException', 'Rate exceeded');
          case 'deny':
            return error(400, 'AccessDeniedException', `User is not authorized to perform secretsmanager:GetSecretValue on ${this.secretArn}`);
          case 'error500':
            return error(500, 'InternalServiceError', 'internal error');
          case 'reset':
            return req.socket.destroy();
          case 'hang':
            return void this.hanging.add(req);
          case 'empty':
            return ok(undefined);
          case 'malformed':
            // Secret-looking material that is not a keyring: it must not reach a log either.
            return ok(`not-a-keyring ${this.leakBait}`);
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const req of this.hanging) req.socket.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
