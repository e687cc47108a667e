/**
 * The fork filter (EIP-2124): which table nodes a neighbors answer may hold.
 * A node's network comes from the `eth` entry of its record (fetched once it
 * bonds); nodes whose record we do not have yet, or that have no `eth`
 * entry, count as "unknown": left out by 'strict'; 'prefer' lists ours, then
 * unknown, then others; 'off' lists everyone.
 *
 * Time: a timestamp fork moves our fork id at a wall-clock instant, so the
 * policy reads the wall clock it is given (Date.now by default).
 */
import { decodeRecord } from '../enr/record';
import type { Table, TableNode } from '../table/table';
import { recordForkId, ForkId, forkId, ForkSchedule, headAt, isCompatible, NETWORKS, NetworkName } from './forkid';

/** Which nodes a neighbors answer may hold: ours only, ours first, or anyone. */
export type ForkFilter = 'strict' | 'prefer' | 'off';

/** DiscoveryOptions.fork: our network (or a fixed fork id) and the filter. */
export interface ForkOptions {
  network?: NetworkName;
  /** A fork schedule of our own (e.g. from a genesis file, src/node/genesis.ts); wins over `network`. */
  schedule?: ForkSchedule;
  id?: ForkId;
  /** Default 'prefer'. */
  filter?: ForkFilter;
}

export class ForkPolicy {
  readonly filter: ForkFilter;
  private readonly cache = new WeakMap<object, { record: Buffer; ok: boolean | undefined }>();

  constructor(
    private readonly cfg: ForkOptions,
    /** Wall clock in ms: where the fork schedule's head is. */
    private readonly now: () => number = Date.now,
  ) {
    this.filter = cfg.filter ?? 'prefer';
  }

  /** The fork schedule served: from a genesis file, else the named network's (undefined with a fixed id only). */
  get schedule(): ForkSchedule | undefined {
    return this.cfg.schedule ?? (this.cfg.network !== undefined ? NETWORKS[this.cfg.network] : undefined);
  }

  /** Our fork id now. */
  ours(): ForkId {
    return this.cfg.id ?? forkId(this.schedule!, headAt(this.now()));
  }

  /** true: our network; false: another; undefined: unknown (no record or no `eth` entry). */
  matches(n: { record?: Buffer }): boolean | undefined {
    const rec = n.record;
    if (rec === undefined) return undefined;
    const hit = this.cache.get(n);
    if (hit !== undefined && hit.record === rec) return hit.ok;
    let ok: boolean | undefined;
    const id = recordForkId(decodeRecord(rec));
    if (id !== undefined) {
      const schedule = this.schedule;
      if (schedule !== undefined && this.cfg.id === undefined) ok = isCompatible(schedule, headAt(this.now()), id);
      else ok = id.hash.equals(this.ours().hash);
    }
    this.cache.set(n, { record: rec, ok });
    return ok;
  }

  /** Whether a known (non-table) node may fill an answer: ours; with 'prefer' also unknown; anything with 'off'. */
  admitsKnown(n: { record?: Buffer }): boolean {
    if (this.filter === 'off') return true;
    const m = this.matches(n);
    return m === true || (this.filter === 'prefer' && m === undefined);
  }

  /**
   * The table nodes a findnode answer may use, closest first (live ones
   * preferred, as geth's findnodeByID). Each class is its own bounded
   * nearest-first search, so the cost follows the answer, not the table.
   */
  closest(table: Table, targetHash: Buffer, count: number): TableNode[] {
    if (this.filter === 'off') return table.closest(targetHash, count, { preferLive: true });
    const ours = table.closest(targetHash, count, { preferLive: true, accept: this.isOurs });
    if (this.filter === 'strict' || ours.length >= count) return ours;
    // 'prefer': ours, then nodes of unknown network, then the others.
    const unknown = table.closest(targetHash, count, { preferLive: true, accept: this.isUnknown });
    const answer = [...ours, ...unknown];
    if (answer.length >= count) return answer.slice(0, count);
    return [...answer, ...table.closest(targetHash, count, { preferLive: true, accept: this.isOther })].slice(0, count);
  }

  // The three classes as accept filters, made once (not per findnode answer).
  private readonly isOurs = (n: TableNode): boolean => this.matches(n) === true;
  private readonly isUnknown = (n: TableNode): boolean => this.matches(n) === undefined;
  private readonly isOther = (n: TableNode): boolean => this.matches(n) === false;
}

/** The policy `fork` asks for; undefined (serving off) without a network or a fork id. */
export function forkPolicyFor(fork: ForkOptions | undefined, now: () => number): ForkPolicy | undefined {
  if (fork === undefined || (fork.network === undefined && fork.schedule === undefined && fork.id === undefined)) return undefined;
  return new ForkPolicy(fork, now);
}
