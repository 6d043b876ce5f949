/**
 * Detection metrics. Convention throughout: a larger score means "more novel", and the positive class is the novel
 * images (the digits the model was not trained on).
 */

/** A yes/no per image: true or 1 is yes; any typed array of 0/1 works (non-zero counts as yes). */
export type Flag = boolean | number;

/**
 * Area under the ROC curve, exactly: the Mann-Whitney U statistic over (positives × negatives), a tie between a
 * positive and a negative counting 1/2. O(n log n) via mid-ranks. NaN when either class is empty or a score is NaN,
 * so a diverged model reads as "no number", never as a plausible one.
 */
export function auroc(scores: ArrayLike<number>, isPositive: ArrayLike<Flag>): number {
  const n = scores.length;
  if (isPositive.length !== n) throw new RangeError(`auroc: ${n} scores but ${isPositive.length} labels`);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) return NaN;
    if (isPositive[i]) positives++;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;

  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[a] - scores[b]);

  // Sum of the positives' 1-based mid-ranks: a run of equal scores shares the mean of the ranks it spans.
  let positiveRankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && scores[order[end]] === scores[order[start]]) end++;
    const midRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) if (isPositive[order[k]]) positiveRankSum += midRank;
    start = end;
  }
  const u = positiveRankSum - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

export interface Confusion {
  /** Novel images flagged novel. */
  tp: number;
  /** Normal images flagged novel. */
  fp: number;
  tn: number;
  /** Novel images passed as normal. */
  fn: number;
  /** tp / (tp + fp); 0 when nothing is flagged (scikit-learn's zero_division=0). */
  precision: number;
  /** tp / (tp + fn); 0 when there are no novel images. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
}

/** Confusion counts and precision/recall/F1 of "novel" verdicts against the truth. */
export function precisionRecallF1(predNovel: ArrayLike<Flag>, isNovel: ArrayLike<Flag>): Confusion {
  const n = predNovel.length;
  if (isNovel.length !== n) throw new RangeError(`precisionRecallF1: ${n} verdicts but ${isNovel.length} labels`);
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (let i = 0; i < n; i++) {
    if (predNovel[i]) {
      if (isNovel[i]) tp++;
      else fp++;
    } else if (isNovel[i]) fn++;
    else tn++;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, fp, tn, fn, precision, recall, f1 };
}

/** Which way a raw score points: 'higher' when larger raw values are more novel (reconstruction loss). */
export type NovelDirection = 'higher' | 'lower';

/**
 * Raw scores turned into novelty scores (larger = more novel). D's outputs say "how much like the target class", so
 * they are negated.
 */
export function toNoveltyScores(raw: ArrayLike<number>, direction: NovelDirection): Float64Array {
  const out = Float64Array.from(raw);
  if (direction === 'lower') for (let i = 0; i < out.length; i++) out[i] = -out[i];
  return out;
}

/** Verdicts "novel" for every score strictly above the threshold. */
export function flagAbove(scores: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] > threshold ? 1 : 0;
  return out;
}

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single value. */
  sd: number;
  n: number;
}

export function meanSd(values: ArrayLike<number>): MeanSd {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN, n };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i] - mean) ** 2;
  return { mean, sd: n > 1 ? Math.sqrt(sq / (n - 1)) : 0, n };
}

/** One point of a ROC curve: the verdict "novel when score > threshold" and the rates it gives. */
export interface RocPoint {
  /** False-alarm rate: share of normal images flagged novel. */
  fpr: number;
  /** Recall: share of novel images flagged novel. */
  tpr: number;
  /** Flagging "score > threshold" gives this point; -Infinity flags every image. */
  threshold: number;
}

/**
 * Rank order of the scores, largest first, with labels checked. Null when a score is NaN or a class is empty: no
 * curve exists then, and a diverged model must not read as a plausible one.
 */
function rankedDescending(
  what: string, scores: ArrayLike<number>, isNovel: ArrayLike<Flag>,
): { order: Uint32Array; novel: number; normal: number } | null {
  const n = scores.length;
  if (isNovel.length !== n) throw new RangeError(`${what}: ${n} scores but ${isNovel.length} labels`);
  let novel = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) return null;
    if (isNovel[i]) novel++;
  }
  if (novel === 0 || novel === n) return null;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[b] - scores[a]);
  return { order, novel, normal: n - novel };
}

/**
 * Calls `visit` once per distinct score value, largest first, with the counts flagged when every image scoring at
 * least that value is flagged. Images with equal scores are never split: one threshold flags all of them or none.
 */
