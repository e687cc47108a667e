/**
 * The pending-reply queue: requests waiting for their reply packets.
 *
 * Behaviour follows go-ethereum p2p/discover/v4_udp.go `replyMatcher` and
 * `loop`:
 * - a reply matches on (sender node id, sender IP, packet type) together;
 *   replies from another IP are ignored, so a third party cannot answer for
 *   a node (`p.from == r.from && p.ptype == r.data.Kind() && p.ip == r.ip`);
 * - the matcher's callback returns (matched, requestDone), because one
 *   findnode can be answered by several neighbors packets;
 * - every pending matcher of that node is offered the packet, oldest first;
 * - ONE timer serves the earliest deadline, instead of a timer per request.
 *
 * Where we differ, and why:
 * - geth keeps a list in insertion order, which is deadline order only
 *   because every request has the same `respTimeout`. Here timeouts vary per
 *   request, so deadlines live in a binary min-heap.
 * - geth scans the whole list per reply. A busy node has thousands of
 *   requests out, so we index entries by node: a dispatch costs the number of
 *   requests to *that* node.
 * - geth's list is unbounded. We cap it (`maxPending`) and fail at once
 *   (QueueFullError) rather than queue more work behind a flood.
 * - No `errClockWarp`: deadlines are on a monotonic clock (see clock.ts).
 *
 * Everything runs synchronously on the caller's stack (Node has no loop
 * goroutine), so callbacks may re-enter the queue; see {@link PendingQueue}.
 */
import { ClosedError, InvalidArgumentError, QueueFullError, TimeoutError } from '../errors';
import { systemClock, type Clock, type TimerHandle } from './clock';
import { MAX_PENDING } from '../defaults';

/** Result bits of Matcher.onPacket. */
export const enum MatchResult {
  /** Not for this request (e.g. a pong whose reply token is another ping's). */
  None = 0,
  /** Accepted; the request waits for more packets (findnode after a partial neighbors). */
  Matched = 1,
  /** Matched and the request is complete (bit 2 set on top of Matched). */
  Done = 3,
}

/** The bit of MatchResult.Done that ends the request. */
const DONE_BIT = 2;

export interface Matcher<P = unknown> {
  /** Key of the node the reply must come from (the transport passes e.g. the node id as a latin1 string). */
  readonly nodeKey: string;
  /** Key of the IP the request was sent to; replies from another IP do not match (geth matches on id, ip, packet type). */
  readonly ipKey: string;
  /** Expected packet type (a small integer). */
  readonly type: number;
  /** A packet from (nodeKey, ipKey, type) arrived. May be called several times (e.g. findnode's neighbors packets). */
  onPacket(packet: P): MatchResult;
  /**
   * Called exactly once when the request ends: no argument when onPacket
   * returned Done; TimeoutError at the deadline; ClosedError on close(); the
   * error passed to cancel(); or the error onPacket threw.
   */
  onDone(err?: Error): void;
}

export interface PendingOptions {
  /** Most requests pending at once; add() beyond it fails with QueueFullError. Default {@link MAX_PENDING}. */
  maxPending?: number;
  /** Default {@link systemClock}. */
  clock?: Clock;
  /**
   * Receives whatever an onPacket/onDone callback threw. The queue swallows
   * those errors (one broken request must not break the others, nor the
   * socket's read loop that called dispatch); this hook lets the owner log them.
   */
  onCallbackError?: (err: unknown) => void;
}


/** Counters for metrics. Invariant: added === completed + timeouts + cancelled + size. */
export interface PendingStats {
  /** Requests accepted by add(). */
  added: number;
  /** Requests whose matcher returned Done. */
  completed: number;
  /** Requests that reached their deadline. */
  timeouts: number;
  /** add() calls refused because the queue was full (not counted in `added`). */
  rejectedFull: number;
  /** Requests ended early: cancel(), close(), or a throwing onPacket. */
  cancelled: number;
  /** dispatch() calls whose packet at least one matcher accepted (Matched or Done). */
  matchedPackets: number;
  /** Exceptions thrown by onPacket/onDone, caught by the queue. */
  callbackErrors: number;
}

