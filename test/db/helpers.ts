import { ok as assert } from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { StoredNode } from '../../src/db';

/** A 64-byte node id derived from n: distinct, spread over the key space, reproducible across processes. */
export function testId(n: number): Buffer {
  return createHash('sha512').update(`node-${n}`).digest();
}

export function testNode(n: number, over: Partial<StoredNode> = {}): StoredNode {
  return {
    id: testId(n),
    ip: Buffer.from([10, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]),
    udpPort: 30303,
    tcpPort: 30303,
    lastPingSentMs: 0,
    lastPongReceivedMs: 0,
    findFails: 0,
    ...over,
  };
}

/**
 * Clears the page-type flags of the leaf `fromEnd` leaves before the end of
 * the main B-tree (1 = the last leaf) in an LMDB file, in lmdb-js 3's
 * layout: 24-byte page header with flags at 18 and lower at 20, node
 * pointers from 24, relative to 24. A scan that steps onto that page from
 * its left sibling meets liblmdb's "is a leaf" assertion, which aborts the
 * process instead of returning an error.
 */
export function damageLeaf(file: string, fromEnd: number): void {
  const b = readFileSync(file);
  const HDR = 24;
  const pageBytes = b.readUInt32LE(HDR + 24); // meta page 0: the free DB's md_pad
  const metas = [HDR, pageBytes + HDR];
  const txn = (o: number): bigint => b.readBigUInt64LE(o + 128);
  const meta = txn(metas[1]) > txn(metas[0]) ? metas[1] : metas[0];
  const isLeaf = (pg: number): boolean => (b.readUInt16LE(pg * pageBytes + 18) & 0x02) !== 0;
  const child = (pg: number, i: number): number => {
    const at = pg * pageBytes;
    const node = at + HDR + b.readUInt16LE(at + HDR + 2 * i);
    return b.readUInt16LE(node) | (b.readUInt16LE(node + 2) << 16); // low 32 bits of the child pgno
  };
  let pg = Number(b.readBigUInt64LE(meta + 24 + 48 + 40)); // main DB root
  assert(!isLeaf(pg), 'the tree must have more than one leaf');
  for (;;) {
    const keys = b.readUInt16LE(pg * pageBytes + 20) >> 1;
    const last = child(pg, keys - 1);
    if (!isLeaf(last)) {
      pg = last;
      continue;
    }
    assert(keys >= fromEnd, `only ${keys} leaves under the last branch`);
    pg = child(pg, keys - fromEnd);
    break;
  }
  b.writeUInt16LE(0, pg * pageBytes + 18);
  writeFileSync(file, b);
}
