/**
 * Endpoint proofs ("bonds"), keyed by node id and IP as geth keeps them in
 * its node DB (n:<id>:v4:<ip>:lastping / lastpong / findfail):
 * - lastPongReceived: the node answered our ping from this IP, so it owns
 *   the endpoint; findnode and ENRRequest from it may be answered.
 * - lastPingReceived: the node pinged us from this IP, so it holds our
 *   endpoint proof and will answer our findnode.
 * - findFails: consecutive findnode failures (geth drops nodes past 5).
 *
 * The in-memory store is an LRU with a hard bound, so a flood of fresh
 * identities cannot grow it; the node DB backs it in a later layer.
 */

export interface BondRecord {
  lastPingReceivedMs: number;
  lastPongReceivedMs: number;
  findFails: number;
}

export interface BondStore {
  get(key: string): BondRecord | undefined;
  /** Returns the record for `key`, creating it (and evicting the least recently used past the bound). */
  upsert(key: string): BondRecord;
  readonly size: number;
}

/** The store key: node id and IP bytes as one latin1 string (64 + 4 or 16 chars). */
export function bondKey(nodeIdLatin1: string, ipKey: string): string {
  return nodeIdLatin1 + ipKey;
}

export class MemoryBondStore implements BondStore {
  private readonly map = new Map<string, BondRecord>();
  evictions = 0;

  constructor(readonly maxEntries = 100_000) {}

  get(key: string): BondRecord | undefined {
    return this.map.get(key);
  }

  upsert(key: string): BondRecord {
    const map = this.map;
    let rec = map.get(key);
    if (rec !== undefined) {
      // Re-insert to mark it most recently used (Map keeps insertion order).
      map.delete(key);
      map.set(key, rec);
      return rec;
    }
    if (map.size >= this.maxEntries) {
      map.delete(map.keys().next().value as string);
      this.evictions++;
    }
    rec = { lastPingReceivedMs: 0, lastPongReceivedMs: 0, findFails: 0 };
    map.set(key, rec);
    return rec;
  }

  get size(): number {
    return this.map.size;
  }
}