/** The node-index list of one nodeKey: its entries in insertion order. */
interface NodeList<P> {
  head: Entry<P> | null;
  tail: Entry<P> | null;
}

/**
 * One pending request. Lives in three structures at once: the deadline
 * heap (`heapIndex`), its node's list (`prev`/`next`) and the handle map.
 * Match keys are copied from the matcher so the hot loops read one
 * monomorphic shape, not whatever class the caller used.
 */
class Entry<P> {
  /** Position in the heap; -1 once the request has ended. */
  heapIndex = -1;
  prev: Entry<P> | null = null;
  /**
   * Next entry of the same node. Deliberately kept when this entry is
   * unlinked, so a dispatch standing on it can still move on (see dispatch).
   */
  next: Entry<P> | null = null;

  constructor(
    readonly m: Matcher<P>,
    readonly nodeKey: string,
    readonly ipKey: string,
    readonly type: number,
    readonly timeoutMs: number,
    readonly deadlineMs: number,
    /** Insertion order: the FIFO tie-break, and the handle returned by add(). */
    readonly seq: number,
    readonly list: NodeList<P>,
  ) {}
}

/** Heap order: earlier deadline first; equal deadlines in insertion order. */
function before<P>(a: Entry<P>, b: Entry<P>): boolean {
  return a.deadlineMs < b.deadlineMs || (a.deadlineMs === b.deadlineMs && a.seq < b.seq);
}

/**
 * Requests waiting for replies, each ending exactly once: completed (its
 * matcher returned Done), timed out, cancelled, or rejected by close().
 *
 * Costs: add, cancel and each completion are O(log n) in the number pending;
 * dispatch is O(requests pending for that node); no timer per request and
 * no allocation per dispatch.
 *
 * Re-entrancy: onPacket and onDone run synchronously inside add, dispatch,
 * cancel, close and the timer, and may call add, cancel, close (or dispatch)
 * on this same queue. A request is always removed from the queue *before*
 * its onDone runs, so onDone sees the queue without it and may e.g. send a
 * follow-up request. A packet is offered only to requests that were pending
 * when its dispatch began: a request added by a callback waits for the next
 * packet (it was not sent yet when this one arrived).
 */
export class PendingQueue<P = unknown> {
  private readonly clock: Clock;
  private readonly maxPending: number;
  private readonly onCallbackError: ((err: unknown) => void) | undefined;

  /** Min-heap by (deadlineMs, seq). */
  private heap: Entry<P>[] = [];
  /** nodeKey -> that node's pending entries in insertion order; no empty lists. */
  private readonly byNode = new Map<string, NodeList<P>>();
  /** handle (= seq) -> entry, for cancel(). Also insertion-ordered, which close() relies on. */
  private readonly byHandle = new Map<number, Entry<P>>();
  /** Next seq/handle. Starts at 1 so that 0 can mean "not added". */
  private nextSeq = 1;

  private timer: TimerHandle | undefined = undefined;
  /** The deadline `timer` was armed for; meaningful only while timer is set. */
  private timerDeadlineMs = 0;
  /** Set while expire() runs, so adds from its callbacks don't arm a timer for entries about to expire. */
  private expiring = false;
  private closed = false;
  /** Made once, so arming the timer allocates nothing but the clock's own handle. */
  private readonly onTimer = (): void => this.expire();

  private readonly counters: PendingStats = {
    added: 0,
    completed: 0,
    timeouts: 0,
    rejectedFull: 0,
    cancelled: 0,
    matchedPackets: 0,
    callbackErrors: 0,
  };

  constructor(opts: PendingOptions = {}) {
    const maxPending = opts.maxPending ?? MAX_PENDING;
    if (!Number.isSafeInteger(maxPending) || maxPending < 1) {
      throw new InvalidArgumentError(`maxPending must be a positive integer, got ${maxPending}`);
    }
    this.maxPending = maxPending;
    this.clock = opts.clock ?? systemClock;
    this.onCallbackError = opts.onCallbackError;
  }

