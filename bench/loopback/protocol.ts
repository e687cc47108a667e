/**
 * IPC messages between the loopback bench (parent) and its server child
 * (bench/loopback/server.ts), and the shapes both sides share.
 */
import type { TransportStats } from '../../src/transport/transport';

/** Which node the child runs. */
export type Impl = 'ours-dgram' | 'ours-native' | 'ours-dpt' | 'ethjs' | 'ours-scale';

export const IMPLS: readonly Impl[] = ['ours-dgram', 'ours-native', 'ours-dpt', 'ethjs', 'ours-scale'];

/** ours-scale (bench/loopback/scale.ts): a bootnode-shaped Discovery with a prefilled table and known set. */
export interface ScaleArgs {
  /** Table bucket size (TableConfig.bucketSize). */
  bucketSize: number;
  /** Known-good nodes to hold beside the table (0: known nodes off). */
  known: number;
  /** The fork filter of neighbors answers (our network: mainnet). */
  forkFilter: 'strict' | 'off';
  /** Fill buckets until this many of the top ones are full (or the candidate budget runs out). */
  fullBuckets: number;
}

/** What the ours-scale server holds once prefilled (sent with 'ready'). */
export interface ScaleReady {
  tableEntries: number;
  /** Entries per bucket, bucket 0 first. */
  perBucket: number[];
  knownNodes: number;
  /** Nodes in its (in-memory) node DB: the table's and the known ones. */
  dbNodes: number;
  /** Random ids hashed to fill the table. */
  candidates: number;
  prefillSec: number;
  /** Table entries per fork class of their records: ours, another network, no `eth` entry. */
  forkClasses: { ours: number; other: number; unknown: number };
}

/** How the child is started (command-line flags of server.ts). */
export interface ServerArgs {
  impl: Impl;
  /** 127.0.0.1 port to bind; 0 = any. */
  port: number;
  /** ours-native: NativeBindOptions.threads (packet crypto threads). */
  threads?: number;
  /**
   * ethjs: shouldFindNeighbours true, so the DPT pings back the endpoint an
   * unknown node claims in ping.from (its only way to bond). Our transport
   * always pings back unknown senders.
   */
  pingBack?: boolean;
  /** ours-scale only. */
  scale?: ScaleArgs;
}

/** parent -> child */
export type ParentMessage =
  | { type: 'reset'; seq: number }
  | { type: 'stats'; seq: number; gc: boolean }
  | { type: 'exit' };

/** What the child measures about itself. */
export interface ServerStats {
  /** process.cpuUsage() since the last 'reset' (or start). */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Wall time since the last 'reset', µs. */
  wallUs: number;
  /** (user + system) / wall. */
  cpuCoresUsed: number;
  /** Event-loop utilisation since the last 'reset' (0..1). */
  elu: number;
  /** Peak RSS of the server process, KiB (VmHWM; getrusage maxRSS where /proc is missing). */
  maxRssKb: number;
  maxRssSource: 'VmHWM' | 'maxRSS';
  rssKb: number;
  /** heapUsed after global.gc() (null when gc was not asked for or is not exposed). */
  heapUsedAfterGc: number | null;
  /** SO_RCVBUF the server socket got (kernel value: twice the requested size), when known. */
  recvBufferSize: number | null;
  /**
   * Bonds completed since the last 'reset': ping-backs the peer answered.
   * Ours: pongs that matched a pending ping (packetsIn.pong - drops.unsolicited);
   * ethjs: 'peer:new' events (addPeer's ping answered).
   */
  bondsSinceReset: number;
  /** Crypto threads the socket reports (stats().threads); null when it reports none. */
  threads: number | null;
  /** Ours only. */
  transport?: TransportStats;
  /** Ours only: the PacketSocket's own counters. */
  socket?: Record<string, number>;
  /** ethjs only: 'error' events DPT emitted, and the first few messages. */
  dptErrors?: number;
  dptErrorSamples?: string[];
}

/** child -> parent */
export type ChildMessage =
  | { type: 'ready'; impl: Impl; port: number; id: string; socketKind: string; threads: number | null; scale?: ScaleReady }
  | { type: 'unavailable'; reason: string }
  | { type: 'error'; message: string }
  | { type: 'reset'; seq: number }
  | ({ type: 'stats'; seq: number } & ServerStats);
