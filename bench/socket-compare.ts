/**
 * Receive throughput: Node's dgram vs the native recvmmsg socket.
 *
 *   npx tsx bench/socket-compare.ts [N]        (default N = 200,000)
 *
 * One sender process (the native socket with synchronous try_send, the
 * fastest sender we have; the same for both receivers) sends N small (100
 * byte) datagrams to a receiver in this process on 127.0.0.1. The receiver's
 * handler touches one byte of each datagram. Two scenarios:
 *
 * - blast: the sender sends N as fast as it can; the receiver keeps up or
 *   the kernel drops. Reported: datagrams received, datagrams/s over the
 *   receive window (first to last datagram), receiver CPU per datagram
 *   (process.cpuUsage, user + system) and the batches the native socket saw.
 *   On a 2-vCPU machine the sender (one core) is the limit here, so the CPU
 *   per datagram is the figure that compares the receivers.
 * - backlog: the receiver's loop is blocked while the sender queues a burst
 *   of 4,000 datagrams in its socket buffer; then the receiver drains it.
 *   Reported: drain rate (the receiver's own ceiling, full recvmmsg batches)
 *   and CPU per datagram, over N datagrams in bursts.
 *
 * Everything is bounded: each run stops by itself (about 12 s in all).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { bindNative } from '../src/transport/native-socket';
import { bindDgram, type PacketSocket } from '../src/transport/socket';

const SIZE = 100;
const BURST = 4000; // fits the 4 MiB receive buffer (~1 KiB kernel truesize per small datagram)
const RUN_TIMEOUT_MS = 4000;
const IDLE_MS = 150;

type Kind = 'dgram' | 'native';
type SenderCmd = { cmd: 'send'; port: number; count: number; yieldEvery: number };
type SenderReply = { sent: number; secs: number };

// ---- sender process ----

async function senderMain(): Promise<void> {
  const s = await bindNative({ address: '127.0.0.1' });
  const pkt = Buffer.alloc(SIZE, 0x5a);
  const ip = new Uint8Array([127, 0, 0, 1]);
  let failed = 0;
  const onDone = (err?: Error) => {
    if (err) failed++;
  };
  process.on('message', async (m: SenderCmd) => {
    failed = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < m.count; i++) {
      pkt.writeUInt32LE(i, 0);
      s.send(pkt, 0, SIZE, ip, m.port, onDone);
      // Let queued sends (EAGAIN) drain now and then.
      if (i % m.yieldEvery === m.yieldEvery - 1) await new Promise((r) => setImmediate(r));
    }
    const reply: SenderReply = { sent: m.count - failed, secs: Number(process.hrtime.bigint() - t0) / 1e9 };
    process.send!(reply);
  });
  process.on('disconnect', () => void s.close());
}

function startSender(): ChildProcess {
  return fork(__filename, ['--sender'], { stdio: 'inherit' });
}

function command(child: ChildProcess, cmd: SenderCmd): Promise<SenderReply> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as SenderReply));
    child.send(cmd);
  });
}

async function bindReceiver(kind: Kind): Promise<PacketSocket> {
  return kind === 'dgram' ? bindDgram({ address: '127.0.0.1' }) : bindNative({ address: '127.0.0.1' });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const blockFor = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

interface Result {
  kind: Kind;
  received: number;
  rate: number;
  cpuNs: number;
  batches: number;
  maxBatch: number;
  note: string;
}

// ---- blast ----

async function blast(kind: Kind, n: number, sender: ChildProcess): Promise<Result> {
  const rx = await bindReceiver(kind);
  let received = 0;
  let sum = 0;
  let first = 0n;
  let last = 0n;
  rx.start((buf, off) => {
    if (received === 0) first = process.hrtime.bigint();
    received++;
    sum += buf[off];
    if ((received & 255) === 0) last = process.hrtime.bigint();
  });
  const cpu0 = process.cpuUsage();
  let reply: SenderReply | undefined;
  void command(sender, { cmd: 'send', port: rx.address().port, count: n, yieldEvery: 4096 }).then((r) => (reply = r));
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let seen = -1;
  let idleSince = Date.now();
  while (received < n && Date.now() < deadline && !(reply && Date.now() - idleSince > IDLE_MS)) {
    await sleep(10);
    if (received !== seen) {
      seen = received;
      idleSince = Date.now();
    }
  }
  const cpu = process.cpuUsage(cpu0);
  if (last < first) last = process.hrtime.bigint();
  const st = rx.stats();
  await rx.close();
  while (!reply) await sleep(5);
  void sum;
  return {
    kind,
    received,
    rate: received / Math.max(Number(last - first) / 1e9, 1e-6),
    cpuNs: received ? ((cpu.user + cpu.system) * 1000) / received : 0,
    batches: st.batches ?? 0,
    maxBatch: st.maxBatch ?? 0,
    note: `sender ${(reply.sent / reply.secs / 1000).toFixed(0)} k/s`,
  };
}

// ---- backlog ----

async function backlog(kind: Kind, n: number, sender: ChildProcess): Promise<Result> {
  const rx = await bindReceiver(kind);
  let received = 0;
  let target = 0;
  let sum = 0;
  let t1 = 0n;
  let cpu1 = { user: 0, system: 0 };
  let finished: (() => void) | undefined;
  rx.start((buf, off) => {
    sum += buf[off];
    if (++received === target) {
      t1 = process.hrtime.bigint();
      cpu1 = process.cpuUsage();
      finished?.();
    }
  });
  let drainNs = 0;
  let cpuUs = 0;
  let counted = 0;
  let lost = 0;
  const deadline = Date.now() + 2 * RUN_TIMEOUT_MS;
  while (counted < n && Date.now() < deadline) {
    const burst = Math.min(BURST, n - counted);
    received = 0;
    target = burst;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const sent = command(sender, { cmd: 'send', port: rx.address().port, count: burst, yieldEvery: 1 << 30 });
    // Block this thread while the burst lands in the socket buffer.
    blockFor(40);
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const ok = await Promise.race([done.then(() => true), sleep(500).then(() => false)]);
    await sent;
    if (!ok) {
      lost += burst - received; // kernel drops: buffer smaller than the burst
      continue;
    }
    drainNs += Number(t1 - t0);
    cpuUs += cpu1.user - cpu0.user + (cpu1.system - cpu0.system);
    counted += burst;
  }
  const st = rx.stats();
  await rx.close();
  void sum;
  return {
    kind,
    received: counted,
    rate: counted / (drainNs / 1e9),
    cpuNs: counted ? (cpuUs * 1000) / counted : 0,
    batches: st.batches ?? 0,
    maxBatch: st.maxBatch ?? 0,
    note: `bursts of ${BURST}${lost ? `, ${lost} lost` : ''}`,
  };
}

function line(scenario: string, r: Result, n: number): string {
  const batches = r.batches
    ? `, ${r.batches} batches (avg ${(r.received / r.batches).toFixed(1)}, max ${r.maxBatch})`
    : '';
  return (
    `${scenario.padEnd(8)} ${r.kind.padEnd(6)} ${String(r.received).padStart(7)}/${n} ` +
    `${(r.rate / 1000).toFixed(0).padStart(5)} k dgram/s ${r.cpuNs.toFixed(0).padStart(5)} ns CPU/dgram  [${r.note}${batches}]`
  );
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200_000);
  const started = Date.now();
  const sender = startSender();
  const out: Array<{ scenario: string; r: Result }> = [];
  try {
    for (const kind of ['dgram', 'native', 'dgram', 'native'] as const) {
      const r = await blast(kind, n, sender);
      out.push({ scenario: 'blast', r });
      console.log(line('blast', r, n));
    }
    for (const kind of ['dgram', 'native'] as const) {
      const r = await backlog(kind, n, sender);
      out.push({ scenario: 'backlog', r });
      console.log(line('backlog', r, n));
    }
  } finally {
    sender.disconnect();
  }
  for (const scenario of ['blast', 'backlog']) {
    const pick = (kind: Kind) => out.filter((o) => o.scenario === scenario && o.r.kind === kind).map((o) => o.r);
    const cpu = (kind: Kind) => Math.min(...pick(kind).map((r) => r.cpuNs));
    const rate = (kind: Kind) => Math.max(...pick(kind).map((r) => r.rate));
    console.log(
      `${scenario}: native/dgram ${(rate('native') / rate('dgram')).toFixed(2)}x datagrams/s, ` +
        `${(cpu('dgram') / cpu('native')).toFixed(2)}x less receiver CPU per datagram (best runs)`,
    );
  }
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[2] === '--sender') {
  senderMain().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
