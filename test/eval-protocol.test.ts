import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainingReference } from '../src/eval/dataset';
import { novelCountForShare, runSharesProtocol, sampleWithoutReplacement, seededRandom } from '../src/eval/protocol';
import { combineScores } from '../src/eval/scores';

/** 20 normal images (indices 0-19) then 80 novel ones. */
function syntheticTestSet() {
  const isNovel = Uint8Array.from({ length: 100 }, (_, i) => (i >= 20 ? 1 : 0));
  const random = seededRandom(99);
  return {
    isNovel,
    perfect: Float64Array.from(isNovel, (v) => v + 0.1 * random()),
    noise: Float64Array.from(isNovel, () => random()),
  };
}

test('shares: every normal image plus the right number of distinct novel ones', () => {
  assert.equal(novelCountForShare(20, 0.5), 20);
  assert.equal(novelCountForShare(980, 0.1), 109); // 980 / 9 = 108.9
  const picked = sampleWithoutReplacement([5, 6, 7, 8, 9], 3, seededRandom(1));
  assert.equal(new Set(picked).size, 3);
  for (const p of picked) assert.ok(p >= 5 && p <= 9);
});

test('protocol: a perfect score and perfect verdicts give AUROC 1 and F1 1 at every share, sd 0', () => {
  const { isNovel, perfect } = syntheticTestSet();
  const results = runSharesProtocol({ isNovel, verdict: isNovel, scores: { perfect } }, [0.1, 0.3, 0.5], 5, 1);
  for (const r of results) {
    assert.deepEqual([r.auroc.perfect.mean, r.auroc.perfect.sd, r.threshold.f1.mean, r.threshold.f1.sd], [1, 0, 1, 0]);
    assert.equal(r.normal, 20);
    assert.ok(Math.abs(r.actualShare - r.targetShare) < 0.02);
  }
});

test('protocol: too few novel images caps the share and says so', () => {
  const isNovel = Uint8Array.from({ length: 25 }, (_, i) => (i >= 20 ? 1 : 0));
  const [r] = runSharesProtocol({ isNovel, verdict: isNovel, scores: {} }, [0.5], 2, 1);
  assert.equal(r.novel, 5);
  assert.equal(r.capped, true);
  assert.equal(r.actualShare, 0.2);
});

test('protocol: the same seed draws the same sets, another seed other sets', () => {
  const { isNovel, noise } = syntheticTestSet();
  const verdict = Uint8Array.from(noise, (v) => (v > 0.5 ? 1 : 0));
  const run = (seed: number) => runSharesProtocol({ isNovel, verdict, scores: { noise } }, [0.2, 0.4], 6, seed);
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7)[0].auroc.noise, run(8)[0].auroc.noise);
  assert.ok(run(7)[0].auroc.noise.sd > 0);
});

test('combineScores: z-scores and reference percentiles come from the reference images only', () => {
  const reference = { reconLoss: Float32Array.from([1, 2, 3]), dOfR: Float32Array.from([0.75, 0.5, 0.25]), dOfX: new Float32Array(3) };
  const testScores = { reconLoss: Float32Array.from([2, 10]), dOfR: Float32Array.from([0.5, 0]), dOfX: new Float32Array(2) };
  const { scores, normalisation, skipped } = combineScores(testScores, reference, 'ref');
  assert.deepEqual(skipped, []);
  assert.equal(normalisation.reconLoss.mean, 2);
  const sdRecon = Math.sqrt(2 / 3);
  const sdD = Math.sqrt(0.125 / 3);
  assert.ok(Math.abs(scores.zMix[0] - 0) < 1e-9); // both at the reference mean
  assert.ok(Math.abs(scores.zMix[1] - (8 / sdRecon + 0.5 / sdD)) < 1e-5);
  assert.deepEqual(Array.from(scores.rankMix), [0.5, 1]); // median of both → 1/2; above all → 1

  const flat = { ...reference, dOfR: Float32Array.from([1, 1, 1]) };
  const degenerate = combineScores(testScores, flat, 'ref');
  assert.equal(degenerate.scores.zMix, undefined);
  assert.match(degenerate.skipped[0], /^zMix: a reference sd is 0/);
});

test('trainingReference: images of the digit only, at most the number asked, reproducible', () => {
  const per = 28 * 28;
  const labels = Uint8Array.from({ length: 30 }, (_, i) => i % 3);
  const images = Float32Array.from({ length: 30 * per }, (_, i) => Math.floor(i / per) / 100);
  const ref = trainingReference({ images, labels, count: 30 }, 1, 4, 5)!;
  assert.equal(ref.count, 4);
  for (let k = 0; k < 4; k++) assert.equal(Math.round(ref.images[k * per] * 100) % 3, 1);
  assert.deepEqual(trainingReference({ images, labels, count: 30 }, 1, 4, 5)!.images, ref.images);
  assert.equal(trainingReference({ images, labels, count: 30 }, 1, 0, 5), undefined);
});
