/**
 * Byte comparisons in JS. Buffer.equals is a native call whose cost
 * dwarfs comparing a few bytes: node ids that differ almost always differ
 * in their first byte, and the table compares an id with every entry of a
 * bucket on each add, the transport a token on each reply.
 */

/** a[aOff, aOff+len) == b[bOff, bOff+len), without making views. */
export function equalAt(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** a and b hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && equalAt(a, 0, b, 0, a.length);
}
