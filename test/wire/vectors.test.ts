import * as assert from 'node:assert/strict';
import {
  DecodeError,
  DecodeErrorCode,
  DiscError,
  DecodeStatus,
  HEAD_SIZE,
  Packet,
  PacketType,
  PacketView,
  decodePacket,
  encodePacket,
  ipToString,
  keccak256,
  nativeCrypto,
  nodeHash,
  nodeIdFromPrivateKey,
  packetFromView,
  parseBody,
  readPacket,
} from '../../src';
import {
  BACKENDS,
  assertDecodeError,
  assertPacketMatches,
  fieldsOf,
  sealBody,
  typeAndData,
} from '../helpers/packets';
import {
  DecodedJson,
  Eip8Vectors,
  NegativeErrorKind,
  NegativeVectors,
  hex,
  loadVectors,
  toHex,
} from '../helpers/vectors';

const EIP8 = loadVectors<Eip8Vectors>('discv4-eip8-packets');
const NEG = loadVectors<NegativeVectors>('negative-packets');

/** The decode-stage error kinds of negative-packets.json and our DecodeError codes. */
const CODE_OF: Partial<Record<NegativeErrorKind, DecodeErrorCode>> = {
  'too-small': 'TOO_SMALL',
  'too-large': 'TOO_LARGE',
  'bad-hash': 'BAD_HASH',
  'bad-signature': 'BAD_SIGNATURE',
  'unknown-type': 'UNKNOWN_TYPE',
  rlp: 'BAD_RLP',
  expired: 'EXPIRED',
};

/** A clock before every expiration in the vectors (the epoch). */
const LONG_AGO = { now: 0 };

/** The textual IPs of a vector's endpoints, to check ipToString against. */
function textIps(d: DecodedJson): { hex: string; text: string }[] {
  const eps = [d.from, d.to, ...(d.nodes ?? [])].filter((e) => e !== undefined);
  return eps.map((e) => ({ hex: e.ipHex, text: e.ip }));
}

function endpointsOf(p: Packet): Buffer[] {
  switch (p.type) {
    case PacketType.Ping:
      return [p.from.ip, p.to.ip];
    case PacketType.Pong:
      return [p.to.ip];
    case PacketType.Neighbors:
      return p.nodes.map((n) => n.ip);
    default:
      return [];
  }
}

