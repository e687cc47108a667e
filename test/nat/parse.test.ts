import { strict as assert } from 'node:assert';
import { DiscError } from '../../src/errors';
import { formatNat, parseNat } from '../../src/nat';

describe('nat: parseNat', () => {
  it('parses every form, with geth aliases and any case', () => {
    assert.deepEqual(parseNat('none'), { kind: 'none' });
    assert.deepEqual(parseNat(''), { kind: 'none' });
    assert.deepEqual(parseNat('off'), { kind: 'none' });
    assert.deepEqual(parseNat('extip:203.0.113.7'), { kind: 'extip', ip: '203.0.113.7' });
    assert.deepEqual(parseNat('ip:2001:db8::1'), { kind: 'extip', ip: '2001:db8::1' });
    // Dual-stack: one address per family, either order.
    assert.deepEqual(parseNat('extip:203.0.113.7,2001:db8::7'), { kind: 'extip', ip: '203.0.113.7', ip6: '2001:db8::7' });
    assert.deepEqual(parseNat('extip:2001:db8::7, 203.0.113.7'), { kind: 'extip', ip: '203.0.113.7', ip6: '2001:db8::7' });
    assert.deepEqual(parseNat('upnp'), { kind: 'upnp' });
    assert.deepEqual(parseNat('UPnP'), { kind: 'upnp' });
    assert.deepEqual(parseNat('pmp'), { kind: 'pmp' });
    assert.deepEqual(parseNat('natpmp'), { kind: 'pmp' });
    assert.deepEqual(parseNat('pmp:192.168.1.1'), { kind: 'pmp', gateway: '192.168.1.1' });
    assert.deepEqual(parseNat('any'), { kind: 'any' });
    assert.deepEqual(parseNat('auto'), { kind: 'any' });
  });

  it('round-trips through formatNat', () => {
    for (const s of ['none', 'extip:1.2.3.4', 'extip:1.2.3.4,2001:db8::1', 'upnp', 'pmp', 'pmp:10.0.0.1', 'any']) {
      assert.equal(formatNat(parseNat(s)), s);
    }
  });

  for (const bad of ['extip:999.1.1.1', 'foo', 'pmp:notanip', 'extip', 'extip:', 'upnp:1.2.3.4', 'pmp:2001:db8::1', 'none:x', 'extip:1.2.3.4,5.6.7.8', 'extip:1.2.3.4,bogus']) {
    it(`rejects "${bad}" with BAD_NAT and a one-line message`, () => {
      assert.throws(
        () => parseNat(bad),
        (e: unknown) => e instanceof DiscError && e.code === 'BAD_NAT' && !e.message.includes('\n') && e.message.length > 10,
      );
    });
  }
});
