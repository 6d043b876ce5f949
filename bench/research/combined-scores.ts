import { ImageScores } from '../../src/score/scorer';
import { NovelDirection, toNoveltyScores } from '../../src/eval/metrics';

/** A per-image novelty score the report rates. */
export interface ScoreDefinition {
  /** Key in the report, e.g. 'dOfR'. */
  name: string;
  /** Short column header, e.g. 'D(R(x))'. */
  label: string;
  description: string;
  /** Which way the raw value points for novel images. */
  novelWhen: NovelDirection;
}

export const BASE_SCORES: ScoreDefinition[] = [
  { name: 'reconLoss', label: 'recon loss', description: 'BCE between R(x) and x, mean over pixels', novelWhen: 'higher' },
  { name: 'dOfR', label: 'D(R(x))', description: "D's belief that R's reconstruction is of the target digit (the paper's score)", novelWhen: 'lower' },
  { name: 'dOfX', label: 'D(x)', description: "D's belief that the image itself is of the target digit", novelWhen: 'lower' },
];

export const KNN_SCORE: ScoreDefinition = {
  name: 'knn',
  label: 'kNN in R',
  description: "mean cosine distance to the nearest training images in the features of R's first encoder block",
  novelWhen: 'higher',
};

export const COMBINED_SCORES: ScoreDefinition[] = [
  {
    name: 'zMix',
    label: 'z-mix',
    description: 'z(recon loss) + z(−D(R(x))), each z-scored with the mean and sd over the reference images',
    novelWhen: 'higher',
  },
  {
    name: 'rankMix',
    label: 'rank-mix',
    description: 'mean of the reference percentiles of recon loss and of −D(R(x)) (ties count 1/2)',
    novelWhen: 'higher',
  },
];

/** Label-free images of the target digit, never test images: where the combinations' normalisation comes from. */
export interface ReferenceImages {
  images: Float32Array;
  count: number;
  /** Says what these images are, for the report. */
  source: string;
}

export interface Normalisation {
  source: string;
  count: number;
  /** Mean and population sd of each novelty-oriented score over the reference images. */
  reconLoss: { mean: number; sd: number };
  negDOfR: { mean: number; sd: number };
}

function moments(values: Float64Array): { mean: number; sd: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, sd: Math.sqrt(sq / values.length) };
}

/** Share of `sortedRef` below v, ties counting 1/2: the reference percentile (0-1) of v. */
function referencePercentile(sortedRef: Float64Array, v: number): number {
  const lowerBound = (strict: boolean) => {
    let lo = 0, hi = sortedRef.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (strict ? sortedRef[mid] < v : sortedRef[mid] <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const below = lowerBound(true);
  const equal = lowerBound(false) - below;
  return (below + equal / 2) / sortedRef.length;
}

export interface CombinedScores {
  normalisation: Normalisation;
  /** Novelty-oriented, by name; a combination is missing when its statistics are degenerate (see `skipped`). */
  scores: Record<string, Float64Array>;
  skipped: string[];
}

/**
 * The combinations of recon loss and D(R(x)), normalised with statistics of the reference images only, so nothing
 * about the test set's labels leaks into them.
 */
export function combineScores(test: Pick<ImageScores, 'reconLoss' | 'dOfR'>, reference: Pick<ImageScores, 'reconLoss' | 'dOfR'>, source: string): CombinedScores {
  const refRecon = toNoveltyScores(reference.reconLoss, 'higher');
  const refD = toNoveltyScores(reference.dOfR, 'lower');
  const recon = toNoveltyScores(test.reconLoss, 'higher');
  const negD = toNoveltyScores(test.dOfR, 'lower');
  const normalisation: Normalisation = {
    source,
    count: refRecon.length,
    reconLoss: moments(refRecon),
    negDOfR: moments(refD),
  };
  const scores: Record<string, Float64Array> = {};
  const skipped: string[] = [];

  const { reconLoss: r, negDOfR: d } = normalisation;
  if (r.sd > 0 && d.sd > 0 && Number.isFinite(r.sd + d.sd)) {
    scores.zMix = recon.map((v, i) => (v - r.mean) / r.sd + (negD[i] - d.mean) / d.sd);
  } else {
    skipped.push(`zMix: a reference sd is 0 or not finite (recon ${r.sd}, D(R(x)) ${d.sd})`);
  }
  if (refRecon.length > 0) {
    const sortedRecon = refRecon.slice().sort();
    const sortedD = refD.slice().sort();
    scores.rankMix = recon.map((v, i) => (referencePercentile(sortedRecon, v) + referencePercentile(sortedD, negD[i])) / 2);
  } else {
    skipped.push('rankMix: no reference images');
  }
  return { normalisation, scores, skipped };
}