for (const crypto of BACKENDS) {
  describe(`EIP-8 packet vectors (${crypto.name} backend)`, () => {
    for (const v of EIP8.vectors) {
      describe(v.name, () => {
        const packet = hex(v.packet);

        it('has the hash, sigHash and length the vector states', () => {
          assert.equal(packet.length, v.length);
          assert.equal(toHex(keccak256(packet.subarray(32), crypto)), v.hash);
          assert.equal(toHex(keccak256(packet.subarray(97), crypto)), v.sigHash);
          assert.equal(toHex(packet.subarray(32, 64)), v.signature.r);
          assert.equal(toHex(packet.subarray(64, 96)), v.signature.s);
          assert.equal(packet[96], v.signature.v);
        });

        it('decodes with a clock before its expiration to every field of the vector', () => {
          const p = decodePacket(packet, { ...LONG_AGO, crypto });
          assertPacketMatches(p, { type: v.type, hash: v.hash, nodeId: v.nodeId, decoded: v.decoded });
          assert.equal(toHex(p.nodeId), EIP8.signerNodeId);
          assert.equal(toHex(nodeHash(p.nodeId, crypto)), v.nodeIdHash);
          assert.equal(toHex(nodeIdFromPrivateKey(hex(v.privateKey), crypto)), v.nodeId);
          if (v.decoded.enrSeqPositionNotUint) assert.equal('enrSeq' in p, false, 'enrSeq must be absent');
        });

        it('formats its IPs as the vector’s text (RFC 5952 for IPv6)', () => {
          const p = decodePacket(packet, { ...LONG_AGO, crypto });
          const ips = endpointsOf(p);
          const want = textIps(v.decoded);
          assert.equal(ips.length, want.length);
          ips.forEach((ip, i) => {
            assert.equal(toHex(ip), want[i].hex);
            assert.equal(ipToString(ip), want[i].text);
          });
        });

        it('is rejected as EXPIRED with the real clock, and decodes with ignoreExpiration', () => {
          const err = assertDecodeError(() => decodePacket(packet, { crypto }), 'EXPIRED');
          assert.equal(err.status, DecodeStatus.Expired);
          const p = decodePacket(packet, { ignoreExpiration: true, crypto });
          assert.equal(toHex(p.hash), v.hash);
        });

        it('is reproduced after the 97-byte head by encoding its fields, extra elements and trailing data', () => {
          const p = decodePacket(packet, { ...LONG_AGO, crypto });
          const body = typeAndData(fieldsOf(p), p.rest, hex(v.trailingData));
          assert.equal(toHex(body), toHex(packet.subarray(HEAD_SIZE)));
        });

        if (v.reencodedDataIdentical) {
          it('is reproduced after the 97-byte head by encodePacket of its decoded fields (reencodedDataIdentical)', () => {
            const p = decodePacket(packet, { ...LONG_AGO, crypto });
            const { type, fields } = fieldsOf(p);
            const ours = encodePacket(type, fields, hex(v.privateKey), crypto);
            // Our list holds the known fields; EIP-8 extra elements follow them inside the list.
            const want = typeAndData({ type, fields }, p.rest);
            assert.equal(toHex(want), toHex(packet.subarray(HEAD_SIZE)));
            if (p.rest.length === 0) assert.equal(toHex(ours.subarray(HEAD_SIZE)), toHex(packet.subarray(HEAD_SIZE)));
            // The signature bytes are not RFC6979 in these vectors, but ours verify.
            assert.equal(toHex(decodePacket(ours, { ...LONG_AGO, crypto }).nodeId), v.nodeId);
          });
        }
      });
    }
  });

  describe(`negative packet vectors (${crypto.name} backend)`, () => {
    for (const v of NEG.vectors) {
      const packet = hex(v.packet);
      if (v.stage === 'decode') {
        const code = CODE_OF[v.error!]!;
        it(`rejects ${v.name} with ${code}`, () => {
          assert.equal(packet.length, v.length);
          const err = assertDecodeError(() => decodePacket(packet, { crypto }), code, v.name);
          assert.equal(err.status, DecodeStatus[codeToStatusName(code)]);
          // The same status comes out of the allocation-free path, with or without the clock.
          assert.equal(readPacket(new PacketView(), packet, 0, packet.length, -1, crypto), err.status);
          assert.equal(readPacket(new PacketView(), packet, 0, packet.length, Date.now() / 1000, crypto), err.status);
        });
        continue;
      }

      const exp = v.expected!;
      if (v.error === 'expired') {
        it(`rejects ${v.name} as EXPIRED with the real clock`, () => {
          assertDecodeError(() => decodePacket(packet, { crypto }), 'EXPIRED', v.name);
          assert.ok(exp.decoded.expiration! * 1000 < Date.now());
        });
        it(`decodes ${v.name} with a clock before its expiration to the expected fields`, () => {
          assertPacketMatches(decodePacket(packet, { ...LONG_AGO, crypto }), exp);
          assertPacketMatches(decodePacket(packet, { ignoreExpiration: true, crypto }), exp);
        });
      } else {
        it(`decodes ${v.name} with the real clock to the expected fields`, () => {
          assert.equal(packet.length, v.length);
          const p = decodePacket(packet, { crypto });
          assertPacketMatches(p, exp);
          assert.equal(toHex(p.hash), toHex(keccak256(packet.subarray(32), crypto)));
          if (v.signerPrivateKey) assert.equal(toHex(nodeIdFromPrivateKey(hex(v.signerPrivateKey), crypto)), exp.nodeId);
        });
      }

      if (v.signerPrivateKey) {
        const trailing = hex(exp.trailingData);
        it(`reproduces ${v.name} byte for byte by re-signing its decoded fields (RFC6979)`, () => {
          const p = decodePacket(packet, { ...LONG_AGO, crypto });
          const key = hex(v.signerPrivateKey!);
          const body = typeAndData(fieldsOf(p), p.rest, trailing);
          assert.equal(toHex(sealBody(body, key, crypto)), v.packet);
          if (p.rest.length === 0 && trailing.length === 0) {
            const { type, fields } = fieldsOf(p);
            assert.equal(toHex(encodePacket(type, fields, key, crypto)), v.packet);
          }
        });
      }
    }
  });
}

