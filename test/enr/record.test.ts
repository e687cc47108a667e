import { strict as assert } from 'node:assert';
import { parseRecord, signRecord } from '../../src/enr/record';
import { loadVectors } from '../helpers/vectors';

interface EnrVector {
  name: string;
  rlp: string;
  valid: boolean;
  error?: string;
  privateKey: string;
  expected?: { seq: number | string; publicKey: string; ip?: string; udp?: number };
}

const file = loadVectors<{ records: EnrVector[] }>('enr.json');

describe('ENR records (enr.json vectors)', () => {
  for (const v of file.records) {
    if (v.valid) {
      it(`accepts ${v.name} and recovers its signer`, () => {
        const r = parseRecord(Buffer.from(v.rlp, 'hex'));
        assert.ok(typeof r !== 'string', `rejected: ${String(r)}`);
        assert.equal(r.nodeId.toString('hex'), v.expected!.publicKey);
        assert.equal(r.seq, BigInt(v.expected!.seq));
      });
    } else {
      it(`rejects ${v.name} as ${v.error}`, () => {
        assert.equal(parseRecord(Buffer.from(v.rlp, 'hex')), v.error);
      });
    }
  }

  it('signRecord reproduces the EIP-778 example byte for byte (RFC6979)', () => {
    const v = file.records.find((r) => r.name === 'eip778-example')!;
    const rec = signRecord(Buffer.from(v.privateKey, 'hex'), 1n, { ip: Buffer.from([127, 0, 0, 1]), udp: 30303 });
    assert.equal(rec.toString('hex'), v.rlp);
  });
});
