/**
 * `dpt._kbucket`: ethjs's KBucket API over our DPT's peers. ethjs apps and
 * tools read the DPT's bucket directly (getAll, get, closest) and some add
 * or remove contacts through it; here each call goes to the DPT, whose
 * table is the one our lookups and findnode answers use, so there is one
 * source of truth. Differences, as for the DPT: `add` verifies the peer by
 * ping before it enters (ethjs inserts it unverified), and distances are
 * between keccak256(id)s (README: Replacing @ethereumjs/devp2p's DPT).
 */
import { EventEmitter } from 'node:events';
import type { KBucketEvents } from './kbucket';
import type { PeerInfo } from './types';

/** What the view needs from the DPT. */
export interface KBucketOwner {
  getPeer(obj: string | Uint8Array | PeerInfo): PeerInfo | null;
  getPeers(): PeerInfo[];
  getClosestPeers(id: Uint8Array): PeerInfo[];
  addPeer(peer: PeerInfo): Promise<PeerInfo>;
  removePeer(obj: string | PeerInfo | Uint8Array): void;
  readonly events: { on(event: 'peer:added' | 'peer:removed', listener: (peer: PeerInfo) => void): unknown };
}

export class KBucketView {
  /** 'added' / 'removed' as the DPT's peers enter and leave ('ping' never fires: our table revalidates on its own). */
  readonly events = new EventEmitter<KBucketEvents>();

  constructor(private readonly dpt: KBucketOwner) {
    dpt.events.on('peer:added', (p) => this.events.emit('added', p));
    dpt.events.on('peer:removed', (p) => this.events.emit('removed', p));
  }

  get(obj: Uint8Array | string | PeerInfo): PeerInfo | null {
    return this.dpt.getPeer(obj);
  }

  getAll(): PeerInfo[] {
    return this.dpt.getPeers();
  }

  closest(id: Uint8Array): PeerInfo[] {
    return this.dpt.getClosestPeers(id);
  }

  /** Adds after a ping answers (failures end quietly, as ethjs's add never throws for an unreachable peer). */
  add(peer: PeerInfo): void {
    void this.dpt.addPeer(peer).catch(() => undefined);
  }

  remove(obj: Uint8Array | string | PeerInfo): void {
    this.dpt.removePeer(obj);
  }
}