function codeToStatusName(code: DecodeErrorCode): keyof typeof DecodeStatus {
  const names: Record<DecodeErrorCode, keyof typeof DecodeStatus> = {
    TOO_SMALL: 'TooSmall',
    TOO_LARGE: 'TooLarge',
    BAD_HASH: 'BadHash',
    BAD_SIGNATURE: 'BadSignature',
    UNKNOWN_TYPE: 'UnknownType',
    BAD_RLP: 'BadRlp',
    EXPIRED: 'Expired',
  };
  return names[code];
}

describe('negative packet vectors: details of the decode stage', () => {
  it('maps every decode-stage error kind to a DecodeError code', () => {
    const kinds = new Set(NEG.vectors.filter((v) => v.stage === 'decode').map((v) => v.error!));
    for (const k of kinds) assert.ok(CODE_OF[k], `no code for ${k}`);
  });

  it('lets packets rejected for their RLP pass the size, hash and signature checks first', () => {
    for (const v of NEG.vectors.filter((x) => x.error === 'rlp' || x.error === 'unknown-type')) {
      const packet = hex(v.packet);
      const id = Buffer.alloc(64);
      assert.equal(nativeCrypto.open(packet, 0, packet.length, id, 0), 0, v.name);
      if (v.signerPrivateKey) assert.ok(id.equals(nodeIdFromPrivateKey(hex(v.signerPrivateKey))), v.name);
      const view = new PacketView();
      const st = parseBody(view, packet, 0, packet.length);
      assert.equal(st, v.error === 'rlp' ? DecodeStatus.BadRlp : DecodeStatus.UnknownType, v.name);
      if (v.error === 'unknown-type') assert.equal(view.type, packet[97]);
    }
  });

  it('recovers the signer that a vector note names (packets rejected after the signature check)', () => {
    const named = NEG.vectors.filter((v) => v.stage === 'decode' && /[0-9a-f]{128}/.test(v.note ?? ''));
    assert.ok(named.length > 0);
    for (const v of named) {
      const packet = hex(v.packet);
      const id = Buffer.alloc(64);
      assert.equal(nativeCrypto.open(packet, 0, packet.length, id, 0), 0, v.name);
      assert.equal(toHex(id), /[0-9a-f]{128}/.exec(v.note!)![0], v.name);
    }
  });

  it('rejects signed too-large packets only for their size: hash and signature are valid, 1280 bytes re-sealed decode', () => {
    const large = NEG.vectors.filter((v) => v.error === 'too-large' && v.signerPrivateKey);
    assert.ok(large.length > 0);
    for (const v of large) {
      const packet = hex(v.packet);
      assert.ok(keccak256(packet.subarray(32)).equals(packet.subarray(0, 32)), v.name);
      const id = Buffer.alloc(64);
      const st = nativeCrypto.recoverInto(packet, 32, packet[96], keccak256(packet.subarray(97)), 0, id, 0);
      assert.equal(st, 0, v.name);
      assert.ok(id.equals(nodeIdFromPrivateKey(hex(v.signerPrivateKey!))), v.name);
      const cut = sealBody(packet.subarray(97, 1280), hex(v.signerPrivateKey!));
      assert.equal(decodePacket(cut, LONG_AGO).type, packet[97]);
    }
  });

  it('names the unknown type byte in the error message', () => {
    for (const v of NEG.vectors.filter((x) => x.error === 'unknown-type')) {
      const packet = hex(v.packet);
      const err = assertDecodeError(() => decodePacket(packet), 'UNKNOWN_TYPE');
      assert.match(err.message, new RegExp(`0x${packet[97].toString(16).padStart(2, '0')}`));
    }
  });
});

