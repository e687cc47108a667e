import { strict as assert } from 'node:assert';
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import { DNS as EthjsDNS, ENR as EthjsENR } from '@ethereumjs/devp2p';
import { generatePrivateKey, keccak256, nodeIdFromPrivateKey } from '../../src/crypto';
import {
  base32Decode,
  base32Encode,
  BranchEntry,
  DNS,
  DnsError,
  ENR,
  formatTreeUrl,
  hashMatches,
  makeTree,
  MAX_CHILDREN,
  parseEntry,
  parseTreeUrl,
  RootEntry,
  signRoot,
  subdomainOf,
  verifyRoot,
} from '../../src/dns';
import { decodeEnrText, encodeEnrText, signRecord } from '../../src/enr';
import { TestDnsServer } from './server';

// go-ethereum p2p/dnsdisc/client_test.go TestClientSyncTree: a tree signed
// with signingKeyForTesting. Its records carry no IP, so they give no peers.
const GETH_KEY = Buffer.from('dc599867fc513f8f5e2c2c9c489cde5e71362d1d9ec6e693e0de063236ed1240', 'hex');
const GETH_URL = 'enrtree://AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2@n';
const GETH_LINK = 'enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@morenodes.example.org';
const GETH_NODES = [
  'enr:-HW4QOFzoVLaFJnNhbgMoDXPnOvcdVuj7pDpqRvh6BRDO68aVi5ZcjB3vzQRZH2IcLBGHzo8uUN3snqmgTiE56CH3AMBgmlkgnY0iXNlY3AyNTZrMaECC2_24YYkYHEgdzxlSNKQEnHhuNAbNlMlWJxrJxbAFvA',
  'enr:-HW4QAggRauloj2SDLtIHN1XBkvhFZ1vtf1raYQp9TBW2RD5EEawDzbtSmlXUfnaHcvwOizhVYLtr7e6vw7NAf6mTuoCgmlkgnY0iXNlY3AyNTZrMaECjrXI8TLNXU0f8cthpAMxEshUyQlK-AM0PW2wfrnacNI',
  'enr:-HW4QLAYqmrwllBEnzWWs7I5Ev2IAs7x_dZlbYdRdMUx5EyKHDXp7AV5CkuPGUPdvbv1_Ms1CPfhcGCvSElSosZmyoqAgmlkgnY0iXNlY3AyNTZrMaECriawHKWdDRk2xeZkrOXBQ0dfMFLHY4eENZwdufn1S1o',
];
const GETH_TREE: Record<string, string> = {
  n: 'enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 sig=o908WmNp7LibOfPsr4btQwatZJ5URBr2ZAuxvK4UWHlsB9sUOTJQaGAlLPVAhM__XJesCHxLISo94z5Z2a463gA',
  'C7HRFPF3BLGF3YR4DY5KX3SMBE.n': GETH_LINK,
  'JWXYDBPXYWG6FX3GMDIBFA6CJ4.n': 'enrtree-branch:2XS2367YHAXJFGLZHVAWLQD4ZY,H4FHT4B454P6UXFD7JCYQ5PWDY,MHTDO6TMUBRIA2XWG5LUDACK24',
  '2XS2367YHAXJFGLZHVAWLQD4ZY.n': GETH_NODES[0],
  'H4FHT4B454P6UXFD7JCYQ5PWDY.n': GETH_NODES[1],
  'MHTDO6TMUBRIA2XWG5LUDACK24.n': GETH_NODES[2],
};

const DOMAIN = 'nodes.example.test';
const N_RECORDS = 30;

interface TestRecord {
  text: string;
  nodeId: Buffer;
  address: string;
  udpPort: number;
  tcpPort: number;
}

