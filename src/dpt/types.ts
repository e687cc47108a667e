/**
 * Option and event types of the DPT facade, shaped as @ethereumjs/devp2p's
 * (types.ts there) so code written against it compiles against ours.
 */
import { EventEmitter } from 'node:events';
import type { CommonLike } from './message';
import type { PeerInfo } from './util';
import type { RateLimits } from '../transport/limits';

export type { PeerInfo } from './util';

export interface DPTServerOptions {
  /** Timeout of a ping in ms. Default 4,000 (ethjs's code; its docs say 10 s). */
  timeout?: number;
  /** Our endpoint as sent in ping.from. Default 0.0.0.0 and, unlike ethjs, our bound UDP port. */
  endpoint?: PeerInfo;
  /** Returns an unbound dgram-like socket. Default: our native UDP socket, bound in bind(). */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  createSocket?: Function;
  /** `customCrypto` hooks (keccak256, ecsign / ecdsaSign, ecdsaRecover) replace our native crypto for packets. */
  common?: CommonLike;
  /** discv4-native extension: ingress rate limits (TransportConfig.rateLimits; default on, false: off). */
  rateLimits?: RateLimits | false;
  /** discv4-native extension: the amplification allowance in bytes per IP (refilling; default 8,192; Infinity: off). */
  amplificationAllowance?: number;
}

export interface DPTOptions extends DPTServerOptions {
  /** Refresh period in ms: refresh() runs every tenth of it. Default 60,000. */
  refreshInterval?: number;
  /** Look for neighbours (lookups, nodes that ping us). Default true. */
  shouldFindNeighbours?: boolean;
  /** Ask and answer with confirmed peers only (see confirmPeer()). Default false. */
  onlyConfirmed?: boolean;
  /** Add peers from EIP-1459 DNS lists on refresh. Default false. */
  shouldGetDnsPeers?: boolean;
  /** Peers fetched from DNS per refresh: half of this. Default 25. */
  dnsRefreshQuantity?: number;
  /** enrtree:// URLs. Default none. */
  dnsNetworks?: string[];
  /** DNS server for the lists (this client only; the process's DNS servers are untouched). Default: the system's. */
  dnsAddr?: string;
}

export interface DPTEvent {
  listening: [];
  close: [];
  error: [error: Error];
  'peer:added': [peer: PeerInfo];
  'peer:new': [peer: PeerInfo];
  'peer:removed': [peer: PeerInfo];
}

export interface ServerEvent {
  listening: [];
  close: [];
  error: [error: Error];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  peers: any[];
}

/**
 * The `events` object: Node's EventEmitter typed by an event map, except
 * that an 'error' nobody listens to is dropped instead of thrown, as with
 * ethjs's eventemitter3: a timed-out neighbour must not crash the process.
 */
export interface Events<E extends { [K in keyof E]: unknown[] }> {
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  addListener<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  removeListener<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this;
  emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Events<E extends { [K in keyof E]: unknown[] }> extends EventEmitter {
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error' && this.listenerCount('error') === 0) return false;
    return super.emit(event, ...args);
  }
}