describe('negative packet vectors: data the reply handler will use', () => {
  const pongs = NEG.vectors.filter((v) => v.context?.pingHash !== undefined);
  const enrResponses = NEG.vectors.filter((v) => v.context?.enrRequestHash !== undefined);

  it('has pong and ENRResponse vectors with context', () => {
    assert.ok(pongs.length >= 4);
    assert.ok(enrResponses.length >= 3);
  });

  for (const v of pongs) {
    it(`${v.name}: the pong matches the ping (token and sender) exactly when the vector is valid`, () => {
      const ctx = v.context!;
      const ping = decodePacket(hex(ctx.pingPacket!));
      assert.equal(ping.type, PacketType.Ping);
      assert.equal(toHex(ping.hash), ctx.pingHash);
      const pingerId = nodeIdFromPrivateKey(hex(ctx.pingSignerPrivateKey!));
      assert.ok(ping.nodeId.equals(pingerId));

      const pong = decodePacket(hex(v.packet));
      assert.equal(pong.type, PacketType.Pong);
      if (pong.type !== PacketType.Pong) return;
      const tokenMatches = pong.replyToken.equals(ping.hash);
      const fromPingedNode = !pong.nodeId.equals(pingerId);
      assert.equal(tokenMatches && fromPingedNode, v.valid);
      // A pong echoing the ping's signed digest keccak256(ping[97:]) instead of
      // its packet hash ping[0:32] (a common mistake) is never a valid reply.
      const echoesSigHash = pong.replyToken.equals(keccak256(hex(ctx.pingPacket!).subarray(97)));
      if (echoesSigHash) assert.equal(v.valid, false);
    });
  }

  for (const v of enrResponses) {
    it(`${v.name}: the request hash matches the ENRRequest exactly when it is not an unsolicited reply`, () => {
      const ctx = v.context!;
      const req = decodePacket(hex(ctx.enrRequestPacket!));
      assert.equal(req.type, PacketType.EnrRequest);
      assert.equal(toHex(req.hash), ctx.enrRequestHash);
      const res = decodePacket(hex(v.packet));
      assert.equal(res.type, PacketType.EnrResponse);
      if (res.type !== PacketType.EnrResponse) return;
      assert.equal(res.replyToken.equals(req.hash), v.error !== 'unsolicited-reply');
      assert.equal(res.record[0] >= 0xc0, true, 'the record is an RLP list');
      if (ctx.recordNodeId !== undefined) assert.equal(toHex(nodeHash(res.nodeId)), ctx.recordNodeId);
    });
  }
});

describe('decoded byte fields are views into the datagram', () => {
  const v = NEG.vectors.find((x) => x.expected?.type === PacketType.Findnode)!;

  it('shares the datagram memory for hash and target, so mutating the datagram changes them', () => {
    const datagram = Buffer.from(hex(v.packet));
    const p = decodePacket(datagram, LONG_AGO);
    assert.equal(p.type, PacketType.Findnode);
    if (p.type !== PacketType.Findnode) return;
    assert.equal(p.target.buffer, datagram.buffer);
    assert.equal(p.hash.buffer, datagram.buffer);
    const before = p.target[0];
    const at = p.target.byteOffset - datagram.byteOffset;
    datagram[at] ^= 0xff;
    assert.equal(p.target[0], before ^ 0xff);
    datagram[0] ^= 0x01;
    assert.equal(p.hash[0], hex(v.packet)[0] ^ 0x01);
  });

  it('returns views of a plain Uint8Array datagram too', () => {
    const src = hex(v.packet);
    const datagram = new Uint8Array(src.length);
    datagram.set(src);
    const p = decodePacket(datagram, LONG_AGO);
    assert.equal(p.hash.buffer, datagram.buffer);
    assert.equal(toHex(p.hash), toHex(src.subarray(0, 32)));
  });
});