/** Signed records with distinct IPv4 addresses; every third is padded past 255 bytes of text. */
function makeRecords(n: number, firstOctet = 10): TestRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const key = generatePrivateKey();
    const address = `${firstOctet}.0.${i >> 8}.${i & 0xff}`;
    // Ports >= 256: ethjs reads ports as two bytes whatever their RLP length.
    const udpPort = 30303 + i;
    const tcpPort = 40404 + i;
    const pad: Record<string, Buffer> = i % 3 === 0 ? { zpad: Buffer.alloc(120, i) } : {};
    const rlp = signRecord(key, 1n, { ip: Buffer.from(address.split('.').map(Number)), udp: udpPort, tcp: tcpPort, ...pad });
    return { text: encodeEnrText(rlp), nodeId: nodeIdFromPrivateKey(key), address, udpPort, tcpPort };
  });
}

/** The record-subtree entries reachable from the root, with every branch's size. */
function walk(txt: ReadonlyMap<string, string>, domain: string): { leaves: string[]; branchSizes: number[] } {
  const root = parseEntry(txt.get(domain)!) as RootEntry;
  const leaves: string[] = [];
  const branchSizes: number[] = [];
  const visit = (name: string): void => {
    const text = txt.get(`${name}.${domain}`)!;
    assert.ok(hashMatches(name, text), `${name} names its entry`);
    const e = parseEntry(text);
    if (e.type === 'branch') {
      branchSizes.push(e.children.length);
      e.children.forEach(visit);
    } else leaves.push(text);
  };
  visit(root.eroot);
  return { leaves, branchSizes };
}

function withServer<T>(records: ReadonlyMap<string, string | string[]>, fn: (server: TestDnsServer) => Promise<T>): Promise<T> {
  return TestDnsServer.start(records).then(async (server) => {
    try {
      return await fn(server);
    } finally {
      await server.close();
    }
  });
}

/** A 127.0.0.1 UDP port nothing listens on. */
async function closedPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

function assertDnsError(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof DnsError && e.code === code);
}

const treeKey = generatePrivateKey();
const treeUrl = formatTreeUrl(nodeIdFromPrivateKey(treeKey), DOMAIN);
const records = makeRecords(N_RECORDS);
const byId = new Map(records.map((r) => [r.nodeId.toString('hex'), r]));
const tree = makeTree(
  records.map((r) => r.text),
  [],
  1,
  treeKey,
  DOMAIN,
);

