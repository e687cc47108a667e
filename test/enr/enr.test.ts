import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generatePrivateKey, nodeIdFromPrivateKey } from '../../src';
import { NodeDB } from '../../src/db';
import {
  decodeEnr,
  decodeEnrText,
  ENR_ERROR_CODES,
  EnrError,
  encodeEnrText,
  LocalRecord,
  pairIp,
  pairUint,
  RecordError,
  signRecord,
} from '../../src/enr';
import { DiscError } from '../../src/errors';
import { encodeRlp } from '../../src/wire/rlp';
import { loadVectors } from '../helpers/vectors';

interface EnrVector {
  name: string;
  text: string;
  rlp: string;
  valid: boolean;
  error?: RecordError;
  expected?: { seq: number | string; publicKey: string; ip?: string; udp?: number };
}

const file = loadVectors<{ records: EnrVector[] }>('enr.json');

describe('decodeEnr (enr.json vectors, both forms)', () => {
  for (const v of file.records) {
    if (v.valid) {
      it(`decodes ${v.name} from its text and its RLP to the same verified record`, () => {
        const fromText = decodeEnr(v.text);
        const fromRlp = decodeEnr(Buffer.from(v.rlp, 'hex'));
        assert.equal(fromText.nodeId.toString('hex'), v.expected!.publicKey);
        assert.equal(fromRlp.nodeId.toString('hex'), v.expected!.publicKey);
        assert.equal(fromText.seq, BigInt(v.expected!.seq));
        if (v.expected!.ip !== undefined) assert.equal(pairIp(fromText.pairs.get('ip')), v.expected!.ip);
        if (v.expected!.udp !== undefined) assert.equal(pairUint(fromText.pairs.get('udp')), BigInt(v.expected!.udp));
      });
    } else {
      it(`throws EnrError ${ENR_ERROR_CODES[v.error!]} for ${v.name}`, () => {
        for (const input of [v.text, Buffer.from(v.rlp, 'hex')]) {
          assert.throws(
            () => decodeEnr(input),
            (e: unknown) => e instanceof EnrError && e instanceof DiscError && e.code === ENR_ERROR_CODES[v.error!] && e.kind === v.error,
          );
        }
      });
    }
    it(`encodes ${v.name} to its text form (base64url, no padding) and back`, () => {
      const rlp = Buffer.from(v.rlp, 'hex');
      assert.equal(encodeEnrText(rlp), v.text);
      assert.ok(decodeEnrText(v.text).equals(rlp));
    });
  }

  it('maps every enr.json error kind to a distinct code', () => {
    const kinds = (file as unknown as { errorKinds: string[] | Record<string, unknown> }).errorKinds;
    const names = Array.isArray(kinds) ? kinds : Object.keys(kinds);
    for (const k of names) assert.ok(k in ENR_ERROR_CODES, `no code for ${k}`);
    assert.equal(new Set(Object.values(ENR_ERROR_CODES)).size, Object.keys(ENR_ERROR_CODES).length);
  });

  it('rejects bad text forms with ENR_BAD_TEXT', () => {
    for (const t of ['', 'enr:', 'enode://abc', 'enr:a', 'enr:ab+c', 'enr:ab/c', 'enr:a b']) {
      assert.throws(() => decodeEnr(t), (e: unknown) => e instanceof EnrError && e.code === 'ENR_BAD_TEXT', t);
    }
  });

  it('round-trips signed records with sorted, unique keys through text and RLP', () => {
    for (let i = 0; i < 20; i++) {
      const key = generatePrivateKey();
      const seq = BigInt(i) * 0x1_0000_0001n;
      const rec = signRecord(key, seq, { udp: 30303 + i, ip: Buffer.from([10, 0, 0, i]), eth: [[Buffer.alloc(4, i), 0]], zz: Buffer.from('x') });
      const d = decodeEnr(encodeEnrText(rec));
      assert.equal(d.seq, seq);
      assert.ok(d.nodeId.equals(nodeIdFromPrivateKey(key)));
      assert.deepEqual([...d.pairs.keys()], ['eth', 'id', 'ip', 'secp256k1', 'udp', 'zz']);
      assert.equal(pairIp(d.pairs.get('ip')), `10.0.0.${i}`);
      assert.ok(d.pairs.get('eth')!.equals(encodeRlp([[Buffer.alloc(4, i), 0]])));
    }
  });
});

