import { mulberry32 } from '../data/random';
import { auroc, Flag, meanSd, MeanSd, precisionRecallF1 } from './metrics';

/** Shares of novel images in the paper's test sets (Sabokrou et al. 2018, MNIST F1 table). */
export const PAPER_NOVEL_SHARES = [0.1, 0.2, 0.3, 0.4, 0.5] as const;

/** The same seed draws the same test sets on every machine. */
export const seededRandom: (seed: number) => () => number = mulberry32;

/** `k` distinct items of `from`, uniformly at random (partial Fisher-Yates on a copy). */
export function sampleWithoutReplacement(from: ArrayLike<number>, k: number, random: () => number): Uint32Array {
  const pool = Uint32Array.from(from);
  const take = Math.min(k, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    const t = pool[i];
    pool[i] = pool[j];
    pool[j] = t;
  }
  return pool.slice(0, take);
}

/** Novel images to add to `normal` normal ones so that they make `share` of the set. */
export function novelCountForShare(normal: number, share: number): number {
  return Math.round((normal * share) / (1 - share));
}

export interface ShareResult {
  /** Asked-for share of novel images, e.g. 0.3. */
  targetShare: number;
  /** Share actually reached: lower than asked when the test set has too few novel images (see `capped`). */
  actualShare: number;
  capped: boolean;
  /** Images per drawn set: every normal test image, plus `novel` drawn ones. */
  normal: number;
  novel: number;
  draws: number;
  /**
   * Verdicts "reconstruction loss > calibrated threshold → novel", over the draws, scored with the NORMAL class as
   * positive, as the ALOCC paper and its successors (GPND, OCGAN) report F1 for this protocol.
   */
  threshold: { precision: MeanSd; recall: MeanSd; f1: MeanSd };
  /** AUROC of each candidate score, over the draws. */
  auroc: Record<string, MeanSd>;
}

export interface ProtocolInput {
  isNovel: Uint8Array;
  /** Threshold verdicts, one per test image (1 = novel). */
  verdict: ArrayLike<Flag>;
  /** Novelty-oriented scores (larger = more novel) by name, one per test image. */
  scores: Record<string, ArrayLike<number>>;
}

/**
 * The paper's protocol: every normal test image plus novel ones drawn at random so that they make `share` of the set;
 * F1 of the threshold verdict and AUROC of each score, mean ± sd over `draws` draws. Each share has its own seeded
 * stream, so adding a share or a draw leaves the others' sets unchanged.
 */
export function runSharesProtocol(input: ProtocolInput, shares: readonly number[], draws: number, seed: number): ShareResult[] {
  const normalIdx: number[] = [];
  const novelIdx: number[] = [];
  input.isNovel.forEach((v, i) => (v ? novelIdx : normalIdx).push(i));
  const names = Object.keys(input.scores);

  return shares.map((share, shareIndex) => {
    const random = seededRandom(seed + 7919 * (shareIndex + 1));
    const wanted = novelCountForShare(normalIdx.length, share);
    const novel = Math.min(wanted, novelIdx.length);
    const size = normalIdx.length + novel;
    const precision: number[] = [], recall: number[] = [], f1: number[] = [];
    const aurocs: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const predNormal = new Uint8Array(size);
    const isNormal = new Uint8Array(size);
    const truth = new Uint8Array(size);
    const score = new Float64Array(size);
    for (let d = 0; d < draws; d++) {
      const subset = [...normalIdx, ...sampleWithoutReplacement(novelIdx, novel, random)];
      subset.forEach((img, i) => {
        predNormal[i] = input.verdict[img] ? 0 : 1;
        truth[i] = input.isNovel[img];
        isNormal[i] = 1 - truth[i];
      });
      const c = precisionRecallF1(predNormal, isNormal);
      precision.push(c.precision);
      recall.push(c.recall);
      f1.push(c.f1);
      for (const name of names) {
        const all = input.scores[name];
        subset.forEach((img, i) => (score[i] = all[img]));
        aurocs[name].push(auroc(score, truth));
      }
    }
    return {
      targetShare: share,
      actualShare: size > 0 ? novel / size : NaN,
      capped: novel < wanted,
      normal: normalIdx.length,
      novel,
      draws,
      threshold: { precision: meanSd(precision), recall: meanSd(recall), f1: meanSd(f1) },
      auroc: Object.fromEntries(names.map((n) => [n, meanSd(aurocs[n])])),
    };
  });
}
