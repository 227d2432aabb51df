/**
 * A TCP proxy on 127.0.0.1 in front of another local server (dynalite in the fault tests), to make that server
 * look stopped or slow to a client that keeps the same endpoint:
 *   - `stop()`  closes the listener and every open connection: new connections are refused (ECONNREFUSED),
 *               as when the server process is gone; `start()` listens again on the same port.
 *   - `delayMs` holds every chunk in both directions that long before passing it on (a slow or stalled server).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class TcpProxy {
  /** Delay applied to each chunk, read when the chunk arrives. */
  delayMs = 0;
  /** Connections accepted since start, for asserting that a client really came through. */
  accepted = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Refuse new connections and cut the open ones, like a server that went away. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.accepted++;
    const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Forwards chunks in order; with a delay, each chunk waits, and order is kept by chaining on the previous one. */
  private pipe(from: Socket, to: Socket): void {
    let last = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const delay = this.delayMs;
      last = last.then(
        () =>
          new Promise<void>((resolve) => {
            if (!delay) {
              if (!to.destroyed) to.write(chunk);
              return resolve();
            }
            const timer = setTimeout(() => {
              this.timers.delete(timer);
              if (!to.destroyed) to.write(chunk);
              resolve();
            }, delay);
            this.timers.add(timer);
          }),
      );
    });
    from.on('end', () => void last.then(() => to.end()));
  }
}
