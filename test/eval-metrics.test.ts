import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  auprc, auroc, flagAbove, meanSd, operatingPointAtFalseAlarmRate, precisionRecallF1, recallAtFalseAlarmRate, rocCurve, rocPointAt,
  toNoveltyScores,
} from '../src/eval/metrics';

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

/** Rates of the verdict "score > t", counted image by image. */
function ratesAbove(scores: number[], labels: boolean[], t: number): { fpr: number; tpr: number } {
  const novel = labels.filter(Boolean).length;
  const normal = labels.length - novel;
  let tp = 0, fp = 0;
  scores.forEach((s, i) => { if (s > t) labels[i] ? tp++ : fp++; });
  return { fpr: fp / normal, tpr: tp / novel };
}

/** Every threshold that changes a verdict: each distinct score, and below them all. */
function candidateThresholds(scores: number[]): number[] {
  return [...new Set(scores), -Infinity].sort((a, b) => b - a);
}

/**
 * scikit-learn's formulation: precision and recall at each distinct threshold t (flagging score >= t), listed with
 * recall falling, AP = Σ (R_i − R_{i+1}) · P_i with a final recall of 0.
 */
function bruteForceAveragePrecision(scores: number[], labels: boolean[]): number {
  const novel = labels.filter(Boolean).length;
  const ascending = [...new Set(scores)].sort((a, b) => a - b);
  const rows = ascending.map((t) => {
    const flagged = scores.map((s, i) => ({ s, novel: labels[i] })).filter((x) => x.s >= t);
    const tp = flagged.filter((x) => x.novel).length;
    return { recall: tp / novel, precision: tp / flagged.length };
  });
  let ap = 0;
  for (let i = 0; i < rows.length; i++) ap += (rows[i].recall - (i + 1 < rows.length ? rows[i + 1].recall : 0)) * rows[i].precision;
  return ap;
}

const labelledScores = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.boolean()), { minLength: 2, maxLength: 50 })
  .filter((rows) => rows.some((r) => r[1]) && rows.some((r) => !r[1]));

test('auprc: scikit-learn values worked by hand', () => {
  // scikit-learn's average_precision_score docs example, y_true [0 0 1 1], scores [.1 .4 .35 .8] → 0.83:
  //   t = .8:  tp 1 fp 0  P 1    R 1/2   contributes (1/2 − 0) · 1     = 1/2
  //   t = .4:  tp 1 fp 1  P 1/2  R 1/2   contributes 0
  //   t = .35: tp 2 fp 1  P 2/3  R 1     contributes (1 − 1/2) · 2/3   = 1/3
  //   t = .1:  R stays 1                 contributes 0;  AP = 5/6
  assert.ok(Math.abs(auprc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) - 5 / 6) < 1e-15);
  // Ties, scores [1 1 1 2 2] labels [1 0 0 1 0]: t = 2 flags both 2s (P 1/2, R 1/2); t = 1 flags all (P 2/5, R 1).
  //   AP = 1/2 · 1/2 + 1/2 · 2/5 = 0.45 (scikit-learn gives 0.45; splitting the ties would give another number).
  assert.ok(Math.abs(auprc([1, 1, 1, 2, 2], [1, 0, 0, 1, 0]) - 0.45) < 1e-15);
  // All scores equal: one threshold flags everything, AP = share of novel images.
  assert.ok(Math.abs(auprc([3, 3, 3, 3, 3], [1, 0, 0, 1, 0]) - 0.4) < 1e-15);
  assert.equal(auprc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  // Reversed: the novel images come last, at recall 1/2 then 1: 1/2 · 1/3 + 1/2 · 2/4 = 5/12.
  assert.ok(Math.abs(auprc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) - 5 / 12) < 1e-15);
});

test('auprc: NaN without novel images or with a NaN score, 1 when every image is novel', () => {
  assert.ok(Number.isNaN(auprc([1, 2, 3], [0, 0, 0])));
  assert.ok(Number.isNaN(auprc([1, NaN, 3], [0, 1, 1])));
  assert.equal(auprc([1, 2, 3], [1, 1, 1]), 1);
  assert.throws(() => auprc([1, 2], [1]), RangeError);
});

test('auprc equals scikit-learn\'s formulation on random data with many ties', () => {
  fc.assert(fc.property(labelledScores, (rows) => {
    const scores = rows.map((r) => r[0]);
    const labels = rows.map((r) => r[1]);
    assert.ok(Math.abs(auprc(scores, labels) - bruteForceAveragePrecision(scores, labels)) < 1e-12);
  }));
});

test('rocCurve: hand-computed points, ties as one diagonal step, all-equal scores as the chance line', () => {
  // Scores [1 1 1 2 2], labels [1 0 0 1 0]: 2 novel, 3 normal.
  assert.deepEqual(rocCurve([1, 1, 1, 2, 2], [1, 0, 0, 1, 0]), [
    { fpr: 0, tpr: 0, threshold: 2 },
    { fpr: 1 / 3, tpr: 1 / 2, threshold: 1 },
    { fpr: 1, tpr: 1, threshold: -Infinity },
  ]);
  assert.deepEqual(rocCurve([5, 5, 5], [1, 0, 1]), [{ fpr: 0, tpr: 0, threshold: 5 }, { fpr: 1, tpr: 1, threshold: -Infinity }]);
  assert.deepEqual(rocCurve([1, 2, 3], [1, 1, 1]), []);
  assert.deepEqual(rocCurve([1, NaN], [1, 0]), []);
});