describe('dns/tree: EIP-1459 entries', () => {
  it('encodes base32 as RFC 4648 (no padding) and decodes it back, case-insensitively', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [plain, encoded] of vectors) {
      assert.equal(base32Encode(Buffer.from(plain)), encoded);
      assert.equal(base32Decode(encoded)!.toString(), plain);
      assert.equal(base32Decode(encoded.toLowerCase())!.toString(), plain);
    }
    assert.equal(base32Decode('MZXW6===')!.toString(), 'foo');
    assert.equal(base32Decode('MZX1'), undefined, '1 is not in the alphabet');
    assert.equal(base32Decode('MZX'), undefined, 'no byte string encodes to 3 characters');
  });

  it('names an entry by base32 of the first 16 bytes of keccak256 of its text', () => {
    const text = records[0].text;
    const name = subdomainOf(text);
    assert.equal(name.length, 26);
    assert.deepEqual(base32Decode(name), keccak256(Buffer.from(text)).subarray(0, 16));
    assert.ok(hashMatches(name, text));
    assert.ok(hashMatches(name.slice(0, 20), text), 'a 12-byte prefix still names it (geth minHashLength)');
    assert.ok(!hashMatches(name.slice(0, 16), text), 'a 10-byte prefix is too short to name anything');
    assert.ok(!hashMatches(name, records[1].text));
  });

  it('parses a tree URL into its 33-byte key and domain', () => {
    const { publicKey, domain } = parseTreeUrl(GETH_URL);
    assert.equal(domain, 'n');
    assert.deepEqual(publicKey, base32Decode('AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2'));
    assert.equal(formatTreeUrl(nodeIdFromPrivateKey(GETH_KEY), 'n'), GETH_URL);
    assert.equal(formatTreeUrl(publicKey, 'n'), GETH_URL);
  });

  it('rejects malformed tree URLs with DnsError DNS_BAD_URL', () => {
    const key = 'AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2';
    const bad = [
      '',
      `https://${key}@n`,
      `enrtree:${key}@n`,
      'enrtree://nodes.example.org', // geth: errNoPubkey
      'enrtree://AP62DT7WOTEQZGQZOU474PP3KMEGVTTE7A7NPRXKX3DUD57@nodes.example.org', // geth: errBadPubkey (too short)
      'enrtree://AP62DT7WONEQZGQZOU474PP3KMEGVTTE7A7NPRXKX3DUD57TQHGIA@nodes.example.org', // geth: errBadPubkey (not a point)
      `enrtree://${key.replace('K', '1')}@n`, // outside the alphabet
      `enrtree://${base32Encode(Buffer.concat([Buffer.from([4]), Buffer.alloc(32, 1)]))}@n`, // not a compressed key
      `enrtree://${key}@`,
      `enrtree://${key}@no de`,
    ];
    for (const url of bad) assertDnsError(() => parseTreeUrl(url), 'DNS_BAD_URL');
  });

  it("parses roots as geth's tree_test.go TestParseRoot does", () => {
    const missingL =
      'enrtree-root:v1 e=TO4Q75OQ2N7DX4EOOR7X66A6OM seq=3 sig=N-YY6UB9xD0hFx1Gmnt7v0RfSxch5tKyry2SRDoLx7B4GfPXagwLxQqyf7gAMvApFn_ORwZQekMWa_pXrcGCtw';
    const shortSig =
      'enrtree-root:v1 e=TO4Q75OQ2N7DX4EOOR7X66A6OM l=TO4Q75OQ2N7DX4EOOR7X66A6OM seq=3 sig=N-YY6UB9xD0hFx1Gmnt7v0RfSxch5tKyry2SRDoLx7B4GfPXagwLxQqyf7gAMvApFn_ORwZQekMWa_pXrcGCtw';
    assertDnsError(() => parseEntry(missingL), 'DNS_BAD_ENTRY');
    assertDnsError(() => parseEntry(shortSig), 'DNS_BAD_ENTRY');
    const text =
      'enrtree-root:v1 e=QFT4PBCRX4XQCV3VUYJ6BTCEPU l=JGUFMSAGI7KZYB3P7IZW4S5Y3A seq=3 sig=3FmXuVwpa8Y7OstZTx9PIb1mt8FrW7VpDOFv4AaGCsZ2EIHmhraWhe4NxYhQDlw5MjeFXYMbJjsPeKlHzmJREQE';
    const root = parseEntry(text) as RootEntry;
    assert.equal(root.type, 'root');
    assert.equal(root.eroot, 'QFT4PBCRX4XQCV3VUYJ6BTCEPU');
    assert.equal(root.lroot, 'JGUFMSAGI7KZYB3P7IZW4S5Y3A');
    assert.equal(root.seq, 3);
    assert.equal(
      root.signature.toString('hex'),
      'dc5997b95c296bc63b3acb594f1f4f21bd66b7c16b5bb5690ce16fe006860ac6761081e686b69685ee0dc588500e5c393237855d831b263b0f78a947ce62511101',
    );
    assert.equal(root.signedText, 'enrtree-root:v1 e=QFT4PBCRX4XQCV3VUYJ6BTCEPU l=JGUFMSAGI7KZYB3P7IZW4S5Y3A seq=3');
    assert.deepEqual((parseEntry(`${text}=`) as RootEntry).signature, root.signature, 'padding is tolerated');
  });

  it("parses branches, links and records as geth's tree_test.go TestParseEntry does", () => {
    const children = (text: string) => (parseEntry(text) as BranchEntry).children;
    assertDnsError(() => parseEntry('enrtree-branch:1,2'), 'DNS_BAD_ENTRY');
    assertDnsError(() => parseEntry(`enrtree-branch:${'A'.repeat(53)}`), 'DNS_BAD_ENTRY');
    assert.deepEqual(children('enrtree-branch:'), []);
    assert.deepEqual(children('enrtree-branch:AAAAAAAAAAAAAAAAAAAA'), ['AAAAAAAAAAAAAAAAAAAA']);
    assert.deepEqual(children('enrtree-branch:AAAAAAAAAAAAAAAAAAAA,BBBBBBBBBBBBBBBBBBBB'), [
      'AAAAAAAAAAAAAAAAAAAA',
      'BBBBBBBBBBBBBBBBBBBB',
    ]);

    const link = parseEntry('enrtree://AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2@nodes.example.org');
    assert.ok(link.type === 'link');
    assert.equal(link.domain, 'nodes.example.org');
    assert.deepEqual(link.publicKey, parseTreeUrl(GETH_URL).publicKey);
    assertDnsError(() => parseEntry('enrtree://nodes.example.org'), 'DNS_BAD_ENTRY');
    assertDnsError(() => parseEntry('enrtree://AP62DT7WONEQZGQZOU474PP3KMEGVTTE7A7NPRXKX3DUD57TQHGIA@nodes.example.org'), 'DNS_BAD_ENTRY');

    const enr = 'enr:-HW4QES8QIeXTYlDzbfr1WEzE-XKY4f8gJFJzjJL-9D7TC9lJb4Z3JPRRz1lP4pL_N_QpT6rGQjAU9Apnc-C1iMP36OAgmlkgnY0iXNlY3AyNTZrMaED5IdwfMxdmR8W37HqSFdQLjDkIwBd4Q_MjxgZifgKSdM';
    const e = parseEntry(enr);
    assert.ok(e.type === 'enr');
    assert.equal(e.record.seq, 0n);
    assertDnsError(() => parseEntry('enr:-----'), 'DNS_BAD_ENTRY');

    for (const unknown of ['', 'foo', 'enrtree', 'enrtree-x=']) assertDnsError(() => parseEntry(unknown), 'DNS_BAD_ENTRY');
  });

  it("builds geth's signed test tree byte for byte (same layout, same RFC 6979 signature)", () => {
    const ours = makeTree(GETH_NODES, [GETH_LINK], 1, GETH_KEY, 'n');
    assert.deepEqual(Object.fromEntries(ours), GETH_TREE);
  });

  it('verifies a root against the tree key only, and rejects an altered root or a high-S twin', () => {
    const root = parseEntry(tree.get(DOMAIN)!) as RootEntry;
    const { publicKey } = parseTreeUrl(treeUrl);
    assert.ok(verifyRoot(root, publicKey));
    assert.ok(!verifyRoot(root, parseTreeUrl(GETH_URL).publicKey));
    assert.ok(!verifyRoot({ ...root, signedText: root.signedText.replace('seq=1', 'seq=2') }, publicKey));
    // s -> n - s is the same signature to plain ECDSA; geth (and EIP-2) refuse it.
    const n = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
    const s = BigInt(`0x${root.signature.toString('hex', 32, 64)}`);
    const twin = Buffer.from(root.signature);
    Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex').copy(twin, 32);
    twin[64] ^= 1;
    assert.ok(!verifyRoot({ ...root, signature: twin }, publicKey));
  });

  it('lays out every record under branches of at most 13 children', () => {
    const { leaves, branchSizes } = walk(tree, DOMAIN);
    assert.deepEqual(leaves.sort(), records.map((r) => r.text).sort());
    assert.ok(branchSizes.every((size) => size <= MAX_CHILDREN));
    assert.equal(tree.size, 1 + N_RECORDS + Math.ceil(N_RECORDS / MAX_CHILDREN) + 1 + 1, 'root, leaves, 3 branches, top branch, empty link branch');
    assert.ok([...tree.values()].some((t) => t.length > 255), 'some entries need several TXT strings');
  });
});

