import { strict as assert } from 'node:assert';
import { Periodic } from '../../src/transport/periodic';
import { FakeClock } from '../../src/transport/clock';

describe('Periodic', () => {
  it('runs every interval on the injected clock, one timer armed at a time', () => {
    const clock = new FakeClock();
    let runs = 0;
    const p = new Periodic(clock, 100, () => runs++);
    clock.advance(99);
    assert.equal(runs, 0);
    clock.advance(1);
    assert.equal(runs, 1);
    clock.advance(250);
    assert.equal(runs, 3);
    assert.equal(clock.pendingTimers(), 1);
    p.stop();
    assert.equal(clock.pendingTimers(), 0);
    clock.advance(1000);
    assert.equal(runs, 3);
  });

  it('arms nothing after a run that stopped it', () => {
    const clock = new FakeClock();
    let runs = 0;
    const p: Periodic = new Periodic(clock, 10, () => {
      runs++;
      p.stop();
    });
    clock.advance(100);
    assert.equal(runs, 1);
    assert.equal(clock.pendingTimers(), 0);
  });
});
