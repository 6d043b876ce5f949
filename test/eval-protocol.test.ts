import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TRAIN_CONFIG } from '../src/config';
import { builtInTrainingImages } from '../src/data/source';
import { splitTraining } from '../src/train/dataset';
import { novelCountForShare, runSharesProtocol, sampleWithoutReplacement, seededRandom } from '../src/eval/protocol';

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

test("the run's split: validation images are never training images, and the same seed splits the same way", () => {
  const all = builtInTrainingImages({ source: 'mnist', class: 1, folder: null });
  const settings = { ...DEFAULT_TRAIN_CONFIG, limit: 200 };
  const { train, validation } = splitTraining(all, settings);
  assert.equal(train.count + validation.count, 200);
  assert.equal(validation.count, 20);
  const key = (px: Uint8Array, i: number) => Array.from(px.subarray(i * 784, (i + 1) * 784)).join(',');
  const trained = new Set(Array.from({ length: train.count }, (_, i) => key(train.pixels, i)));
  for (let i = 0; i < validation.count; i++) assert.ok(!trained.has(key(validation.pixels, i)));
  assert.deepEqual(splitTraining(all, settings).validation.pixels, validation.pixels);
  assert.notDeepEqual(splitTraining(all, { ...settings, seed: 7 }).validation.pixels, validation.pixels);
  // Every one of the first 200 images is used exactly once.
  const used = new Set([...Array.from({ length: train.count }, (_, i) => key(train.pixels, i)), ...Array.from({ length: 20 }, (_, i) => key(validation.pixels, i))]);
  const firstKeys = new Set(Array.from({ length: 200 }, (_, i) => key(all.pixels, i)));
  assert.deepEqual([...used].sort(), [...firstKeys].sort());
});

test('share F1 takes the normal class as positive, as the paper does', () => {
  const isNovel = Uint8Array.from({ length: 200 }, (_, i) => (i < 100 ? 0 : 1));
  const scores = { s: Float64Array.from(isNovel) };
  // Flagging every image novel finds no normal image: F1 0 with normal positive (it would be 0.18 with novel positive).
  const allNovel = runSharesProtocol({ isNovel, verdict: new Uint8Array(200).fill(1), scores }, [0.1], 3, 1);
  assert.equal(allNovel[0].threshold.f1.mean, 0);
  // Flagging none: every normal image found, 1/10 of the set wrongly kept: precision 100/111.
  const none = runSharesProtocol({ isNovel, verdict: new Uint8Array(200), scores }, [0.1], 3, 1);
  assert.ok(Math.abs(none[0].threshold.precision.mean - 100 / 111) < 1e-12);
  assert.equal(none[0].threshold.recall.mean, 1);
});