  /** Requests pending now. */
  get size(): number {
    return this.heap.length;
  }

  /**
   * Adds a request that expires `timeoutMs` from now. If the queue is full
   * or closed, `m.onDone(new QueueFullError())` / `m.onDone(new ClosedError())`
   * runs synchronously and 0 is returned, so the caller has a single path
   * for every way a request can end. Returns a handle (positive integer) for
   * cancel(). Throws InvalidArgumentError if timeoutMs is not a finite
   * number >= 0 (a caller bug, not a network condition).
   */
  add(m: Matcher<P>, timeoutMs: number): number {
    if (!(timeoutMs >= 0 && timeoutMs !== Infinity)) {
      throw new InvalidArgumentError(`timeoutMs must be a finite number >= 0, got ${timeoutMs}`);
    }
    if (this.closed) {
      this.callDone(m, new ClosedError());
      return 0;
    }
    if (this.heap.length >= this.maxPending) {
      this.counters.rejectedFull++;
      this.callDone(m, new QueueFullError(`too many pending requests (max ${this.maxPending})`));
      return 0;
    }

    const nodeKey = m.nodeKey;
    let list = this.byNode.get(nodeKey);
    if (list === undefined) {
      list = { head: null, tail: null };
      this.byNode.set(nodeKey, list);
    }
    const seq = this.nextSeq++;
    const e = new Entry(m, nodeKey, m.ipKey, m.type, timeoutMs, this.clock.now() + timeoutMs, seq, list);
    if (list.tail === null) list.head = e;
    else {
      list.tail.next = e;
      e.prev = list.tail;
    }
    list.tail = e;
    this.byHandle.set(seq, e);
    const heap = this.heap;
    heap.push(e);
    this.siftUp(heap.length - 1);
    this.counters.added++;

    if (heap[0] === e && !this.expiring) this.arm();
    return seq;
  }

  /**
   * Offers a packet to every pending request with this nodeKey, ipKey and
   * type, oldest first, like geth's `loop` on `gotreply` (two pings to the
   * same node both see each pong; each matcher checks its own reply token).
   * Returns true if any matcher returned Matched or Done; the transport uses
   * that to tell solicited replies from unsolicited ones (geth's
   * errUnsolicitedReply). Requests whose matcher returns Done are removed,
   * then their onDone() runs.
   */
  dispatch(nodeKey: string, ipKey: string, type: number, packet: P): boolean {
    if (this.closed) return false;
    const list = this.byNode.get(nodeKey);
    if (list === undefined) return false;

    // Only entries pending when the packet arrived: the node list is in
    // insertion order, so stop at the first newer one.
    const limitSeq = this.nextSeq;
    let matched = false;
    // Walking the intrusive list needs no snapshot array even though
    // callbacks may remove any entry (including the next one): an unlinked
    // entry keeps its `next`, which leads on to every entry still pending
    // that was behind it, and entries appended since are newer than
    // limitSeq anyway.
    let e = list.head;
    while (e !== null && e.seq < limitSeq) {
      if (e.heapIndex >= 0 && e.ipKey === ipKey && e.type === type) {
        let r: MatchResult;
        try {
          r = e.m.onPacket(packet);
        } catch (err) {
          this.callbackFailed(err);
          // A matcher that cannot handle its reply ends its request with
          // that error rather than leaving it to time out.
          if (e.heapIndex >= 0) {
            this.detach(e);
            this.counters.cancelled++;
            this.callDone(e.m, err instanceof Error ? err : new Error(String(err)));
          }
          r = MatchResult.None;
        }
        if (r !== MatchResult.None) {
          matched = true;
          // heapIndex check: the callback may have ended its own request
          // (cancel/close), and onDone must run only once.
          if ((r & DONE_BIT) !== 0 && e.heapIndex >= 0) {
            this.detach(e);
            this.counters.completed++;
            this.callDone(e.m, undefined);
          }
        }
        if (this.closed) break;
      }
      e = e.next;
    }
    if (matched) this.counters.matchedPackets++;
    return matched;
  }

