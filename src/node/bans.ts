/**
 * The persistent ban list: source IPs and node ids refused with an expiry,
 * kept in the node DB so bans survive restarts, and editable while the
 * node runs (the `discv4 ban` / `unban` commands write the DB; the node
 * re-reads it every few seconds).
 *
 * Enforcement (Discovery wires it): a banned IP's datagrams are dropped
 * before any crypto (drop reason `banned`); a banned node id's packets
 * are dropped once verified, and it never enters the table.
 *
 * Storage: one meta entry (`bans`, JSON), bounded to MAX_BANS entries
 * (the ones expiring first go when full); expired bans are pruned on load
 * and on every change.
 */
import { isIP } from 'node:net';
import type { NodeDB } from '../db';
import { InvalidArgumentError } from '../errors';
import { ipToBytes, ipToString } from '../wire/ip';
import { ipMapKey } from '../transport/limits';

export const BANS_META_KEY = 'bans';
export const MAX_BANS = 10_000;

export interface Ban {
  /** An IP address (text) or a node id (128 hex characters). */
  target: string;
  kind: 'ip' | 'id';
  /** When it ends (ms since the epoch); Infinity: never. */
  untilMs: number;
  reason: string;
  addedMs: number;
}

/** Parses what the CLI accepts: an IPv4/IPv6 address or a 128-hex-char node id. */
export function banTarget(text: string): { kind: 'ip' | 'id'; target: string } {
  const t = text.trim();
  if (isIP(t) !== 0) return { kind: 'ip', target: ipToString(ipToBytes(t))! };
  const hex = t.startsWith('0x') ? t.slice(2) : t;
  if (/^[0-9a-fA-F]{128}$/.test(hex)) return { kind: 'id', target: hex.toLowerCase() };
  throw new InvalidArgumentError(`not an IP address or a node id (128 hex characters): ${JSON.stringify(text)}`);
}

interface Stored {
  v: 1;
  bans: Array<Omit<Ban, 'untilMs'> & { untilMs: number | null }>;
}

export class BanList {
  private ips = new Map<number | string, Ban>();
  private ids = new Map<string, Ban>();
  /** The DB content we last read or wrote, to notice changes made elsewhere. */
  private lastStored = '';

  constructor(
    private readonly db: NodeDB | null,
    private readonly now: () => number = Date.now,
  ) {
    this.reload();
  }

  /** Re-reads the DB (changes made by another process: the CLI). Cheap when nothing changed. */
  reload(): void {
    if (this.db === null) return;
    const raw = this.db.getMeta(BANS_META_KEY)?.toString('utf8') ?? '';
    if (raw === this.lastStored) return;
    this.lastStored = raw;
    this.ips.clear();
    this.ids.clear();
    if (raw === '') return;
    let parsed: Stored;
    try {
      parsed = JSON.parse(raw) as Stored;
    } catch {
      return; // unreadable: treated as empty, and rewritten on the next change
    }
    for (const b of parsed.bans ?? []) this.put({ ...b, untilMs: b.untilMs ?? Infinity });
    this.prune();
  }

  private put(b: Ban): void {
    if (b.kind === 'ip') this.ips.set(ipMapKey(ipToBytes(b.target)), b);
    else this.ids.set(b.target, b);
  }

  private prune(): void {
    const now = this.now();
    for (const [k, b] of this.ips) if (b.untilMs <= now) this.ips.delete(k);
    for (const [k, b] of this.ids) if (b.untilMs <= now) this.ids.delete(k);
    // Bounded: the bans that end first go.
    if (this.ips.size + this.ids.size <= MAX_BANS) return;
    const all = this.list();
    for (let i = 0; all.length - i > MAX_BANS; i++) this.remove(all[i]);
  }

  private remove(b: Ban): void {
    if (b.kind === 'ip') this.ips.delete(ipMapKey(ipToBytes(b.target)));
    else this.ids.delete(b.target);
  }

  private async save(): Promise<void> {
    if (this.db === null) return;
    const stored: Stored = { v: 1, bans: this.list().map((b) => ({ ...b, untilMs: Number.isFinite(b.untilMs) ? b.untilMs : null })) };
    const raw = JSON.stringify(stored);
    this.lastStored = raw;
    await this.db.putMeta(BANS_META_KEY, Buffer.from(raw, 'utf8'));
  }

  /** Bans `text` (IP or node id) for `durationMs` (Infinity: until lifted). Durable when it resolves. */
  async ban(text: string, durationMs: number, reason = ''): Promise<Ban> {
    if (!(durationMs > 0)) throw new InvalidArgumentError('ban duration must be more than 0');
    const t = banTarget(text);
    const now = this.now();
    const b: Ban = { ...t, untilMs: now + durationMs, reason, addedMs: now };
    this.put(b);
    this.prune();
    await this.save();
    return b;
  }

  /** Lifts a ban; resolves true if there was one. */
  async unban(text: string): Promise<boolean> {
    const t = banTarget(text);
    const existing = t.kind === 'ip' ? this.ips.get(ipMapKey(ipToBytes(t.target))) : this.ids.get(t.target);
    if (existing === undefined) return false;
    this.remove(existing);
    await this.save();
    return true;
  }

  /** Current bans, the ones ending first first. */
  list(): Ban[] {
    const now = this.now();
    return [...this.ips.values(), ...this.ids.values()].filter((b) => b.untilMs > now).sort((a, b) => a.untilMs - b.untilMs);
  }

  /** Bans in force. */
  get size(): number {
    return this.list().length;
  }

  /** Hot path: is this source IP banned? No allocation for IPv4. */
  isBannedIp(ip: Uint8Array): boolean {
    if (this.ips.size === 0) return false;
    const b = this.ips.get(ipMapKey(ip));
    return b !== undefined && b.untilMs > this.now();
  }

  isBannedId(id: Uint8Array): boolean {
    if (this.ids.size === 0) return false;
    const b = this.ids.get(Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex'));
    return b !== undefined && b.untilMs > this.now();
  }
}
