/**
 * `--http-addr`: the operator's window, read-only.
 *
 *   GET /              the dashboard (HTML; its script, style and icon: /dashboard.js, /dashboard.css, /favicon.svg)
 *   GET /enode, /enr   our enode URL / record, text
 *   GET /status        JSON: identity, uptime, table, packets, drops, ...
 *   GET /nodes         JSON (or ?format=csv): table and known nodes, paged and filtered
 *   GET /bans          JSON: the ban list and the sources refused most
 *   GET /history       JSON: packets/s and drops/s over the last hour
 *   GET /metrics       the Prometheus text (the same code as --metrics-addr)
 *
 * Unknown paths 404, methods other than GET/HEAD 405, bad query
 * parameters 400, each with a JSON body {"error": "..."}.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import type { Registry } from 'prom-client';
import { osExplain } from '../../errors';
import { CliError } from '../errors';
import type { HostPort } from '../flags';
import { respondMetrics } from '../metrics';
import { ListeningServer, listenHttp } from '../listen';
import { ApiContext, bans, history, nodesCsv, nodesPage, parseNodesQuery, QueryError, status } from './api';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS, FAVICON_SVG } from './dashboard';

/** The API server: its URL (http://host:port/) and close(). */
export type HttpServer = ListeningServer;

/** The one line for an HTTP address the server cannot listen on. */
export function httpFailure(addr: HostPort, err: unknown): CliError {
  return new CliError(`cannot serve HTTP on ${addr.host}:${addr.port}: ${osExplain(err, '--http-addr', 'port')}`);
}

const COMMON = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

function send(req: IncomingMessage, res: ServerResponse, code: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(code, { ...COMMON, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...extra });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function json(req: IncomingMessage, res: ServerResponse, code: number, value: unknown): void {
  send(req, res, code, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}

/** Paths that take no query parameters at all. */
function noParams(params: URLSearchParams): void {
  const k = [...params.keys()][0];
  if (k !== undefined) throw new QueryError(`unknown parameter ${JSON.stringify(k)}: this path takes none`);
}

const PAGE_HEADERS = {
  // Everything comes from this server; nothing inline, nothing from elsewhere.
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

type Route = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams) => void;

export function httpRoutes(ctx: ApiContext, registry: Registry | undefined): Map<string, Route> {
  const routes = new Map<string, Route>();
  routes.set('/', (req, res, p) => (noParams(p), send(req, res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, PAGE_HEADERS)));
  routes.set('/dashboard.js', (req, res, p) => (noParams(p), send(req, res, 200, 'text/javascript; charset=utf-8', DASHBOARD_JS)));
  routes.set('/dashboard.css', (req, res, p) => (noParams(p), send(req, res, 200, 'text/css; charset=utf-8', DASHBOARD_CSS)));
  routes.set('/favicon.svg', (req, res, p) => (noParams(p), send(req, res, 200, 'image/svg+xml', FAVICON_SVG)));
  routes.set('/enode', (req, res, p) => (noParams(p), send(req, res, 200, 'text/plain; charset=utf-8', `${ctx.enode()}\n`)));
  routes.set('/enr', (req, res, p) => (noParams(p), send(req, res, 200, 'text/plain; charset=utf-8', `${ctx.enr()}\n`)));
  routes.set('/status', (req, res, p) => (noParams(p), json(req, res, 200, status(ctx))));
  routes.set('/bans', (req, res, p) => (noParams(p), json(req, res, 200, bans(ctx))));
  routes.set('/history', (req, res, p) => (noParams(p), json(req, res, 200, history(ctx))));
  routes.set('/nodes', (req, res, p) => {
    const q = parseNodesQuery(p);
    const page = nodesPage(ctx, q);
    if (q.format === 'csv') send(req, res, 200, 'text/csv; charset=utf-8', nodesCsv(page));
    else json(req, res, 200, page);
  });
  if (registry !== undefined) routes.set('/metrics', (req, res, p) => (noParams(p), respondMetrics(registry, req, res)));
  return routes;
}

/**
 * DNS rebinding: a web page the operator opens could point a name it owns
 * at 127.0.0.1 and read the API from the browser. So an API bound to
 * loopback answers only requests addressed to a loopback name (localhost,
 * 127.x.y.z, [::1]); bound elsewhere, the operator chose who reaches it.
 */
export function hostAllowed(bindHost: string, hostHeader: string | undefined): boolean {
  if (!isLoopbackIp(bindHost) || hostHeader === undefined) return true;
  const name = hostHeader
    .trim()
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1');
  return name === 'localhost' || name.endsWith('.localhost') || isLoopbackIp(name);
}

function isLoopbackIp(host: string): boolean {
  return (isIPv4(host) && host.startsWith('127.')) || (isIPv6(host) && host === '::1');
}

/** Serves the API on `addr`. Rejects with CliError (exit 1) if the address cannot be bound. */
export function serveHttp(ctx: ApiContext, registry: Registry | undefined, addr: HostPort): Promise<HttpServer> {
  const routes = httpRoutes(ctx, registry);
  const server: Server = createServer((req, res) => {
    if (!hostAllowed(addr.host, req.headers.host)) {
      const a = server.address();
      const port = a !== null && typeof a === 'object' ? a.port : addr.port;
      json(req, res, 403, { error: `Host ${JSON.stringify(req.headers.host)} refused: this API is bound to ${addr.host}; open it by a loopback name, e.g. http://127.0.0.1:${port}/` });
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      json(req, res, 400, { error: 'malformed request URL' });
      return;
    }
    const route = routes.get(url.pathname);
    if (route === undefined) {
      json(req, res, 404, { error: `no such path: ${url.pathname}`, paths: [...routes.keys()] });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      json(req, res, 405, { error: `method ${req.method} not allowed: this API is read-only (GET)` });
      return;
    }
    try {
      route(req, res, url.searchParams);
    } catch (err) {
      if (err instanceof QueryError) json(req, res, 400, { error: err.message });
      else json(req, res, 500, { error: `internal error: ${(err as Error).message}` });
    }
  });
  return listenHttp(server, addr, '/', (err) => httpFailure(addr, err));
}
