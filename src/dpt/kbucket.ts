/**
 * devp2p's `KBucket`: a Kademlia routing table keyed for lookups by id hex
 * and by `address:tcpPort`, with the same public API and events.
 */
import { EventEmitter } from 'node:events';
import { keccak256 } from '../crypto';
import { distCmp, logDistance } from '../table/distance';
import { PeerInfo, bytesToUnprefixedHex } from './util';

/** Contacts per bucket (devp2p KBUCKET_SIZE; geth's bucketSize). */
export const KBUCKET_SIZE = 16;
/** Least-recently-seen contacts offered for eviction when a bucket is full (devp2p KBUCKET_CONCURRENCY). */
export const KBUCKET_PING_COUNT = 3;

/** Events of {@link KBucket}, with their listener arguments. */
export interface KBucketEvents {
  added: [peer: PeerInfo];
  removed: [peer: PeerInfo];
  /**
   * A bucket is full: `oldPeers` are its least recently seen contacts. The
   * owner pings them, removes those that do not answer and adds `newPeer`
   * again.
   */
  ping: [oldPeers: PeerInfo[], newPeer: PeerInfo];
}

interface Entry {
  peer: PeerInfo & { id: Uint8Array };
  /** keccak256(id): the contact's point in Kademlia space. */
  hash: Uint8Array;
}

/**
 * Kademlia buckets of {@link KBUCKET_SIZE} contacts by log distance from
 * the local node, each ordered least recently seen first.
 *
 * Deliberate difference from devp2p: distances are taken between
 * keccak256(id) hashes, the discv4 metric (geth's enode.LogDist, our
 * src/table/distance.ts), not between raw ids. Raw-id distance lets anyone
 * pick a key that lands next to a chosen target; hashing makes that cost a
 * keccak preimage search, and it is what other discv4 nodes compute when
 * they answer a findnode. So `closest(id)` sorts by
 * keccak256(peer.id) XOR keccak256(id).
 *
 * Buckets do not split (geth's fixed 256-bucket table); a full bucket emits
 * 'ping' instead of adding, as devp2p's does for buckets it may not split.
 * Adding a contact that is already present (same id) refreshes it: the new
 * object replaces the old and moves to the most-recently-seen end. A peer
 * whose `address:tcpPort` is taken by a contact with another id is
 * ignored, as in devp2p, until that contact is removed.
 */
export class KBucket {
  readonly events = new EventEmitter<KBucketEvents>();
  /** Every key (id hex, address:tcpPort) of every contact -> its entry. */
  protected _peers = new Map<string, Entry>();
  private readonly localHash: Uint8Array;
  /** buckets[d]: contacts at log distance d (0..256), created on first use. */
  private readonly buckets: Entry[][] = [];

  constructor(localNodeId: Uint8Array) {
    this.localHash = keccak256(localNodeId);
  }

  /**
   * The lookup keys of a peer reference: bytes -> their hex; a string is
   * its own key; a PeerInfo -> its id hex (if it has an id) and
   * `address:tcpPort` (if it has an address and a numeric TCP port).
   */
  static getKeys(obj: Uint8Array | string | PeerInfo): string[] {
    if (obj instanceof Uint8Array) return [bytesToUnprefixedHex(obj)];
    if (typeof obj === 'string') return [obj];
    const keys: string[] = [];
    if (obj.id instanceof Uint8Array) keys.push(bytesToUnprefixedHex(obj.id));
    if (obj.address !== undefined && typeof obj.tcpPort === 'number') keys.push(`${obj.address}:${obj.tcpPort}`);
    return keys;
  }

  /** Adds or refreshes `peer`, or emits 'ping' if its bucket is full. Throws if it has no id. */
  add(peer: PeerInfo): void {
    const keys = KBucket.getKeys(peer);
    let existing: Entry | undefined;
    for (const key of keys) {
      const e = this._peers.get(key);
      if (e === undefined) continue;
      if (peer.id instanceof Uint8Array && sameBytes(e.peer.id, peer.id)) existing = e;
      // A key held by another contact: devp2p ignores the newcomer.
      else return;
    }
    if (!(peer.id instanceof Uint8Array)) throw new Error('Contact must have an id');
    const withId = peer as Entry['peer'];
    if (existing !== undefined) {
      this.refresh(existing, withId);
      return;
    }
    const hash = keccak256(withId.id);
    const bucket = this.bucketAt(logDistance(this.localHash, hash));
    if (bucket.length >= KBUCKET_SIZE) {
      this.events.emit('ping', bucket.slice(0, KBUCKET_PING_COUNT).map((e) => e.peer), peer);
      return;
    }
    const entry: Entry = { peer: withId, hash };
    bucket.push(entry);
    for (const key of keys) this._peers.set(key, entry);
    this.events.emit('added', peer);
  }

  /** The contact known by any key of `obj`, or null. */
  get(obj: Uint8Array | string | PeerInfo): PeerInfo | null {
    for (const key of KBucket.getKeys(obj)) {
      const e = this._peers.get(key);
      if (e !== undefined) return e.peer;
    }
    return null;
  }

  /** All contacts, nearest buckets first. */
  getAll(): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const bucket of this.buckets) for (const e of bucket) out.push(e.peer);
    return out;
  }

  /** Up to {@link KBUCKET_SIZE} contacts nearest to `id` by keccak256 distance, nearest first. */
  closest(id: Uint8Array): PeerInfo[] {
    const target = keccak256(id);
    const all: Entry[] = [];
    for (const bucket of this.buckets) all.push(...bucket);
    all.sort((a, b) => distCmp(target, a.hash, b.hash));
    return all.slice(0, KBUCKET_SIZE).map((e) => e.peer);
  }

  /** Removes the contact known by any key of `obj` and emits 'removed'. */
  remove(obj: Uint8Array | string | PeerInfo): void {
    let entry: Entry | undefined;
    for (const key of KBucket.getKeys(obj)) {
      entry = this._peers.get(key);
      if (entry !== undefined) break;
    }
    if (entry === undefined) return;
    const bucket = this.buckets[logDistance(this.localHash, entry.hash)];
    bucket.splice(bucket.indexOf(entry), 1);
    this.unmap(entry);
    this.events.emit('removed', entry.peer);
  }

  private bucketAt(distance: number): Entry[] {
    let bucket = this.buckets[distance];
    if (bucket === undefined) {
      // Fill the holes so iteration in getAll/closest stays in distance order.
      for (let d = this.buckets.length; d < distance; d++) this.buckets[d] = [];
      bucket = this.buckets[distance] = [];
    }
    return bucket;
  }

  /** Replaces a contact with a newer version of itself and marks it most recently seen. */
  private refresh(entry: Entry, peer: Entry['peer']): void {
    const bucket = this.buckets[logDistance(this.localHash, entry.hash)];
    bucket.splice(bucket.indexOf(entry), 1);
    bucket.push(entry);
    this.unmap(entry);
    entry.peer = peer;
    for (const key of KBucket.getKeys(peer)) this._peers.set(key, entry);
  }

  private unmap(entry: Entry): void {
    for (const key of KBucket.getKeys(entry.peer)) {
      if (this._peers.get(key) === entry) this._peers.delete(key);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
