// The novelty threshold is percentile(validation scores, 95): checked against values worked out by hand with numpy's
// default rule (linear interpolation between order statistics at position p/100·(n − 1)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { percentile } from '../src/score/scorer';

test('percentile at p = 0, 5, 25, 40, 50, 95, 100 of five values, worked out by hand', () => {
  // Sorted: 15 20 35 40 50; position p/100·4.
  const v = [40, 15, 50, 35, 20];
  const cases: [number, number][] = [
    [0, 15], // position 0: the smallest
    [100, 50], // position 4: the largest
    [50, 35], // position 2, exactly on an element
    [25, 20], // position 1, exactly on an element
    [95, 48], // position 3.8: 40 + 0.8·(50 − 40)
    [5, 16], // position 0.2: 15 + 0.2·(20 − 15)
    [40, 29], // position 1.6: 20 + 0.6·(35 − 20)
  ];
  for (const [p, expected] of cases) assert.ok(Math.abs(percentile(v, p) - expected) < 1e-12, `p ${p}: ${percentile(v, p)}, expected ${expected}`);
});

test('percentile: numpy\'s own examples and positions landing exactly on an element', () => {
  // numpy.percentile(range(1, 11), 95) = 9.55; numpy.percentile([1, 2, 3, 4], 50) = 2.5
  assert.ok(Math.abs(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) - 9.55) < 1e-12);
  assert.equal(percentile([4, 1, 3, 2], 50), 2.5);
  // 21 values 0..20: position 0.95·20 = 19 exactly, no interpolation.
  const v21 = Array.from({ length: 21 }, (_, i) => 20 - i);
  assert.equal(percentile(v21, 95), 19);
  assert.equal(percentile(v21, 5), 1);
  // 20 values 0..19: position 0.95·19 = 18.05.
  assert.ok(Math.abs(percentile(Array.from({ length: 20 }, (_, i) => i), 95) - 18.05) < 1e-12);
});

test('percentile sorts numerically (not as text), leaves its input alone, and handles one or no value', () => {
  // As text, 100 would sort before 2 and 9.
  assert.equal(percentile([10, 9, 100, -1, 2], 50), 9);
  assert.equal(percentile([10, 9, 100, -1, 2], 100), 100);
  assert.equal(percentile([10, 9, 100, -1, 2], 0), -1);
  const input = Float32Array.from([0.5, 0.25, 0.75]);
  assert.equal(percentile(input, 50), 0.5);
  assert.deepEqual(Array.from(input), [0.5, 0.25, 0.75], 'input order kept');
  assert.equal(percentile([7], 95), 7);
  assert.equal(percentile([7], 0), 7);
  assert.ok(Number.isNaN(percentile([], 95)));
});

/** A second implementation: a plain array sorted with a comparator, the interpolation written out differently. */
function referencePercentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (p * (s.length - 1)) / 100;
  const below = s[Math.floor(pos)];
  const above = s[Math.min(s.length - 1, Math.floor(pos) + 1)];
  return below * (1 - (pos - Math.floor(pos))) + above * (pos - Math.floor(pos));
}

test('percentile agrees with a second implementation on random data, and grows with p', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 50 }),
      fc.integer({ min: 0, max: 100 }),
      (values, p) => {
        const got = percentile(values, p);
        const want = referencePercentile(values, p);
        assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${got} vs ${want}`);
        assert.ok(percentile(values, Math.min(100, p + 1)) >= got - 1e-9);
      },
    ),
  );
});
