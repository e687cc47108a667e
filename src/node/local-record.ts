/**
 * Our node record as Discovery keeps it (geth p2p/enode/localnode.go):
 *
 * - Built once the socket is bound: the endpoint pairs of the families the
 *   socket serves, the `eth` fork id when serving is fork-aware, and the
 *   caller's extra pairs. Its seq comes from the node DB and rises by one
 *   with every content change, so it never goes back across restarts
 *   (LocalRecord, src/enr/local.ts, signs and persists it).
 * - Follows the endpoint that most peers report in their pongs, per family,
 *   where no external address is configured (EndpointPrediction).
 * - Follows our fork id when a timestamp fork passes (keepForkIdCurrent).
 */
import { LocalRecord, LocalRecordStore } from '../enr/local';
import type { Clock } from '../transport/clock';
import { isUnspecified, isV4Mapped } from '../transport/netutil';
import type { SocketAddress } from '../transport/socket';
import { ipToBytes, ipToString } from '../wire/ip';
import type { RlpInput } from '../wire/rlp';
import type { ForkPolicy } from './fork-policy';
import { ethEntry } from './forkid';
import { IPTracker, IPTrackerConfig } from './iptracker';
import { Periodic } from '../transport/periodic';
import { FORK_RECHECK_MS } from '../defaults';

export { FORK_RECHECK_MS };


/** What goes into our record besides the socket's address. */
export interface RecordSetup {
  /** Advertised IPv4 address (nat extip, or the gateway's); otherwise the bind address or loopback. */
  externalIp?: string;
  /** Advertised IPv6 address; otherwise the bind address or ::1. */
  externalIp6?: string;
  /** TCP port in the record (0: none). */
  tcpPort: number;
  /** Extra pairs (DiscoveryOptions.recordPairs); the endpoint and `eth` pairs override them. */
  recordPairs?: Readonly<Record<string, RlpInput>>;
  /** Fork-aware serving: our fork id goes into the `eth` pair. */
  forks?: ForkPolicy;
  /** Wall clock in ms: a first seq starts at the time (geth). Default Date.now. */
  now?: () => number;
}

/** The address families a bound socket serves. */
export interface ServedFamilies {
  serves4: boolean;
  serves6: boolean;
}

/**
 * An IPv6 socket on '::' is dual-stack (IPv4 peers arrive as mapped
 * addresses), so its record carries both ip/udp and ip6/udp6.
 */
export function servedFamilies(sock: SocketAddress): ServedFamilies {
  const dual = sock.family === 6 && sock.address === '::';
  return { serves4: sock.family === 4 || dual, serves6: sock.family === 6 };
}

/**
 * The endpoint pairs of the families `sock` serves. Without an external
 * address, a wildcard bind starts from loopback (and follows what peers
 * report, see EndpointPrediction).
 */
export function endpointPairs(sock: SocketAddress, setup: RecordSetup): Record<string, RlpInput> {
  const { serves4, serves6 } = servedFamilies(sock);
  const pairs: Record<string, RlpInput> = {};
  if (serves4) {
    pairs.ip = ipToBytes(setup.externalIp ?? (sock.family === 4 && sock.address !== '0.0.0.0' ? sock.address : '127.0.0.1'));
    pairs.udp = sock.port;
    if (setup.tcpPort !== 0) pairs.tcp = setup.tcpPort;
  }
  if (serves6) {
    pairs.ip6 = ipToBytes(setup.externalIp6 ?? (sock.address !== '::' ? sock.address : '::1'));
    pairs.udp6 = sock.port;
    if (setup.tcpPort !== 0) pairs.tcp6 = setup.tcpPort;
  }
  return pairs;
}

/** Our signed record for `sock`, its seq taken from (and persisted to) `store`. */
export function openLocalRecord(privateKey: Uint8Array, store: LocalRecordStore, sock: SocketAddress, setup: RecordSetup): Promise<LocalRecord> {
  const pairs = endpointPairs(sock, setup);
  if (setup.forks !== undefined) pairs.eth = ethEntry(setup.forks.ours());
  return LocalRecord.create(privateKey, { ...setup.recordPairs, ...pairs }, { store, now: setup.now });
}

/** Our fork id moves on when a timestamp fork passes: recheck it hourly and keep the `eth` pair current. */
export function keepForkIdCurrent(local: LocalRecord, forks: ForkPolicy, clock: Clock): Periodic {
  return new Periodic(clock, FORK_RECHECK_MS, () => {
    void local.update({ eth: ethEntry(forks.ours()) }).catch(() => undefined);
  });
}

export interface PredictionConfig {
  /** Predict the IPv4 / IPv6 endpoint (off where an external address is configured or the socket cannot serve the family). */
  predict4: boolean;
  predict6: boolean;
  /** TCP port kept in a predicted endpoint (0: none). */
  tcpPort: number;
  /** Tracker parameters (geth defaults: 5 min window, 10 statements). */
  ipTracker?: Omit<IPTrackerConfig, 'clock'>;
  clock: Clock;
}

/**
 * Endpoint prediction (geth LocalNode's UDPEndpointStatement): each
 * verified pong's `to` is the peer's view of our endpoint, a vote in that
 * family's IPTracker. When the prediction differs from our record, the
 * record follows (seq + 1).
 */
export class EndpointPrediction {
  private readonly tracker4: IPTracker;
  private readonly tracker6: IPTracker;

  constructor(
    private readonly local: LocalRecord,
    private readonly cfg: PredictionConfig,
  ) {
    this.tracker4 = new IPTracker({ ...cfg.ipTracker, clock: cfg.clock });
    this.tracker6 = new IPTracker({ ...cfg.ipTracker, clock: cfg.clock });
  }

  /** Whether any family is predicted (else pongs need not be watched). */
  get enabled(): boolean {
    return this.cfg.predict4 || this.cfg.predict6;
  }

  /**
   * Counts `fromAddress`'s statement that our packets come from `to`.
   * Returns the record update when the prediction moves the record
   * (rejecting if it cannot be made), else undefined.
   */
  observe(fromAddress: string, to: { ip: Uint8Array; udpPort: number }): Promise<boolean> | undefined {
    let toIp = to.ip;
    if ((toIp.length !== 4 && toIp.length !== 16) || isUnspecified(toIp)) return undefined;
    // A peer on an IPv6 socket may see our IPv4 address as ::ffff:a.b.c.d.
    if (toIp.length === 16 && isV4Mapped(toIp)) toIp = toIp.subarray(12);
    const v6 = toIp.length === 16;
    if (v6 ? !this.cfg.predict6 : !this.cfg.predict4) return undefined;
    const tracker = v6 ? this.tracker6 : this.tracker4;
    tracker.addStatement(fromAddress, toIp, to.udpPort);
    const pred = tracker.predict();
    if (pred === undefined) return undefined;
    const curIp = this.local.get(v6 ? 'ip6' : 'ip');
    const curUdp = this.local.get(v6 ? 'udp6' : 'udp');
    if (curIp instanceof Uint8Array && ipToString(curIp) === pred.ip && curUdp === pred.udpPort) return undefined;
    return this.local.setEndpoint({ ip: ipToBytes(pred.ip), udpPort: pred.udpPort, tcpPort: this.cfg.tcpPort });
  }
}