describe('dns/client: getPeers over a local DNS server', () => {
  let server: TestDnsServer;
  before(async () => {
    server = await TestDnsServer.start(tree);
  });
  after(() => server.close());

  it('returns distinct peers whose ids, addresses and ports match the records', async () => {
    const client = new DNS({ dnsServerAddress: server.address });
    const peers = await client.getPeers(N_RECORDS, [treeUrl]);
    // 40 random descents over 30 leaves find 12 or more distinct ones in
    // over a million simulated runs.
    assert.ok(peers.length >= 8 && peers.length <= N_RECORDS, `${peers.length} peers`);
    assert.equal(new Set(peers.map((p) => p.address)).size, peers.length);
    for (const p of peers) {
      const r = byId.get(Buffer.from(p.id!).toString('hex'));
      assert.ok(r, 'peer is a record of the tree');
      assert.deepEqual(
        { address: p.address, udpPort: p.udpPort, tcpPort: p.tcpPort },
        { address: r.address, udpPort: r.udpPort, tcpPort: r.tcpPort },
      );
    }
    assert.deepEqual(client.stats.errors, {});
  });

  it('stops at maxQuantity peers', async () => {
    const client = new DNS({ dnsServerAddress: server.address });
    assert.equal((await client.getPeers(3, [treeUrl])).length, 3);
    assert.equal((await client.getPeers(0, [treeUrl])).length, 0);
    assert.deepEqual(await client.getPeers(5, []), []);
  });

  it('joins a record split into several TXT strings', async () => {
    const long = records.find((r) => r.text.length > 255)!;
    const single = makeTree([long.text], [], 1, treeKey, DOMAIN);
    await withServer(single, async (s) => {
      const peers = await new DNS({ dnsServerAddress: s.address }).getPeers(1, [treeUrl]);
      assert.equal(peers.length, 1);
      assert.equal(peers[0].address, long.address);
    });
  });

  it('skips TXT records that are not tree entries at the same name', async () => {
    const mixed = new Map<string, string | string[]>(tree);
    mixed.set(DOMAIN, ['v=spf1 -all', tree.get(DOMAIN)!]);
    await withServer(mixed, async (s) => {
      assert.equal((await new DNS({ dnsServerAddress: s.address }).getPeers(2, [treeUrl])).length, 2);
    });
  });

  it('returns no peers when the root is signed by another key', async () => {
    const forged = makeTree(
      records.map((r) => r.text),
      [],
      2,
      generatePrivateKey(),
      DOMAIN,
    );
    await withServer(forged, async (s) => {
      const client = new DNS({ dnsServerAddress: s.address });
      assert.deepEqual(await client.getPeers(5, [treeUrl]), []);
      assert.deepEqual(client.stats.errors, { DNS_BAD_SIGNATURE: 1 });
      assert.deepEqual(s.log, [DOMAIN], 'nothing below an unverified root is fetched');
    });
  });

  it('rejects entries that do not hash to the name they are served under', async () => {
    // The server swaps every record for a valid, signed record of its own choosing.
    const intruders = makeRecords(N_RECORDS, 192);
    const swapped = new Map(tree);
    let i = 0;
    for (const [name, text] of tree) if (text.startsWith('enr:')) swapped.set(name, intruders[i++].text);
    await withServer(swapped, async (s) => {
      const client = new DNS({ dnsServerAddress: s.address });
      assert.deepEqual(await client.getPeers(5, [treeUrl]), []);
      assert.equal(client.stats.errors.DNS_HASH_MISMATCH, client.stats.searches);
    });
  });

  it('ends a descent at a branch cycle (its back edge cannot hash to its name)', async () => {
    // A -> B -> A: A can name B, but B cannot carry A's name and hash to
    // its own, so the cycle is cut where the client checks B's hash.
    const nameB = 'AAAAAAAAAAAAAAAAAAAAAAAAAA';
    const branchA = `enrtree-branch:${nameB}`;
    const nameA = subdomainOf(branchA);
    const cyclic = makeTree([records[0].text], [], 1, treeKey, DOMAIN);
    const root = parseEntry(cyclic.get(DOMAIN)!) as RootEntry;
    const txt = new Map([
      [DOMAIN, signRoot(nameA, root.lroot, 1, treeKey)],
      [`${nameA}.${DOMAIN}`, branchA],
      [`${nameB}.${DOMAIN}`, `enrtree-branch:${nameA}`],
    ]);
    await withServer(txt, async (s) => {
      const client = new DNS({ dnsServerAddress: s.address });
      assert.deepEqual(await client.getPeers(2, [treeUrl]), []);
      assert.equal(client.stats.searches, 12);
      assert.equal(client.stats.errors.DNS_HASH_MISMATCH, 12);
      assert.ok(s.queries <= 2 + 12, `${s.queries} queries`);
    });
  });

  it('gives [] without throwing when the DNS server port is closed', async () => {
    const client = new DNS({ dnsServerAddress: `127.0.0.1:${await closedPort()}`, timeoutMs: 300 });
    const t0 = Date.now();
    assert.deepEqual(await client.getPeers(5, [treeUrl]), []);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(client.stats.errors, { DNS_LOOKUP_FAILED: 1 });
  });

  it('gives [] within the timeout when the DNS server never answers', async () => {
    await withServer(tree, async (s) => {
      s.silent = true;
      const client = new DNS({ dnsServerAddress: s.address, timeoutMs: 300 });
      const t0 = Date.now();
      assert.deepEqual(await client.getPeers(5, [treeUrl]), []);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 250 && elapsed < 1500, `${elapsed} ms`);
      assert.ok(s.queries >= 1);
    });
  });

  it('bounds each lookup of an injected resolver by timeoutMs', async () => {
    const client = new DNS({ resolver: () => new Promise<string[][]>(() => {}), timeoutMs: 100 });
    const t0 = Date.now();
    assert.deepEqual(await client.getPeers(3, [treeUrl]), []);
    assert.ok(Date.now() - t0 < 1000);
  });

  it('leaves the process-wide DNS servers unchanged', async () => {
    const before = dns.getServers();
    const beforePromises = dns.promises.getServers();
    const client = new DNS({ dnsServerAddress: server.address });
    await client.getPeers(3, [treeUrl]);
    assert.deepEqual(dns.getServers(), before);
    assert.deepEqual(dns.promises.getServers(), beforePromises);
    assert.ok(!before.includes(server.address));
  });

  it('accepts ip, ip:port and [ipv6]:port server addresses and rejects others with DNS_BAD_SERVER', () => {
    for (const address of ['127.0.0.1', '127.0.0.1:5353', '::1', '[::1]:5353']) new DNS({ dnsServerAddress: address });
    assertDnsError(() => new DNS({ dnsServerAddress: 'dns.example.org' }), 'DNS_BAD_SERVER');
  });

  it('throws DnsError for a malformed tree URL, as ethjs does', async () => {
    const client = new DNS({ dnsServerAddress: server.address });
    await assert.rejects(client.getPeers(1, ['enrtree://nodes.example.org']), (e: unknown) => e instanceof DnsError && e.code === 'DNS_BAD_URL');
  });

  it('fetches no name twice while it is cached', async () => {
    await withServer(tree, async (s) => {
      const client = new DNS({ dnsServerAddress: s.address });
      for (let i = 0; i < 3; i++) await client.getPeers(10, [treeUrl]);
      assert.equal(new Set(s.log).size, s.log.length, 'every query is for a new name');
      assert.equal(client.stats.lookups, s.log.length);
      assert.ok(client.stats.cacheHits > 0);
    });
  });

  it('keeps at most cacheSize entries, evicting the least recently used', async () => {
    await withServer(tree, async (s) => {
      // Each descent touches 3 entries (top branch, branch, leaf) besides the root.
      const client = new DNS({ dnsServerAddress: s.address, cacheSize: 3 });
      await client.getPeers(1, [treeUrl]);
      assert.ok(client.cachedEntries <= 3);
      await client.getPeers(1, [treeUrl]);
      assert.ok(client.cachedEntries <= 3);
      assert.equal(s.log.filter((n) => n === DOMAIN).length, 2, 'the evicted root is fetched again');
    });
  });

  it('fetches the root again once cacheTtlMs has passed', async () => {
    await withServer(tree, async (s) => {
      let now = 1_000_000;
      const client = new DNS({ dnsServerAddress: s.address, cacheTtlMs: 60_000, now: () => now });
      const rootQueries = () => s.log.filter((n) => n === DOMAIN).length;
      await client.getPeers(1, [treeUrl]);
      now += 59_999;
      await client.getPeers(1, [treeUrl]);
      assert.equal(rootQueries(), 1);
      now += 1;
      await client.getPeers(1, [treeUrl]);
      assert.equal(rootQueries(), 2);
    });
  });

  it("reads geth's test tree through an injected resolver: root and hashes verify, records without IP give no peers", async () => {
    const names: string[] = [];
    const resolver = async (name: string) => {
      names.push(name);
      const text = GETH_TREE[name];
      if (text === undefined) throw Object.assign(new Error(`${name} not found`), { code: 'ENOTFOUND' });
      return [[text]];
    };
    const client = new DNS({ resolver });
    assert.deepEqual(await client.getPeers(3, [GETH_URL]), []);
    assert.deepEqual(client.stats.errors, {});
    assert.equal(client.stats.searches, 13);
    assert.ok(names.length <= 5, 'root, branch and three records, each once');
  });
});

