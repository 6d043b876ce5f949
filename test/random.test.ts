// The seeded random source behind the validation split and the shuffles, against a second implementation in exact
// integer arithmetic (BigInt), so a run's split and order stay what its seed says across versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AloccError, UsageError } from '../src/errors';
import { splitValidation } from '../src/data/mnist';
import { deriveSeed, mulberry32, randomInt, seededPermutation, shuffleInPlace } from '../src/data/random';

const M = 2n ** 32n;
const u32 = (x: bigint) => ((x % M) + M) % M;
const mul = (a: bigint, b: bigint) => u32(a * b);

/** mulberry32 as published, on unsigned 32-bit integers held in BigInts. */
function* referenceMulberry32(seed: number): Generator<number> {
  let state = u32(BigInt(seed));
  for (;;) {
    state = u32(state + 0x6d2b79f5n);
    let t = mul(state ^ (state >> 15n), state | 1n);
    t = t ^ u32(t + mul(t ^ (t >> 7n), t | 61n));
    yield Number(t ^ (t >> 14n)) / 2 ** 32;
  }
}

test('mulberry32 draws exactly the reference sequence', () => {
  for (const seed of [0, 1, 42, 2 ** 31 - 1, 2 ** 32 - 1, -5]) {
    const rng = mulberry32(seed);
    const ref = referenceMulberry32(seed);
    for (let i = 0; i < 200; i++) assert.equal(rng(), ref.next().value, `seed ${seed}, draw ${i}`);
  }
});

test('deriveSeed mixes seed and stream as the reference does', () => {
  const reference = (seed: number, stream: number) => {
    let h = mul(u32(BigInt(seed)) ^ 0x9e3779b9n, 0x85ebca6bn) ^ mul(u32(BigInt(stream)), 0xc2b2ae35n);
    h ^= h >> 16n;
    h = mul(h, 0x7feb352dn);
    h ^= h >> 15n;
    return Number(h);
  };
  for (const seed of [0, 1, 42, 2 ** 31 - 1, 2 ** 32 - 1]) {
    for (const stream of [0, 1, 2, 1000, 2 ** 32 - 1]) assert.equal(deriveSeed(seed, stream), reference(seed, stream), `${seed}, ${stream}`);
  }
});

test('randomInt and the Fisher-Yates shuffle, driven by scripted draws', () => {
  const scripted = (draws: number[]) => () => draws.shift()!;
  assert.equal(randomInt(() => 0.999, 10), 9);
  assert.equal(randomInt(() => 0.5, 10), 5);
  assert.equal(randomInt(() => 0, 10), 0);
  // Draws near 1 pick j = i each time: nothing moves. Draws of 0 swap each position with the first, from the end.
  assert.deepEqual(shuffleInPlace([1, 2, 3, 4], scripted([0.99, 0.99, 0.99])), [1, 2, 3, 4]);
  assert.deepEqual(shuffleInPlace([1, 2, 3, 4], scripted([0, 0, 0])), [2, 3, 4, 1]);
  // i = 3: j = floor(0.5·4) = 2 → [a b d c]; i = 2: j = floor(0.4·3) = 1 → [a d b c]; i = 1: j = 0 → [d a b c].
  const arr = ['a', 'b', 'c', 'd'];
  assert.equal(shuffleInPlace(arr, scripted([0.5, 0.4, 0.1])), arr);
  assert.deepEqual(arr, ['d', 'a', 'b', 'c']);
  assert.deepEqual(shuffleInPlace([], scripted([])), []);
  assert.deepEqual(shuffleInPlace([7], scripted([])), [7]);
});

test('seededPermutation is 0..n-1 shuffled by mulberry32(seed); the split takes its first share as validation', () => {
  const ref = referenceMulberry32(42);
  const expected = Array.from({ length: 20 }, (_, i) => i);
  for (let i = expected.length - 1; i > 0; i--) {
    const j = Math.floor(ref.next().value * (i + 1));
    [expected[i], expected[j]] = [expected[j], expected[i]];
  }
  assert.deepEqual(Array.from(seededPermutation(20, 42)), expected);
  const { trainIdx, valIdx } = splitValidation(20, 0.1, 42);
  assert.deepEqual(Array.from(valIdx), expected.slice(0, 2).sort((a, b) => a - b));
  assert.deepEqual(Array.from(trainIdx), expected.slice(2).sort((a, b) => a - b));
});

test('splitValidation rounds the share, keeps one image on each side when it can, and refuses bad input', () => {
  const sizes = (count: number, fraction: number) => {
    const s = splitValidation(count, fraction, 1);
    return [s.trainIdx.length, s.valIdx.length];
  };
  assert.deepEqual(sizes(15, 0.1), [13, 2]); // 1.5 rounds up
  assert.deepEqual(sizes(14, 0.1), [13, 1]); // 1.4 rounds down
  assert.deepEqual(sizes(2, 0.9), [1, 1]); // at least one training image
  assert.deepEqual(sizes(2, 0.01), [1, 1]); // at least one validation image
  // From two images on, each side keeps one; a single image goes where the rounded share puts it.
  assert.deepEqual(sizes(1, 0.1), [1, 0]);
  assert.deepEqual(sizes(1, 0.9), [0, 1]);
  assert.deepEqual(sizes(0, 0.1), [0, 0]);
  assert.deepEqual(sizes(5, 0), [5, 0]);
  assert.throws(() => splitValidation(-1, 0.1, 1), (e: unknown) => e instanceof AloccError && e.message === 'cannot split -1 images: not a count');
  assert.throws(() => splitValidation(2.5, 0.1, 1), (e: unknown) => e instanceof AloccError && e.message === 'cannot split 2.5 images: not a count');
  for (const bad of [1, -0.1, NaN]) {
    assert.throws(() => splitValidation(10, bad, 1), (e: unknown) => e instanceof UsageError && e.message === `validation fraction ${bad} must be in [0, 1)`);
  }
});
