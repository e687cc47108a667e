/**
 * The soak's attackers, in their own process (forked by scripts/soak/soak.ts):
 * a mixed hostile load from many source addresses in 127.0.0.0/8 at a
 * node on 127.0.0.1. Everything is pre-built before the clock starts;
 * sending is paced in 10 ms slices. Stops by itself after `seconds`.
 *
 * Kinds (datagrams per second each, spread over the source addresses):
 * - garbage: random bytes of random length
 * - pings: valid pings from `keys` distinct keys (never answer ping-backs)
 * - findnodeUnbonded: signed findnode from keys that never bonded
 * - findnodeBonded: 10 sources that bond properly, then flood findnode
 * - spoofedPongs: signed pongs with reply tokens nobody asked for
 * - replay: one captured ping sent again and again from one address
 * - flood: valid pings from a single address (the per-IP limit's case)
 */
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decodePacket, encodePacket, generatePrivateKey, PacketType } from '../../src';

export interface AttackConfig {
  port: number;
  nodeId: string;
  seconds: number;
  keys: number;
  sources: number;
  rates: {
    garbage: number;
    pings: number;
    findnodeUnbonded: number;
    findnodeBonded: number;
    spoofedPongs: number;
    replay: number;
    flood: number;
  };
}

export interface AttackReport {
  sent: Record<string, number>;
  bytesSent: number;
  /** What the node sent back to attack sources without a bond (amplification check). */
  bytesReceived: number;
  /** Bytes the unbonded sources sent (the other side of that check). */
  bytesSentUnbonded: number;
  /** What the node sent the bonded flooders (neighbors: allowed, they proved their address). */
  bytesReceivedBonded: number;
  received: Record<string, number>;
  bondedSources: number;
}

const FAR = 4102444800;
const HOST = '127.0.0.1';

async function bind(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, () => resolve());
  });
  s.on('error', () => undefined);
  return s;
}

async function main(cfg: AttackConfig): Promise<AttackReport> {
  const report: AttackReport = { sent: {}, bytesSent: 0, bytesReceived: 0, bytesSentUnbonded: 0, bytesReceivedBonded: 0, received: {}, bondedSources: 0 };
  const sources = await Promise.all(Array.from({ length: cfg.sources }, (_, i) => bind(`127.0.${1 + (i >> 8)}.${2 + (i & 255)}`)));
  const onReply = (msg: Buffer) => {
    report.bytesReceived += msg.length;
    const t = msg.length > 97 ? msg[97] : 0;
    report.received[t] = (report.received[t] ?? 0) + 1;
  };
  for (const s of sources) s.on('message', onReply);

  // Pre-built datagrams.
  const ep = (s: dgram.Socket) => ({ ip: s.address().address, udpPort: s.address().port });
  const pingKeys = Array.from({ length: cfg.keys }, () => generatePrivateKey());
  const pings = pingKeys.map((k, i) => {
    const s = sources[i % sources.length];
    return { s, d: encodePacket(PacketType.Ping, { from: ep(s), to: { ip: HOST, udpPort: cfg.port }, expiration: FAR }, k) };
  });
  const findnodes = Array.from({ length: 2000 }, (_, i) => ({
    s: sources[i % sources.length],
    d: encodePacket(PacketType.Findnode, { target: randomBytes(64), expiration: FAR }, generatePrivateKey()),
  }));
  const pongs = Array.from({ length: 2000 }, (_, i) => ({
    s: sources[i % sources.length],
    d: encodePacket(PacketType.Pong, { to: { ip: HOST, udpPort: cfg.port }, replyToken: randomBytes(32), expiration: FAR }, generatePrivateKey()),
  }));
  const garbage = Array.from({ length: 2000 }, (_, i) => ({ s: sources[i % sources.length], d: randomBytes(Math.floor(Math.random() * 1400)) }));
  const replayed = pings[0];
  const flooder = await bind('127.0.99.1');
  flooder.on('message', onReply);
  const floodPings = Array.from({ length: 500 }, () =>
    encodePacket(PacketType.Ping, { from: ep(flooder), to: { ip: HOST, udpPort: cfg.port }, expiration: FAR }, generatePrivateKey()),
  );

  // Bonded findnode flooders: own socket and key; answer the node's ping-back.
  const bonded = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const s = await bind(`127.0.98.${i + 1}`);
      const key = generatePrivateKey();
      let isBonded = false;
      s.on('message', (msg) => {
        report.bytesReceivedBonded += msg.length;
        if (msg.length > 97 && msg[97] === PacketType.Ping && !isBonded) {
          try {
            const p = decodePacket(msg);
            s.send(encodePacket(PacketType.Pong, { to: { ip: HOST, udpPort: cfg.port }, replyToken: p.hash, expiration: FAR }, key), cfg.port, HOST);
            isBonded = true;
            report.bondedSources++;
          } catch {
            /* not for us */
          }
        }
      });
      s.send(encodePacket(PacketType.Ping, { from: ep(s), to: { ip: HOST, udpPort: cfg.port }, expiration: FAR }, key), cfg.port, HOST);
      return { s, d: encodePacket(PacketType.Findnode, { target: randomBytes(64), expiration: FAR }, key) };
    }),
  );
  await new Promise((r) => setTimeout(r, 300)); // let the bonds complete

  const send = (kind: string, s: dgram.Socket, d: Buffer) => {
    s.send(d, cfg.port, HOST);
    report.sent[kind] = (report.sent[kind] ?? 0) + 1;
    report.bytesSent += d.length;
    if (kind !== 'findnodeBonded') report.bytesSentUnbonded += d.length;
  };
  const counters = { garbage: 0, pings: 0, findnodeUnbonded: 0, findnodeBonded: 0, spoofedPongs: 0, replay: 0, flood: 0 };
  const owed = { ...counters };
  const SLICE_MS = 10;
  const end = Date.now() + cfg.seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = () => {
      if (Date.now() >= end) {
        resolve();
        return;
      }
      for (const kind of Object.keys(counters) as Array<keyof typeof counters>) {
        owed[kind] += (cfg.rates[kind] * SLICE_MS) / 1000;
        while (owed[kind] >= 1) {
          owed[kind] -= 1;
          const n = counters[kind]++;
          switch (kind) {
            case 'garbage': {
              const g = garbage[n % garbage.length];
              send(kind, g.s, g.d);
              break;
            }
            case 'pings': {
              const p = pings[n % pings.length];
              send(kind, p.s, p.d);
              break;
            }
            case 'findnodeUnbonded': {
              const f = findnodes[n % findnodes.length];
              send(kind, f.s, f.d);
              break;
            }
            case 'findnodeBonded': {
              const b = bonded[n % bonded.length];
              send(kind, b.s, b.d);
              break;
            }
            case 'spoofedPongs': {
              const p = pongs[n % pongs.length];
              send(kind, p.s, p.d);
              break;
            }
            case 'replay':
              send(kind, replayed.s, replayed.d);
              break;
            case 'flood':
              send(kind, flooder, floodPings[n % floodPings.length]);
              break;
          }
        }
      }
      setTimeout(tick, SLICE_MS);
    };
    tick();
  });
  await new Promise((r) => setTimeout(r, 500)); // late replies
  for (const s of [...sources, flooder, ...bonded.map((b) => b.s)]) s.close();
  return report;
}

if (require.main === module) {
  process.once('message', (cfg: AttackConfig) => {
    main(cfg).then(
      (r) => {
        process.send!(r);
        setTimeout(() => process.exit(0), 100);
      },
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
  // Never outlive the orchestrator.
  process.on('disconnect', () => process.exit(0));
}