describe('readPacket at an offset inside a bigger buffer', () => {
  const decodable = [
    ...NEG.vectors.filter((v) => v.expected !== undefined).map((v) => ({ name: v.name, packet: v.packet, expected: v.expected! })),
    ...EIP8.vectors.map((v) => ({
      name: v.name,
      packet: v.packet,
      expected: { type: v.type, hash: v.hash, nodeId: v.nodeId, decoded: v.decoded },
    })),
  ];

  for (const crypto of BACKENDS) {
    it(`decodes every decodable vector copied at offset 37 of a 2000-byte buffer (${crypto.name})`, () => {
      const view = new PacketView();
      for (const v of decodable) {
        const packet = hex(v.packet);
        const big = Buffer.alloc(2000, 0x5a);
        packet.copy(big, 37);
        assert.equal(readPacket(view, big, 37, packet.length, -1, crypto), DecodeStatus.Ok, v.name);
        assert.equal(view.off, 37);
        assert.equal(view.len, packet.length);
        assert.equal(view.hashStart, 37);
        const p = packetFromView(view);
        assertPacketMatches(p, v.expected);
        assert.equal(p.hash.buffer, big.buffer);
        assert.equal(p.hash.byteOffset, big.byteOffset + 37);
      }
    });
  }

  it('checks the expiration against nowSec and skips it when nowSec is negative', () => {
    const v = NEG.vectors.find((x) => x.error === 'expired')!;
    const packet = hex(v.packet);
    const exp = v.expected!.decoded.expiration!;
    const big = Buffer.alloc(2000);
    packet.copy(big, 37);
    const view = new PacketView();
    assert.equal(readPacket(view, big, 37, packet.length, exp + 1), DecodeStatus.Expired);
    assert.equal(readPacket(view, big, 37, packet.length, exp), DecodeStatus.Ok);
    assert.equal(readPacket(view, big, 37, packet.length, -1), DecodeStatus.Ok);
  });

  it('does not read past off + len: a datagram range one byte short fails the hash check', () => {
    const v = NEG.vectors.find((x) => x.valid)!;
    const packet = hex(v.packet);
    const big = Buffer.alloc(2000);
    packet.copy(big, 37);
    assert.equal(readPacket(new PacketView(), big, 37, packet.length - 1, -1), DecodeStatus.BadHash);
    assert.equal(readPacket(new PacketView(), big, 38, packet.length, -1), DecodeStatus.BadHash);
  });

  it('throws INVALID_ARGUMENT for a range that runs past the end of the buffer (a caller bug, not a decode result)', () => {
    const v = NEG.vectors.find((x) => x.valid)!;
    const packet = hex(v.packet);
    const big = Buffer.alloc(200);
    packet.copy(big, 100);
    assert.throws(
      () => readPacket(new PacketView(), big, 100, packet.length, -1),
      (err: unknown) => err instanceof DiscError && (err as DiscError).code === 'INVALID_ARGUMENT',
    );
  });
});

describe('decodePacket: the DecodeError contract', () => {
  it('throws DecodeError instances that are DiscErrors and Errors, with code and status', () => {
    const err = assertDecodeError(() => decodePacket(Buffer.alloc(10)), 'TOO_SMALL');
    assert.ok(err instanceof DecodeError);
    assert.ok(err instanceof DiscError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'DecodeError');
    assert.equal(err.status, DecodeStatus.TooSmall);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0);
  });

  it('throws a DecodeError for anything that is not a Uint8Array', () => {
    for (const bad of [undefined, null, 'abc', 42, [1, 2, 3], {}, new ArrayBuffer(200), new Uint16Array(100)]) {
      const err = assertDecodeError(() => decodePacket(bad as unknown as Uint8Array), 'TOO_SMALL', String(bad));
      assert.equal(err.status, DecodeStatus.TooSmall);
    }
  });
});