describe('LocalRecord', () => {
  const v4 = { ip: Buffer.from([1, 2, 3, 4]), udpPort: 30303, tcpPort: 30304 };
  // A first seq comes from the wall clock (geth: the time in ms); these tests count from 1.
  const create = (key: Uint8Array, pairs: Parameters<typeof LocalRecord.create>[1] = {}, opts: Parameters<typeof LocalRecord.create>[2] = {}) =>
    LocalRecord.create(key, pairs, { now: () => 1, ...opts });

  it('starts a node DB without a seq at the time in ms, so a record made after a DB reset is newer than any before', async () => {
    const db = await NodeDB.open(null);
    const local = await create(generatePrivateKey(), {}, { store: db, now: () => 1_700_000_000_123 });
    assert.equal(local.seq, 1_700_000_000_123n);
    await db.close();
  });

  it('holds id, secp256k1, endpoints and user pairs, verified by decodeEnr', async () => {
    const key = generatePrivateKey();
    const local = await create(key, { eth: [[Buffer.from('fc64ec04', 'hex'), 1150000]] });
    await local.setEndpoint(v4);
    await local.setEndpoint({ ip: Buffer.from('20010db8000000000000000000000001', 'hex'), udpPort: 30305 });
    const d = decodeEnr(local.record);
    assert.ok(d.nodeId.equals(nodeIdFromPrivateKey(key)));
    assert.equal(d.seq, local.seq);
    assert.deepEqual([...d.pairs.keys()], ['eth', 'id', 'ip', 'ip6', 'secp256k1', 'tcp', 'udp', 'udp6']);
    assert.equal(pairIp(d.pairs.get('ip')), '1.2.3.4');
    assert.equal(pairUint(d.pairs.get('tcp')), 30304n);
    assert.equal(pairIp(d.pairs.get('ip6')), '2001:db8::1');
    assert.equal(pairUint(d.pairs.get('udp6')), 30305n);
  });

  it('raises seq by one per content change and not at all for a no-op', async () => {
    const local = await create(generatePrivateKey(), { ip: v4.ip, udp: 30303 });
    assert.equal(local.seq, 1n);
    assert.equal(await local.setEndpoint({ ip: v4.ip, udpPort: 30303 }), false);
    assert.equal(await local.set('udp', 30303), false);
    assert.equal(local.seq, 1n);
    assert.equal(await local.set('eth', [[Buffer.alloc(4), 0]]), true);
    assert.equal(local.seq, 2n);
    assert.equal(await local.update({ udp: 1, tcp: 2 }), true);
    assert.equal(local.seq, 3n, 'several changes in one update are one seq step');
    assert.equal(await local.set('eth', undefined), true);
    assert.equal(local.seq, 4n);
    assert.equal(decodeEnr(local.record).pairs.has('eth'), false);
  });

  it('serialises concurrent updates and notifies each change', async () => {
    const local = await create(generatePrivateKey());
    const seen: bigint[] = [];
    local.onChange((rec, seq) => {
      assert.equal(decodeEnr(rec).seq, seq);
      seen.push(seq);
    });
    await Promise.all([local.set('a', 1), local.set('b', 2), local.set('a', 1)]);
    assert.deepEqual(seen, [2n, 3n]);
  });

  it('refuses a record over 300 bytes with ENR_TOO_BIG and keeps the old one', async () => {
    const local = await create(generatePrivateKey(), { ip: v4.ip });
    const before = local.record;
    await assert.rejects(local.set('big', Buffer.alloc(250)), (e: unknown) => e instanceof EnrError && e.code === 'ENR_TOO_BIG');
    assert.equal(local.record, before);
    assert.equal(local.seq, 1n);
    assert.equal(local.get('big'), undefined);
  });

  it('refuses to set the key-derived pairs', async () => {
    const local = await create(generatePrivateKey());
    assert.throws(() => local.set('id', Buffer.from('v5')), (e: unknown) => e instanceof DiscError && e.code === 'INVALID_ARGUMENT');
    assert.throws(() => local.set('secp256k1', Buffer.alloc(33)), (e: unknown) => e instanceof DiscError);
  });

  it('persists seq in the node DB: same content keeps it, new content raises it, it never goes back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discv4-enr-'));
    const key = generatePrivateKey();
    try {
      let db = await NodeDB.open(dir);
      let local = await create(key, { ip: v4.ip, udp: 1 }, { store: db });
      assert.equal(local.seq, 1n);
      await local.set('udp', 2);
      await local.set('udp', 3);
      assert.equal(local.seq, 3n);
      await db.close();

      db = await NodeDB.open(dir);
      local = await create(key, { ip: v4.ip, udp: 3 }, { store: db });
      assert.equal(local.seq, 3n, 'same content after restart: same seq');
      assert.equal(decodeEnr(local.record).seq, 3n);
      await db.close();

      db = await NodeDB.open(dir);
      // Back to an older content: still a new seq, not the old one.
      local = await create(key, { ip: v4.ip, udp: 1 }, { store: db });
      assert.equal(local.seq, 4n);
      await db.close();

      db = await NodeDB.open(dir);
      assert.equal(db.localSeq(), 4n);
      await db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
