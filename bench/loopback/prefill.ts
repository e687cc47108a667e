/**
 * Prefilling a bootnode-shaped node for the scale bench (bench/loopback/scale.ts):
 * a table as full as feasible at its bucket size and a set of known nodes,
 * shaped as a long-running bootnode's would be.
 *
 * - Ids: random 64-byte values. Table entries never talk (revalidation is
 *   held off by the server, see server.ts), and the table only hashes ids,
 *   so they need not be public keys. Random ids land in bucket 16 with
 *   probability 1/2, bucket 15 with 1/4...: filling the top k buckets to
 *   `bucketSize` takes about bucketSize * 2^k candidates.
 * - Addresses: 10.x.y.z, distinct per node: LAN addresses are exempt from
 *   the table's per-/24 limits (its default), and nothing is ever sent to them.
 * - Records: the fork filter reads a node's network from the `eth` entry of
 *   its record, and decodeRecord checks the signature, so the records are
 *   real, signed with a small pool of keys (the filter does not compare the
 *   record's key with the table entry's id). 75 % carry our fork id, 15 %
 *   another network's (sepolia), 10 % no `eth` entry ("unknown"), so
 *   'strict' has nodes to leave out. Every record gets its own copy, so the
 *   server's RSS carries one record per node as a real one would.
 */
import { randomBytes } from 'node:crypto';
import { generatePrivateKey, keccak256 } from '../../src/crypto';
import { signRecord } from '../../src/enr/record';
import { ethEntry, ForkId } from '../../src/node/forkid';
import type { NodeRecordInfo, Table } from '../../src/table/table';

export type ForkClass = 'ours' | 'other' | 'unknown';

/** Signed records per fork class, to be copied onto prefilled nodes. */
export interface RecordPool {
  ours: Buffer[];
  other: Buffer[];
  unknown: Buffer[];
}

/** `keys` keys per class, each signing one record (with ip/udp/tcp pairs, so records are of a real size). */
export function recordPool(keys: number, ourFork: ForkId, otherFork: ForkId): RecordPool {
  const sign = (eth: ForkId | undefined, i: number) => {
    const ip = lanIp(i);
    return signRecord(generatePrivateKey(), 1n, { ip, udp: 30303, tcp: 30303, ...(eth !== undefined ? { eth: ethEntry(eth) } : {}) });
  };
  const pool: RecordPool = { ours: [], other: [], unknown: [] };
  for (let i = 0; i < keys; i++) {
    pool.ours.push(sign(ourFork, i));
    pool.other.push(sign(otherFork, i));
    pool.unknown.push(sign(undefined, i));
  }
  return pool;
}

/** Node i's fork class: 15 of every 20 ours, 3 another network's, 2 without `eth`. */
export function forkClassOf(i: number): ForkClass {
  const c = i % 20;
  return c < 15 ? 'ours' : c < 18 ? 'other' : 'unknown';
}

/** A copy of a record of node i's class. */
export function recordFor(pool: RecordPool, i: number): { cls: ForkClass; record: Buffer } {
  const cls = forkClassOf(i);
  const list = pool[cls];
  return { cls, record: Buffer.from(list[i % list.length]) };
}

/** 10.x.y.z for node i (i < 2^24): distinct and LAN. */
export function lanIp(i: number): Buffer {
  return Buffer.from([10, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff]);
}

export interface PrefillResult {
  entries: number;
  candidates: number;
  perBucket: number[];
  forkClasses: Record<ForkClass, number>;
}

/**
 * Adds live entries with random ids until the top `fullBuckets` buckets
 * hold `bucketSize` each, or `maxCandidates` ids were tried. Lower buckets
 * get what the candidates bring. Node numbers (for addresses and fork
 * classes) start at `firstIndex`.
 */
export function prefillTable(
  table: Table,
  opts: { bucketSize: number; fullBuckets: number; maxCandidates: number; pool: RecordPool; firstIndex?: number },
): PrefillResult {
  const { bucketSize, pool } = opts;
  const nb = table.buckets.length;
  const top = Math.min(nb, Math.max(0, opts.fullBuckets));
  const topFull = () => {
    for (let j = nb - top; j < nb; j++) if (table.buckets[j].entries.length < bucketSize) return false;
    return true;
  };
  const classes: Record<ForkClass, number> = { ours: 0, other: 0, unknown: 0 };
  const CHUNK = 4096;
  let next = opts.firstIndex ?? 0;
  let candidates = 0;
  while (candidates < opts.maxCandidates && !topFull()) {
    const ids = randomBytes(64 * CHUNK);
    for (let k = 0; k < CHUNK && candidates < opts.maxCandidates; k++, candidates++) {
      const id = ids.subarray(k * 64, (k + 1) * 64);
      const b = table.bucketIndex(keccak256(id));
      // A full bucket would keep it as a replacement: not what we measure.
      if (table.buckets[b].entries.length >= bucketSize) continue;
      const { cls, record } = recordFor(pool, next);
      const info: NodeRecordInfo = { id, ip: lanIp(next), udpPort: 30303, tcpPort: 30303, seq: 1n, record };
      if (table.addVerified(info, { live: true })) {
        classes[cls]++;
        next++;
      }
    }
  }
  return { entries: table.size, candidates, perBucket: table.buckets.map((b) => b.entries.length), forkClasses: classes };
}

/** `count` known-node infos (random ids, 10.x addresses from `firstIndex`, records as above). */
export function* knownInfos(
  count: number,
  pool: RecordPool,
  firstIndex: number,
): Generator<{ id: Buffer; ip: Buffer; udpPort: number; tcpPort: number; seq: bigint; record: Buffer }> {
  for (let i = 0; i < count; i++) {
    const n = firstIndex + i;
    yield { id: randomBytes(64), ip: lanIp(n), udpPort: 30303, tcpPort: 30303, seq: 1n, record: recordFor(pool, n).record };
  }
}
