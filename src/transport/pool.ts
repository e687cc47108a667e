/**
 * Send buffers: fixed 1280-byte slots carved from one slab allocated at
 * start. A reply is written and sealed in place in a slot; the slot goes
 * back to the pool when the socket reports the send done (at once for the
 * native socket's synchronous sends, from the callback for dgram). The
 * release callbacks are made once per slot so a send allocates nothing.
 */
import { MAX_PACKET_SIZE } from '../wire/types';

export class SendPool {
  readonly slab: Buffer;
  readonly slotSize = MAX_PACKET_SIZE;
  private readonly free: Int32Array;
  private freeCount: number;
  private readonly releasers: Array<() => void>;
  /** Times acquire() found no free slot. */
  exhausted = 0;

  constructor(readonly slots: number) {
    this.slab = Buffer.allocUnsafeSlow(slots * MAX_PACKET_SIZE);
    this.free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.free[i] = slots - 1 - i;
    this.freeCount = slots;
    this.releasers = Array.from({ length: slots }, (_, i) => () => this.release(i));
  }

  /** A free slot index, or -1 when every slot is in flight. */
  acquire(): number {
    if (this.freeCount === 0) {
      this.exhausted++;
      return -1;
    }
    return this.free[--this.freeCount];
  }

  offset(slot: number): number {
    return slot * MAX_PACKET_SIZE;
  }

  release(slot: number): void {
    this.free[this.freeCount++] = slot;
  }

  /** The preallocated `() => release(slot)` for send callbacks. */
  releaser(slot: number): () => void {
    return this.releasers[slot];
  }

  get inUse(): number {
    return this.slots - this.freeCount;
  }
}
