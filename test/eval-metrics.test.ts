import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { auroc, flagAbove, meanSd, precisionRecallF1, toNoveltyScores } from '../src/eval/metrics';

/** The definition, pair by pair: P(score of a positive > score of a negative) + 1/2 P(equal). */
function bruteForceAuroc(scores: number[], labels: boolean[]): number {
  let wins = 0, pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!labels[i]) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j]) continue;
      pairs++;
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

test('auroc: hand-computed cases, ties counted one half', () => {
  // Positives {2, 3} vs negatives {1, 2}: 1 + 1/2 + 1 + 1 = 3.5 of 4 pairs.
  assert.equal(auroc([1, 2, 2, 3], [0, 0, 1, 1]), 0.875);
  // scikit-learn's roc_auc_score example.
  assert.equal(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  // Positives {1, 2} vs negatives {1, 1, 2}: (1/2 + 1/2 + 0) + (1 + 1 + 1/2) = 3.5 of 6.
  assert.ok(Math.abs(auroc([1, 1, 1, 2, 2], [true, false, false, true, false]) - 3.5 / 6) < 1e-15);
});

test('auroc: all-equal scores give 0.5, perfect 1, reversed 0', () => {
  assert.equal(auroc([7, 7, 7, 7, 7], [1, 0, 1, 0, 0]), 0.5);
  assert.equal(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
});

test('auroc: NaN when a class is empty or a score is NaN', () => {
  assert.ok(Number.isNaN(auroc([1, 2, 3], [1, 1, 1])));
  assert.ok(Number.isNaN(auroc([1, 2, 3], [0, 0, 0])));
  assert.ok(Number.isNaN(auroc([1, NaN, 3], [0, 1, 1])));
  assert.throws(() => auroc([1, 2], [1]), (err: unknown) => err instanceof RangeError && err.message === 'auroc: 2 scores but 1 labels');
});

test('auroc equals the pairwise definition on random data with many ties, and flips under negation', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.boolean()), { minLength: 2, maxLength: 60 }),
      (rows) => {
        const scores = rows.map((r) => r[0]);
        const labels = rows.map((r) => r[1]);
        if (!labels.includes(true) || !labels.includes(false)) return;
        const a = auroc(scores, labels);
        assert.ok(Math.abs(a - bruteForceAuroc(scores, labels)) < 1e-12);
        assert.ok(Math.abs(auroc(toNoveltyScores(scores, 'lower'), labels) - (1 - a)) < 1e-12);
      },
    ),
  );
});

test('precisionRecallF1: counts and ratios', () => {
  // truth:  N N N n n n  (N novel)   verdict: N N n N n n → tp 2, fn 1, fp 1, tn 2.
  const c = precisionRecallF1([1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0]);
  assert.deepEqual([c.tp, c.fp, c.tn, c.fn], [2, 1, 2, 1]);
  assert.equal(c.precision, 2 / 3);
  assert.equal(c.recall, 2 / 3);
  assert.ok(Math.abs(c.f1 - 2 / 3) < 1e-15);
  // One right of three flagged, one of two novel images found: precision 1/3, recall 1/2, F1 2·(1/6)/(5/6) = 0.4.
  const few = precisionRecallF1([1, 1, 1, 0], [1, 0, 0, 1]);
  assert.deepEqual([few.tp, few.fp, few.tn, few.fn], [1, 2, 0, 1]);
  assert.ok(Math.abs(few.precision - 1 / 3) < 1e-15 && few.recall === 0.5 && Math.abs(few.f1 - 0.4) < 1e-15);
  // Nothing flagged: precision and F1 are 0, not NaN.
  const none = precisionRecallF1([0, 0, 0], [1, 0, 1]);
  assert.deepEqual([none.precision, none.recall, none.f1], [0, 0, 0]);
  // No novel images at all: recall 0, not NaN.
  const noNovel = precisionRecallF1([1, 0], [0, 0]);
  assert.deepEqual([noNovel.tp, noNovel.fp, noNovel.tn, noNovel.fn, noNovel.precision, noNovel.recall, noNovel.f1], [0, 1, 1, 0, 0, 0, 0]);
  assert.throws(() => precisionRecallF1([1, 0], [1]), (err: unknown) => err instanceof RangeError && err.message === 'precisionRecallF1: 2 verdicts but 1 labels');
});

test('toNoveltyScores negates D-like scores only, and copies', () => {
  const raw = [0.25, -1, 3];
  assert.deepEqual(Array.from(toNoveltyScores(raw, 'higher')), [0.25, -1, 3]);
  assert.deepEqual(Array.from(toNoveltyScores(raw, 'lower')), [-0.25, 1, -3]);
  assert.deepEqual(raw, [0.25, -1, 3]);
});

test('flagAbove is strict; meanSd uses the sample standard deviation', () => {
  assert.deepEqual([...flagAbove([0.1, 0.5, 0.6], 0.5)], [0, 0, 1]);
  const m = meanSd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(m.mean, 5);
  assert.ok(Math.abs(m.sd - Math.sqrt(32 / 7)) < 1e-12);
  assert.equal(meanSd([3]).sd, 0);
  const empty = meanSd([]);
  assert.ok(Number.isNaN(empty.mean) && Number.isNaN(empty.sd) && empty.n === 0);
});