function forEachCut(
  scores: ArrayLike<number>, isNovel: ArrayLike<Flag>, order: Uint32Array,
  visit: (tp: number, fp: number, nextLower: number) => void,
): void {
  let tp = 0, fp = 0;
  for (let start = 0; start < order.length; ) {
    const value = scores[order[start]];
    let end = start;
    for (; end < order.length && scores[order[end]] === value; end++) {
      if (isNovel[order[end]]) tp++;
      else fp++;
    }
    visit(tp, fp, end < order.length ? scores[order[end]] : -Infinity);
    start = end;
  }
}

/**
 * The ROC curve, for drawing: (0, 0) with nothing flagged, then one point per distinct score value from the largest
 * down, ending at (1, 1) with everything flagged. Tied scores move both rates at once (a diagonal segment), so the
 * trapezoids under the curve add up to `auroc` exactly. Empty when a class is empty or a score is NaN.
 */
export function rocCurve(scores: ArrayLike<number>, isNovel: ArrayLike<Flag>): RocPoint[] {
  const ranked = rankedDescending('rocCurve', scores, isNovel);
  if (!ranked) return [];
  const { order, novel, normal } = ranked;
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: scores[order[0]] }];
  forEachCut(scores, isNovel, order, (tp, fp, nextLower) => points.push({ fpr: fp / normal, tpr: tp / novel, threshold: nextLower }));
  return points;
}

/** Where the verdict "novel when score > threshold" lies on the ROC plane, e.g. to mark the calibrated threshold. */
export function rocPointAt(scores: ArrayLike<number>, isNovel: ArrayLike<Flag>, threshold: number): RocPoint {
  const c = precisionRecallF1(flagAbove(scores, threshold), isNovel);
  return { fpr: c.fp + c.tn > 0 ? c.fp / (c.fp + c.tn) : NaN, tpr: c.tp + c.fn > 0 ? c.recall : NaN, threshold };
}

/**
 * The ROC point with the largest recall among thresholds whose false-alarm rate (share of normal images with
 * score > threshold) is at most `rate`; of equal recalls, the lowest false-alarm rate. Ties: images with equal scores
 * are flagged together or not at all, so when a run of tied scores would overshoot the rate, none of it is flagged
 * (no random tie-breaking). Null when a class is empty or a score is NaN.
 */
export function operatingPointAtFalseAlarmRate(scores: ArrayLike<number>, isNovel: ArrayLike<Flag>, rate: number): RocPoint | null {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`false-alarm rate ${rate} is not between 0 and 1`);
  let best: RocPoint | null = null;
  // The curve's rates only grow, so the last point within the rate has the largest recall, and the first point
  // reaching that recall has the smallest false-alarm rate.
  for (const p of rocCurve(scores, isNovel)) {
    if (p.fpr > rate) break;
    if (!best || p.tpr > best.tpr) best = p;
  }
  return best;
}

/** Recall (share of novel images flagged) at a false-alarm rate of at most `rate`; see operatingPointAtFalseAlarmRate. NaN when undefined. */
export function recallAtFalseAlarmRate(scores: ArrayLike<number>, isNovel: ArrayLike<Flag>, rate: number): number {
  return operatingPointAtFalseAlarmRate(scores, isNovel, rate)?.tpr ?? NaN;
}

/**
 * Area under the precision-recall curve as average precision, scikit-learn's average_precision_score: thresholds at
 * each distinct score value from the largest down (ties flagged together), AP = Σ (R_k − R_{k−1}) · P_k with R_0 = 0,
 * precision P = tp / (tp + fp) and recall R = tp / novel. A step sum, not a trapezoid, so it never overstates the
 * area. NaN when there are no novel images or a score is NaN; 1 when every image is novel (precision is 1 everywhere).
 */
export function auprc(scores: ArrayLike<number>, isNovel: ArrayLike<Flag>): number {
  const n = scores.length;
  if (isNovel.length !== n) throw new RangeError(`auprc: ${n} scores but ${isNovel.length} labels`);
  let novel = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) return NaN;
    if (isNovel[i]) novel++;
  }
  if (novel === 0) return NaN;
  if (novel === n) return 1;
  const { order } = rankedDescending('auprc', scores, isNovel)!;
  let ap = 0, previousTp = 0;
  forEachCut(scores, isNovel, order, (tp, fp) => {
    ap += ((tp - previousTp) / novel) * (tp / (tp + fp));
    previousTp = tp;
  });
  return ap;
}
