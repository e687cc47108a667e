/**
 * Endpoint proofs ("bonds"), keyed by node id and IP as geth keeps them in
 * its node DB (n:<id>:v4:<ip>:lastping / lastpong / findfail):
 * - lastPongReceivedMs: the node answered our ping from this IP, so it owns
 *   the endpoint; findnode and ENRRequest from it may be answered.
 * - lastPingReceivedMs: the node pinged us from this IP, so it holds our
 *   endpoint proof and will answer our findnode.
 * - findFails: consecutive findnode failures (geth re-bonds past 5).
 *
 * Every verified packet looks its sender up here, so the table is keyed by
 * the bytes themselves (a salted hash of id and IP, then a byte compare):
 * no string keys, no allocation per lookup. It is an LRU with a hard
 * bound, so a flood of fresh identities cannot grow it; the node DB backs
 * it in a later layer.
 */
import { randomBytes } from 'node:crypto';

export interface BondRecord {
  lastPingReceivedMs: number;
  lastPongReceivedMs: number;
  findFails: number;
}

export interface BondStore {
  /** The record of (id[idOff, idOff+64), ip), if any. */
  get(id: Uint8Array, idOff: number, ip: Uint8Array): BondRecord | undefined;
  /** The record of (id, ip), created if missing (evicting the least recently used past the bound). */
  upsert(id: Uint8Array, idOff: number, ip: Uint8Array): BondRecord;
  readonly size: number;
}

interface Entry extends BondRecord {
  readonly id: Buffer;
  readonly ip: Buffer;
  readonly hash: number;
  /** Next entry with the same hash. */
  chain: Entry | undefined;
  /** LRU list: newer / older neighbours. */
  newer: Entry | undefined;
  older: Entry | undefined;
}

// Per-process random salt: node ids are chosen by their owners, so an
// unsalted hash of their bytes would let an attacker build long chains.
const salt = randomBytes(8);
const SALT_A = salt.readUInt32LE(0) | 1;
const SALT_B = salt.readUInt32LE(4);

function hashOf(id: Uint8Array, idOff: number, ip: Uint8Array): number {
  let h = SALT_B;
  // Ids are public keys (uniform bytes): 8 of them plus every IP byte
  // spread entries well, and mixing with the salt hides the order.
  for (let i = 0; i < 8; i++) h = Math.imul(h ^ id[idOff + i * 8], SALT_A) ^ (h >>> 15);
  for (let i = 0; i < ip.length; i++) h = Math.imul(h ^ ip[i], SALT_A) ^ (h >>> 13);
  return h & 0x3fffffff; // a small integer: Map keys without boxing
}

function same(e: Entry, id: Uint8Array, idOff: number, ip: Uint8Array): boolean {
  if (e.ip.length !== ip.length) return false;
  for (let i = 0; i < ip.length; i++) if (e.ip[i] !== ip[i]) return false;
  const eid = e.id;
  for (let i = 0; i < 64; i++) if (eid[i] !== id[idOff + i]) return false;
  return true;
}

export class MemoryBondStore implements BondStore {
  private readonly map = new Map<number, Entry>();
  private newest: Entry | undefined;
  private oldest: Entry | undefined;
  private count = 0;
  evictions = 0;

  constructor(readonly maxEntries = 100_000) {}

  get(id: Uint8Array, idOff: number, ip: Uint8Array): BondRecord | undefined {
    return this.find(hashOf(id, idOff, ip), id, idOff, ip);
  }

  upsert(id: Uint8Array, idOff: number, ip: Uint8Array): BondRecord {
    const h = hashOf(id, idOff, ip);
    const found = this.find(h, id, idOff, ip);
    if (found !== undefined) {
      this.touch(found);
      return found;
    }
    if (this.count >= this.maxEntries && this.oldest !== undefined) {
      this.remove(this.oldest);
      this.evictions++;
    }
    const e: Entry = {
      id: Buffer.from(id.subarray(idOff, idOff + 64)),
      ip: Buffer.from(ip),
      hash: h,
      lastPingReceivedMs: 0,
      lastPongReceivedMs: 0,
      findFails: 0,
      chain: this.map.get(h),
      newer: undefined,
      older: this.newest,
    };
    this.map.set(h, e);
    if (this.newest !== undefined) this.newest.newer = e;
    this.newest = e;
    if (this.oldest === undefined) this.oldest = e;
    this.count++;
    return e;
  }

  get size(): number {
    return this.count;
  }

  private find(h: number, id: Uint8Array, idOff: number, ip: Uint8Array): Entry | undefined {
    let e = this.map.get(h);
    while (e !== undefined && !same(e, id, idOff, ip)) e = e.chain;
    return e;
  }

  /** Moves `e` to the newest end of the LRU list. */
  private touch(e: Entry): void {
    if (this.newest === e) return;
    this.unlink(e);
    e.older = this.newest;
    e.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = e;
    this.newest = e;
    if (this.oldest === undefined) this.oldest = e;
  }

  private unlink(e: Entry): void {
    if (e.newer !== undefined) e.newer.older = e.older;
    else this.newest = e.older;
    if (e.older !== undefined) e.older.newer = e.newer;
    else this.oldest = e.newer;
  }

  private remove(e: Entry): void {
    this.unlink(e);
    // Drop it from its hash chain.
    let head = this.map.get(e.hash);
    if (head === e) {
      if (e.chain === undefined) this.map.delete(e.hash);
      else this.map.set(e.hash, e.chain);
    } else {
      while (head !== undefined && head.chain !== e) head = head.chain;
      if (head !== undefined) head.chain = e.chain;
    }
    this.count--;
  }
}
