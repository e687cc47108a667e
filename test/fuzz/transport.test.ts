/**
 * Property-based fuzzing of the transport's read loop: a real Transport on
 * an in-memory socket (test/fuzz/helpers.ts FuzzSocket) whose datagram
 * handler is fed hostile datagrams of every kind, replies (some mutated) to
 * what it sent, and requests of its own, while a fake clock runs its
 * timeouts. Every datagram's outcome is read off stats() and must be exactly
 * one counted drop or one accepted packet. Bounded: a few seconds in all.
 */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { nobleCrypto } from '../helpers/noble-crypto';
import {
  FuzzInput,
  PEERS,
  TransportFuzzer,
  applyInput,
  fcRng,
  fuzzInput,
  makeDatagram,
  pick,
} from './helpers';

/** Runs `steps` inputs on `f`, letting 100 ms of fake time pass every 10 steps. */
async function converse(f: TransportFuzzer, g: fc.GeneratorValue, steps: number, requestPercent?: number): Promise<void> {
  const rng = fcRng(fc, g);
  for (let i = 0; i < steps; i++) {
    applyInput(f, fuzzInput(rng, f, requestPercent));
    if (i % 10 === 9) await f.settle(100);
  }
}

describe('fuzz: transport datagram handler', () => {
  it('counts every hostile datagram once, as a drop by reason or an accepted packet, and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.gen(), async (g) => {
        const f = new TransportFuzzer();
        try {
          // feed() asserts the per-datagram accounting and throws on a handler exception.
          await converse(f, g, 40);
          await f.settle(5_000);
          f.checkBounds();
        } finally {
          await f.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('ends every request of its own with a result or a DiscError while peers answer with mutated replies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.gen(), async (g) => {
        const f = new TransportFuzzer();
        try {
          await converse(f, g, 60, 20);
          // Past every deadline (500 ms replies, 1 s ensureBond waits): nothing may be left hanging.
          await f.settle(10_000);
          await f.settle(10_000);
          assert.equal(f.requestsInFlight, 0, 'requests still unsettled after every deadline');
          assert.equal(f.t.stats().pending, 0, 'pending queue not empty after every deadline');
          assert.deepEqual(f.failures, []);
        } finally {
          await f.close();
        }
      }),
      { numRuns: 30 },
    );
  });

  it('reaches the same verdict for each datagram whichever crypto backend opens it, wherever it sits in the receive buffer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.gen(), async (g) => {
        const rng = fcRng(fc, g);
        const a = new TransportFuzzer();
        const b = new TransportFuzzer({ crypto: nobleCrypto });
        try {
          for (let i = 0; i < 40; i++) {
            const input: FuzzInput = fuzzInput(rng, a);
            const other = 'datagram' in input ? { ...input, offset: (input.offset + 777) % 1500 } : input;
            const ra = applyInput(a, input);
            const rb = applyInput(b, other);
            assert.deepEqual(rb, ra, `input ${i} (${input.kind})`);
            if (i % 10 === 9) await Promise.all([a.settle(100), b.settle(100)]);
          }
          await Promise.all([a.settle(5_000), b.settle(5_000)]);
          const sa = a.t.stats();
          const sb = b.t.stats();
          assert.deepEqual([sb.packetsIn, sb.packetsOut, sb.drops, sb.bytesIn, sb.bytesOut], [sa.packetsIn, sa.packetsOut, sa.drops, sa.bytesIn, sa.bytesOut]);
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('counts every datagram once with the ingress rate limits on, rate drops included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.gen(), async (g) => {
        const rng = fcRng(fc, g);
        const f = new TransportFuzzer({ rateLimits: true });
        try {
          // One source, more than its burst (2 x 200/s): the limiter must refuse some, and count them.
          const peer = pick(rng, PEERS);
          const kinds = ['valid', 'resealed', 'random', 'garbageSignature'] as const;
          for (let i = 0; i < 500; i++) {
            const d = makeDatagram(rng, pick(rng, kinds), [peer.key], f.nowSec);
            f.feed(d, peer.ip, peer.port, rng.int(0, 1000));
          }
          const s = f.t.stats();
          assert.ok(s.drops.rate_ip + s.drops.rate_type > 0, 'no rate-limit drop after 500 datagrams from one IP in no time');
          await f.settle(5_000);
          f.checkBounds();
        } finally {
          await f.close();
        }
      }),
      { numRuns: 6 },
    );
  });
});
