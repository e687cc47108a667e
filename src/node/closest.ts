/**
 * What our neighbors answers hold (the transport's `closest`, asked once per
 * findnode we answer): the table's nodes closest to the target, live ones
 * preferred (geth findnodeByID with preferLive), through the fork filter when
 * fork-aware serving is on. When the table has fewer than `count` of them (a
 * bootnode sees far more nodes than 17 buckets hold), the answer is filled
 * from the known-good nodes, under the same fork rule and without repeats.
 */
import { KNOWN_MAX_AGE_MS } from '../defaults';
import type { Table } from '../table/table';
import type { NodeBytes } from '../wire/encode';
import type { ForkPolicy } from './fork-policy';
import type { KnownNode, KnownNodes } from './known';

/** Where answers come from: the table, and the optional fork filter and known-good nodes. */
export interface AnswerSources {
  table: Table;
  forks?: ForkPolicy;
  known?: KnownNodes;
  /** Wall clock (ms): known nodes silent for longer than KNOWN_MAX_AGE_MS are not handed out. */
  now: () => number;
}

/** The transport's `closest` over `src`: up to `count` nodes, closest to `targetHash` first. */
export function closestForFindnode(src: AnswerSources): (targetHash: Buffer, count: number) => readonly NodeBytes[] {
  const { table, forks, known, now } = src;
  return (targetHash, count) => {
    const fromTable = forks === undefined ? table.closest(targetHash, count, { preferLive: true }) : forks.closest(table, targetHash, count);
    if (known === undefined || fromTable.length >= count) return fromTable;
    // Too few in the table: fill from the known-good nodes (same fork rule).
    const have = new Set(fromTable.map((n) => n.id.toString('latin1')));
    const freshSince = now() - KNOWN_MAX_AGE_MS;
    const accept = (n: KnownNode) => n.verified && n.seenMs >= freshSince && !have.has(n.id.toString('latin1')) && (forks === undefined || forks.admitsKnown(n));
    return [...fromTable, ...known.closest(targetHash, count - fromTable.length, accept)];
  };
}
