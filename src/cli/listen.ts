/**
 * What the bootnode's TCP servers (/metrics, the HTTP API) share: listening
 * with timeouts a stalled client cannot outlast, their URL, a close that
 * drops kept-alive connections, and the preflight check that their port is
 * free before the key file and DB are created.
 */
import { createServer as createTcpServer } from 'node:net';
import type { Server } from 'node:http';
import type { CliError } from './errors';
import type { HostPort } from './flags';

export interface ListeningServer {
  /** http://host:port/<path> */
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on `addr`; rejects with `failure(err)` (one line, exit 1) if it cannot. */
export function listenHttp(server: Server, addr: HostPort, path: string, failure: (err: unknown) => CliError): Promise<ListeningServer> {
  // A client that stalls must not hold sockets forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(failure(err)));
    server.listen(addr.port, addr.host, () => {
      const a = server.address();
      const port = a !== null && typeof a === 'object' ? a.port : addr.port;
      const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
      resolve({
        url: `http://${host}:${port}${path}`,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Binds, then releases, a TCP port (none given, or port 0: nothing to check); rejects with `failure(err)`. */
export async function checkTcpPortFree(addr: HostPort | undefined, failure: (err: unknown) => CliError): Promise<void> {
  if (addr === undefined || addr.port === 0) return;
  const srv = createTcpServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (err) => reject(failure(err)));
    srv.listen(addr.port, addr.host, () => srv.close(() => resolve()));
  });
}
