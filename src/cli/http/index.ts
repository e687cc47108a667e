/**
 * Starts the operator's HTTP API and dashboard for a running node
 * (--http-addr): the traffic history sampler and the server.
 */
import type { Discovery } from '../../node/discovery';
import type { HostPort } from '../flags';
import type { NodeMetrics } from '../metrics';
import { ApiContext } from './api';
import { History } from './history';
import { HttpServer, serveHttp } from './server';

export { httpFailure } from './server';
export type { HttpServer } from './server';

export interface HttpApi {
  readonly url: string;
  close(): Promise<void>;
}

export async function startHttpApi(
  d: Discovery,
  addr: HostPort,
  opts: Omit<ApiContext, 'd' | 'history' | 'startedMs'> & { metrics?: NodeMetrics; startedMs?: number },
): Promise<HttpApi> {
  const history = new History(() => d.transport.stats());
  history.start();
  let server: HttpServer;
  try {
    server = await serveHttp({ ...opts, d, history, startedMs: opts.startedMs ?? Date.now() }, opts.metrics?.registry, addr);
  } catch (err) {
    history.stop();
    throw err;
  }
  return {
    url: server.url,
    async close() {
      history.stop();
      await server.close();
    },
  };
}