test('rocCurve matches counting each threshold, and its trapezoids add up to the pairwise AUROC', () => {
  fc.assert(fc.property(labelledScores, (rows) => {
    const scores = rows.map((r) => r[0]);
    const labels = rows.map((r) => r[1]);
    const curve = rocCurve(scores, labels);
    const expected = candidateThresholds(scores).map((t) => ({ ...ratesAbove(scores, labels, t), threshold: t }));
    assert.deepEqual(curve, expected);
    let area = 0;
    for (let k = 1; k < curve.length; k++) area += ((curve[k].fpr - curve[k - 1].fpr) * (curve[k].tpr + curve[k - 1].tpr)) / 2;
    assert.ok(Math.abs(area - bruteForceAuroc(scores, labels)) < 1e-12);
    for (const p of curve) assert.deepEqual(rocPointAt(scores, labels, p.threshold), p);
  }));
});

test('recallAtFalseAlarmRate: hand-computed cases; tied scores are never split', () => {
  // Normal 0.1 … 1.0 (10 images), novel 0.5, 0.95, 2, 3.
  const normal = Array.from({ length: 10 }, (_, i) => (i + 1) / 10);
  const scores = [...normal, 0.5, 0.95, 2, 3];
  const labels = [...normal.map(() => 0), 1, 1, 1, 1];
  assert.equal(recallAtFalseAlarmRate(scores, labels, 0), 2 / 4); // score > 1.0 flags 2 and 3 only
  assert.equal(recallAtFalseAlarmRate(scores, labels, 0.1), 3 / 4); // score > 0.9: one normal (1.0), novel 0.95, 2, 3
  assert.equal(recallAtFalseAlarmRate(scores, labels, 0.15), 3 / 4);
  assert.equal(recallAtFalseAlarmRate(scores, labels, 0.6), 4 / 4); // score > 0.4: six normal images
  assert.deepEqual(operatingPointAtFalseAlarmRate(scores, labels, 0.1), { fpr: 0.1, tpr: 0.75, threshold: 0.9 });
  // Normal [1 5 5], novel [5 6]: flagging the novel 5 flags both normal 5s, so at a rate of 1/3 only the 6 is flagged.
  assert.equal(recallAtFalseAlarmRate([1, 5, 5, 5, 6], [0, 0, 0, 1, 1], 1 / 3), 1 / 2);
  assert.equal(recallAtFalseAlarmRate([1, 5, 5, 5, 6], [0, 0, 0, 1, 1], 2 / 3), 1);
  // All equal: nothing can be flagged below a rate of 1.
  assert.equal(recallAtFalseAlarmRate([4, 4, 4, 4], [0, 1, 0, 1], 0.99), 0);
  assert.equal(recallAtFalseAlarmRate([4, 4, 4, 4], [0, 1, 0, 1], 1), 1);
  assert.ok(Number.isNaN(recallAtFalseAlarmRate([1, 2], [1, 1], 0.05)));
  assert.throws(() => recallAtFalseAlarmRate([1, 2], [0, 1], 1.5), RangeError);
  assert.throws(() => recallAtFalseAlarmRate([1, 2], [0, 1], NaN), RangeError);
});

test('recallAtFalseAlarmRate is the best recall over every threshold within the rate', () => {
  fc.assert(fc.property(labelledScores, fc.double({ min: 0, max: 1, noNaN: true }), (rows, rate) => {
    const scores = rows.map((r) => r[0]);
    const labels = rows.map((r) => r[1]);
    let best = 0;
    for (const t of [Infinity, ...candidateThresholds(scores)]) {
      const r = ratesAbove(scores, labels, t);
      if (r.fpr <= rate) best = Math.max(best, r.tpr);
    }
    assert.equal(recallAtFalseAlarmRate(scores, labels, rate), best);
  }));
});

test('curves and operating points: refusals named, an empty class, the lowest false-alarm rate of equal recalls', () => {
  const rangeError = (message: string) => (err: unknown) => err instanceof RangeError && err.message === message;
  assert.throws(() => rocCurve([1, 2], [1]), rangeError('rocCurve: 2 scores but 1 labels'));
  assert.throws(() => recallAtFalseAlarmRate([1, 2, 3], [1, 0], 0.1), rangeError('rocCurve: 3 scores but 2 labels'));
  assert.throws(() => auprc([1, 2], [1, 0, 1]), rangeError('auprc: 2 scores but 3 labels'));
  for (const rate of [-0.01, 1.01, NaN]) {
    assert.throws(() => operatingPointAtFalseAlarmRate([1, 2], [0, 1], rate), rangeError(`false-alarm rate ${rate} is not between 0 and 1`));
  }
  // No novel images, like no normal ones, has no curve.
  assert.deepEqual(rocCurve([1, 2, 3], [0, 0, 0]), []);
  assert.equal(operatingPointAtFalseAlarmRate([1, 2, 3], [0, 0, 0], 0.5), null);
  // Flagging score > 2 already finds the one novel image with no false alarm; flagging more only adds false alarms.
  assert.deepEqual(operatingPointAtFalseAlarmRate([3, 2, 1], [1, 0, 0], 1), { fpr: 0, tpr: 1, threshold: 2 });
  // A rate undefined for want of a class is NaN, not 0.
  const noNovel = rocPointAt([1, 2], [0, 0], 1.5);
  assert.deepEqual([noNovel.fpr, noNovel.tpr], [0.5, NaN]);
  const noNormal = rocPointAt([1, 2], [1, 1], 1.5);
  assert.deepEqual([noNormal.fpr, noNormal.tpr], [NaN, 0.5]);
});