  /**
   * Ends one request early with `err` (default ClosedError): e.g. the
   * transport gave up on a send. No-op for unknown or finished handles
   * (including 0). Returns whether the request was pending.
   */
  cancel(handle: number, err?: Error): boolean {
    const e = this.byHandle.get(handle);
    if (e === undefined) return false;
    this.detach(e);
    this.counters.cancelled++;
    this.callDone(e.m, err ?? new ClosedError('request cancelled'));
    return true;
  }

  /**
   * Ends every pending request with ClosedError (or `err`), in the order
   * they were added (geth: `errClosed` on `closeCtx.Done()`), and refuses
   * new ones. Idempotent.
   */
  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    // Empty every structure first, so callbacks see a closed, empty queue.
    const entries = Array.from(this.byHandle.values());
    this.heap = [];
    this.byNode.clear();
    this.byHandle.clear();
    for (const e of entries) {
      e.heapIndex = -1;
      e.prev = e.next = null;
    }
    this.counters.cancelled += entries.length;
    for (const e of entries) this.callDone(e.m, err ?? new ClosedError());
  }

  /** A copy of the counters (see {@link PendingStats}). */
  stats(): PendingStats {
    return { ...this.counters };
  }

  /**
   * For tests: throws if any internal invariant is broken (heap order and
   * indexes, node lists, handle map, timer). O(n).
   * @internal
   */
  checkInvariants(): void {
    const fail = (msg: string): never => {
      throw new Error(`PendingQueue invariant: ${msg}`);
    };
    const heap = this.heap;
    for (let i = 0; i < heap.length; i++) {
      const e = heap[i];
      if (e.heapIndex !== i) fail(`heap[${i}].heapIndex is ${e.heapIndex}`);
      if (i > 0 && before(e, heap[(i - 1) >> 1])) fail(`heap[${i}] sorts before its parent`);
      if (this.byHandle.get(e.seq) !== e) fail(`heap[${i}] missing from the handle map`);
      if (this.byNode.get(e.nodeKey) !== e.list) fail(`heap[${i}] has a stale node list`);
    }
    if (this.byHandle.size !== heap.length) fail(`${this.byHandle.size} handles for ${heap.length} entries`);
    let listed = 0;
    for (const [key, list] of this.byNode) {
      if (list.head === null) fail(`empty list kept for node ${JSON.stringify(key)}`);
      let prev: Entry<P> | null = null;
      for (let e = list.head; e !== null; e = e.next) {
        if (e.heapIndex < 0 || heap[e.heapIndex] !== e) fail('a node list holds an ended entry');
        if (e.nodeKey !== key || e.list !== list) fail('an entry is in another node\'s list');
        if (e.prev !== prev) fail('broken prev link');
        if (prev !== null && prev.seq >= e.seq) fail('node list out of insertion order');
        prev = e;
        listed++;
      }
      if (list.tail !== prev) fail('stale list tail');
    }
    if (listed !== heap.length) fail(`${listed} listed entries for ${heap.length} in the heap`);
    if (heap.length === 0 || this.closed) {
      if (this.timer !== undefined) fail('timer armed with nothing pending');
    } else if (!this.expiring) {
      // (While expire() runs, from its callbacks, the timer is re-armed only at the end.)
      if (this.timer === undefined) fail('requests pending but no timer');
      else if (this.timerDeadlineMs > heap[0].deadlineMs) fail('timer armed after the earliest deadline');
    }
    const c = this.counters;
    if (c.added !== c.completed + c.timeouts + c.cancelled + heap.length) fail('counters do not add up');
  }

  /**
   * Arms the one timer for the earliest deadline if none is armed or the
   * armed one is too late. When the earliest request ends and the next
   * deadline is later, the armed timer is left alone: it fires early, finds
   * nothing due and re-arms. In steady traffic most replies answer the
   * oldest request, so re-arming on every head change would cost a
   * clearTimeout/setTimeout pair per reply; this costs one wake-up per
   * deadline instead.
   */
  private arm(): void {
    const heap = this.heap;
    if (heap.length === 0) {
      this.clearTimer();
      return;
    }
    const deadlineMs = heap[0].deadlineMs;
    if (this.timer !== undefined) {
      if (this.timerDeadlineMs <= deadlineMs) return;
      this.clock.clearTimer(this.timer);
    }
    const delayMs = deadlineMs - this.clock.now();
    const t = this.clock.setTimer(this.onTimer, delayMs > 0 ? delayMs : 0);
    // The clock should unref already (systemClock does); a custom clock
    // returning a Node Timeout gets the same guarantee.
    t.unref?.();
    this.timer = t;
    this.timerDeadlineMs = deadlineMs;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * The timer callback: ends every request whose deadline is <= now, oldest
   * deadline first (geth: `now.After(p.deadline) || now.Equal(p.deadline)`).
   * It may run before the earliest deadline (see arm(); Node timers can also
   * fire a little before performance.now() reaches the deadline, as they
   * count from the event loop's cached time); then it only re-arms.
   */
  private expire(): void {
    this.timer = undefined;
    if (this.closed) return;
    const nowMs = this.clock.now();
    // Requests added by the onDone callbacks below are left for the next
    // run, even with timeoutMs 0: a callback that retries on timeout must
    // not keep this loop going forever.
    const limitSeq = this.nextSeq;
    const heap = this.heap;
    this.expiring = true;
    try {
      while (heap.length > 0 && !this.closed) {
        // An entry added during this run has deadline >= nowMs and a larger
        // seq than every older entry with the same deadline, so the older
        // due ones all come out of the heap before any new one.
        const e = heap[0];
        if (e.deadlineMs > nowMs || e.seq >= limitSeq) break;
        this.detach(e);
        this.counters.timeouts++;
        this.callDone(e.m, new TimeoutError(`no reply within ${e.timeoutMs} ms`));
      }
    } finally {
      this.expiring = false;
    }
    // close() from a callback already cleared the timer; arm() would find
    // the heap empty (close replaced it) and do nothing.
    if (!this.closed) this.arm();
  }

  /**
   * Removes a pending entry from all three structures. Keeps `e.next` (see
   * dispatch) and clears the timer when nothing is left to wait for.
   */
  private detach(e: Entry<P>): void {
    this.removeFromHeap(e.heapIndex);
    e.heapIndex = -1;
    const list = e.list;
    if (e.prev === null) list.head = e.next;
    else e.prev.next = e.next;
    if (e.next === null) list.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = null;
    if (list.head === null) this.byNode.delete(e.nodeKey);
    this.byHandle.delete(e.seq);
    if (this.heap.length === 0) this.clearTimer();
  }

  private removeFromHeap(i: number): void {
    const heap = this.heap;
    const last = heap.pop() as Entry<P>;
    if (i === heap.length) return; // it was the last element
    heap[i] = last;
    last.heapIndex = i;
    if (i > 0 && before(last, heap[(i - 1) >> 1])) this.siftUp(i);
    else this.siftDown(i);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const e = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent];
      if (!before(e, p)) break;
      heap[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    heap[i] = e;
    e.heapIndex = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const e = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap[child + 1], heap[child])) child++;
      const c = heap[child];
      if (!before(c, e)) break;
      heap[i] = c;
      c.heapIndex = i;
      i = child;
    }
    heap[i] = e;
    e.heapIndex = i;
  }

  /** Runs onDone, isolating the queue from whatever it throws. */
  private callDone(m: Matcher<P>, err: Error | undefined): void {
    try {
      m.onDone(err);
    } catch (cbErr) {
      this.callbackFailed(cbErr);
    }
  }

  private callbackFailed(err: unknown): void {
    this.counters.callbackErrors++;
    const hook = this.onCallbackError;
    if (hook === undefined) return;
    try {
      hook(err);
    } catch {
      // The hook is a logger; if it fails too there is no one left to tell,
      // and throwing here would unwind into the socket's read loop.
    }
  }
}