describe('dns/client: @ethereumjs/devp2p compatibility', () => {
  it("ethjs's ENR accepts our root and records, and agrees with our ENR helpers", () => {
    const { publicKey } = EthjsENR.parseTree(treeUrl);
    assert.deepEqual(ENR.parseTree(treeUrl), { publicKey, domain: DOMAIN });
    const eroot = (parseEntry(tree.get(DOMAIN)!) as RootEntry).eroot;
    assert.equal(EthjsENR.parseAndVerifyRoot(tree.get(DOMAIN)!, publicKey), eroot);
    assert.equal(ENR.parseAndVerifyRoot(tree.get(DOMAIN)!, publicKey), eroot);
    for (const r of records) {
      const theirs = EthjsENR.parseAndVerifyRecord(r.text);
      const { id, ...ours } = ENR.parseAndVerifyRecord(r.text);
      assert.deepEqual(ours, { address: theirs.address, udpPort: theirs.udpPort, tcpPort: theirs.tcpPort });
      assert.deepEqual(id, r.nodeId);
    }
    const branch = [...tree.values()].find((t) => t.startsWith('enrtree-branch:') && t.length > 20)!;
    assert.deepEqual(ENR.parseBranch(branch), EthjsENR.parseBranch(branch));
    assert.equal(ENR.parseAndVerifyRoot(GETH_TREE.n, 'AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2'), 'JWXYDBPXYWG6FX3GMDIBFA6CJ4');
  });

  it("our ENR helpers fail with ethjs's messages", () => {
    const msg = (fn: () => unknown, message: string) => assert.throws(fn, (e: unknown) => e instanceof DnsError && e.message === message);
    msg(() => ENR.parseTree('https://example.org'), "ENR tree entry must start with 'enrtree:'");
    msg(() => ENR.parseBranch('branch:'), "ENR branch entry must start with 'enrtree-branch:'");
    msg(() => ENR.parseAndVerifyRoot('root', 'x'), "ENR root entry must start with 'enrtree-root:'");
    msg(() => ENR.parseAndVerifyRoot(tree.get(DOMAIN)!, ENR.parseTree(GETH_URL).publicKey), 'Unable to verify ENR root signature');
    msg(() => ENR.parseAndVerifyRecord('record'), "String encoded ENR must start with 'enr:'");
    const rlp = decodeEnrText(records[1].text);
    rlp[5] ^= 1; // inside the signature
    msg(() => ENR.parseAndVerifyRecord(encodeEnrText(rlp)), 'Unable to verify ENR signature');
  });

  it("ethjs's DNS client finds peers in our tree on our server", async () => {
    // ethjs sets the process-wide servers: restore them afterwards.
    const saved = dns.promises.getServers();
    const savedCb = dns.getServers();
    await withServer(tree, async (s) => {
      try {
        const peers = await new EthjsDNS({ dnsServerAddress: s.address }).getPeers(3, [treeUrl]);
        assert.equal(peers.length, 3);
        for (const p of peers) assert.ok(records.some((r) => r.address === p.address && r.udpPort === p.udpPort));
      } finally {
        dns.promises.setServers(saved);
        dns.setServers(savedCb);
      }
    });
  });
});
