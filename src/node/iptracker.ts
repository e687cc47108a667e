/**
 * External endpoint prediction (geth p2p/netutil/iptrack.go, fed as
 * p2p/enode/localnode.go UDPEndpointStatement): peers tell us, in the `to`
 * of their pongs, the address our packets came from. The endpoint stated by
 * the most peers wins, given enough statements.
 *
 * Spoofing: statements are keyed by the stating peer's IP address, so one
 * host has one vote (its latest), however many ids or ports it uses; votes
 * expire after a window; the number of hosts remembered is capped (least
 * recently heard from evicted first), so memory stays bounded under a flood.
 */
import { Clock, systemClock } from '../transport/clock';
import { ipToString } from '../wire/ip';
import { IPTRACK_MIN_STATEMENTS, IPTRACK_WINDOW_MS } from '../defaults';

export { IPTRACK_MIN_STATEMENTS, IPTRACK_WINDOW_MS };

/** Hosts remembered at once (~100 bytes each). geth has no cap; a window of pongs is bounded by our pings anyway. */
export const IPTRACK_MAX_HOSTS = 1_000;

export interface PredictedEndpoint {
  /** Canonical text form of the IP (as ipToString). */
  ip: string;
  udpPort: number;
}

export interface IPTrackerConfig {
  windowMs?: number;
  minStatements?: number;
  maxHosts?: number;
  clock?: Clock;
}

interface Statement {
  /** `ip:port` of the stated endpoint (a vote key). */
  key: string;
  endpoint: PredictedEndpoint;
  atMs: number;
}

export class IPTracker {
  readonly windowMs: number;
  readonly minStatements: number;
  readonly maxHosts: number;
  private readonly clock: Clock;
  /** Host -> its latest statement; Map order is recency (oldest first). */
  private readonly statements = new Map<string, Statement>();

  constructor(cfg: IPTrackerConfig = {}) {
    this.windowMs = cfg.windowMs ?? IPTRACK_WINDOW_MS;
    this.minStatements = Math.max(1, cfg.minStatements ?? IPTRACK_MIN_STATEMENTS);
    this.maxHosts = Math.max(1, cfg.maxHosts ?? IPTRACK_MAX_HOSTS);
    this.clock = cfg.clock ?? systemClock;
  }

  /** Hosts with a live statement. */
  get size(): number {
    this.gc(this.clock.now());
    return this.statements.size;
  }

  /**
   * Records that `host` (the stating peer's IP, as text or bytes) sees us at
   * `ip:udpPort`. Invalid IPs are ignored.
   */
  addStatement(host: string | Uint8Array, ip: string | Uint8Array, udpPort: number): void {
    const hostKey = typeof host === 'string' ? host : ipToString(host);
    const ipText = typeof ip === 'string' ? ip : ipToString(ip);
    if (hostKey === undefined || ipText === undefined || !Number.isInteger(udpPort) || udpPort <= 0 || udpPort > 0xffff) return;
    const now = this.clock.now();
    // Delete first so the re-insert moves the host to the recent end.
    this.statements.delete(hostKey);
    this.statements.set(hostKey, { key: `${ipText}:${udpPort}`, endpoint: { ip: ipText, udpPort }, atMs: now });
    if (this.statements.size > this.maxHosts) {
      const oldest = this.statements.keys().next().value as string;
      this.statements.delete(oldest);
    }
  }

  /**
   * The endpoint stated by the most hosts within the window, if at least
   * `minStatements` agree; ties go to the endpoint that reached the count first.
   */
  predict(): PredictedEndpoint | undefined {
    this.gc(this.clock.now());
    const counts = new Map<string, number>();
    let best: PredictedEndpoint | undefined;
    let bestCount = 0;
    for (const s of this.statements.values()) {
      const c = (counts.get(s.key) ?? 0) + 1;
      counts.set(s.key, c);
      if (c > bestCount && c >= this.minStatements) {
        bestCount = c;
        best = s.endpoint;
      }
    }
    return best;
  }

  private gc(now: number): void {
    const cutoff = now - this.windowMs;
    // Oldest first: stop at the first statement still inside the window.
    for (const [host, s] of this.statements) {
      if (s.atMs >= cutoff) break;
      this.statements.delete(host);
    }
  }
}
