/**
 * Helpers for the DPT tests: both implementations behind one small
 * interface, on 127.0.0.1 with ports chosen before bind (ethjs's endpoint
 * option needs the port up front).
 */
import * as dgram from 'node:dgram';
import { DPT as OurDPT } from '../../src/dpt';
import { generatePrivateKey } from '../../src';
import { until } from '../transport/helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ethjs = require('@ethereumjs/devp2p') as {
  DPT: new (key: Uint8Array, opts: object) => AnyDPT;
  RLPx: new (key: Uint8Array, opts: object) => { destroy(): void; events: { on(e: string, f: (...a: unknown[]) => void): void } };
};

export interface PeerInfo {
  id?: Uint8Array;
  address?: string;
  udpPort?: number | null;
  tcpPort?: number | null;
}

/** The DPT surface both implementations share (what applications call). */
export interface AnyDPT {
  id: Uint8Array | undefined;
  events: {
    on(event: string, f: (...args: never[]) => void): unknown;
    once(event: string, f: (...args: never[]) => void): unknown;
  };
  bind(...args: unknown[]): void;
  destroy(...args: unknown[]): void;
  bootstrap(peer: PeerInfo): Promise<void>;
  addPeer(peer: PeerInfo): Promise<PeerInfo>;
  confirmPeer(id: string): void;
  getPeer(obj: string | Uint8Array | PeerInfo): PeerInfo | null;
  getPeers(): PeerInfo[];
  numPeers(): number;
  getClosestPeers(id: Uint8Array): PeerInfo[];
  removePeer(obj: string | Uint8Array | PeerInfo): void;
  banPeer(obj: string | Uint8Array | PeerInfo, maxAge?: number): void;
  refresh(): Promise<void>;
}

export interface Impl {
  name: string;
  make(key: Uint8Array, opts: object): AnyDPT;
}

export const IMPLS: Impl[] = [
  { name: '@ethereumjs/devp2p', make: (key, opts) => new ethjs.DPT(key, opts) },
  { name: 'discv4-native', make: (key, opts) => new OurDPT(key, opts) as unknown as AnyDPT },
];

export const ETHJS = IMPLS[0];
export const OURS = IMPLS[1];
export const EthjsRLPx = ethjs.RLPx;

/** A UDP port that was free a moment ago (bound and released). */
export async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface Running {
  dpt: AnyDPT;
  key: Uint8Array;
  port: number;
  tcpPort: number;
  /** How other nodes address it. */
  info: PeerInfo;
  /** Every event in order: [name, payload]. */
  log: Array<[string, PeerInfo | Error | undefined]>;
  destroyed: boolean;
}

const running: Running[] = [];

/** Starts a DPT of `impl` on 127.0.0.1 and waits for 'listening'. */
export async function startDpt(impl: Impl, opts: object = {}): Promise<Running> {
  const key = generatePrivateKey();
  const port = await freePort();
  const tcpPort = 40000 + Math.floor(Math.random() * 20000);
  const dpt = impl.make(key, {
    endpoint: { address: '127.0.0.1', udpPort: port, tcpPort },
    refreshInterval: 60_000,
    timeout: 1000,
    ...opts,
  });
  const log: Running['log'] = [];
  for (const name of ['listening', 'close', 'error', 'peer:new', 'peer:added', 'peer:removed']) {
    dpt.events.on(name, ((arg?: PeerInfo | Error) => log.push([name, arg])) as (...a: never[]) => void);
  }
  const listening = new Promise<void>((resolve) => dpt.events.once('listening', resolve));
  dpt.bind(port, '127.0.0.1');
  await listening;
  const r: Running = { dpt, key, port, tcpPort, info: { address: '127.0.0.1', udpPort: port, tcpPort }, log, destroyed: false };
  running.push(r);
  return r;
}

export function destroy(r: Running): void {
  if (r.destroyed) return;
  r.destroyed = true;
  r.dpt.destroy();
}

/** Destroys every DPT started by startDpt (call in afterEach). */
export function destroyAll(): void {
  for (const r of running.splice(0)) destroy(r);
}

export function hex(id: Uint8Array | undefined): string {
  return id === undefined ? '' : Buffer.from(id).toString('hex');
}

export function events(r: Running, ...names: string[]): string[] {
  return r.log.filter(([n]) => names.length === 0 || names.includes(n)).map(([n]) => n);
}

export function knows(r: Running, other: Running): boolean {
  return r.dpt.getPeer(other.dpt.id!) !== null;
}

export { until };
