import type { NoveltyScore } from '../config';
import type { ImageScores } from './scorer';

/** A per-image score that alocc computes, rates in eval and names in its reports, progress lines and charts. */
export interface ScoreDefinition {
  /** Key in reports, e.g. 'knn' or 'dOfR'. */
  name: string;
  /** Short column header. */
  label: string;
  /** The name used in sentences ("best epoch by validation …", "threshold on the …"). */
  title: string;
  description: string;
  /** Which way the raw value points for novel images. */
  novelWhen: 'higher' | 'lower';
  /**
   * The values for scored images; the local score's comes from the cell maps and the two controls' (untrained networks,
   * raw pixels) from their own memories (see evaluate).
   */
  values?: (s: ImageScores) => ArrayLike<number>;
}

const novelty = (name: NoveltyScore) => (s: ImageScores) => s.novelty[name];

/**
 * Every score alocc computes, in report order: the five a run can choose as its verdict (`--score`), D's two outputs,
 * the local score beside the verdict (its own threshold is calibrated on validation pictures at training time:
 * src/score/cell-calibration.ts), and the two controls a trained model has to beat: the same networks untrained, and
 * the network-free raw-pixel kNN.
 */
export const RATED_SCORES: ScoreDefinition[] = [
  { name: 'knn', label: 'kNN in R', title: "nearest-neighbour distance in R's features", description: "mean cosine distance to the k nearest memory images in the features of R's first encoder block", novelWhen: 'higher', values: novelty('knn') },
  { name: 'bce', label: 'recon loss', title: 'reconstruction loss (BCE)', description: "BCE between R(x) and x, mean over pixels (the seed's score)", novelWhen: 'higher', values: novelty('bce') },
  { name: 'kl', label: 'KL', title: 'KL error', description: 'BCE(R(x), x) − H(x): zero for a perfect reconstruction', novelWhen: 'higher', values: novelty('kl') },
  { name: 'mse', label: 'MSE', title: 'mean squared error', description: 'mean squared error of R(x)', novelWhen: 'higher', values: novelty('mse') },
  { name: 'ink', label: 'MSE/ink', title: 'ink-normalised error', description: '‖R(x) − x‖² / ‖x‖²', novelWhen: 'higher', values: novelty('ink') },
  { name: 'rotation', label: 'rotation', title: 'rotation score', description: "−mean log p(turn) of the picture's four quarter turns in the rotation net (GEOM's score): a turn the net cannot tell is novel", novelWhen: 'higher', values: novelty('rotation') },
  { name: 'knnRotation', label: 'kNN + rotation', title: 'kNN distance plus rotation score', description: 'the knn distance and the rotation score, each standardised on the validation pictures, summed', novelWhen: 'higher', values: novelty('knnRotation') },
  { name: 'dOfR', label: 'D(R(x))', title: "D's belief in R(x)", description: "D's belief that R's reconstruction is normal (the paper's score)", novelWhen: 'lower', values: (s) => s.dOfR },
  { name: 'dOfX', label: 'D(x)', title: "D's belief in x", description: "D's belief that the image itself is normal", novelWhen: 'lower', values: (s) => s.dOfX },
  { name: 'local', label: 'local (top cells)', title: 'local score (largest cell distances)', description: "mean of the run's localTopK largest cell distances, each cell of R's first block to the nearest memory cell at its position: reads a small defect the global kNN averages away", novelWhen: 'higher' },
  { name: 'untrainedKnn', label: 'verdict, untrained nets (control)', title: 'the verdict with untrained networks', description: "the verdict's kNN (with the rotation score, for a kNN + rotation verdict) with the run's networks at their initial weights (BatchNorm statistics from the training pictures): what training earned is the gap to it", novelWhen: 'higher' },
  { name: 'pixelKnn', label: 'kNN on pixels (baseline)', title: 'nearest-neighbour distance on raw pixels', description: 'the same kNN over the same memory images on raw pixels: no network at all', novelWhen: 'higher' },
];

/** The sentence name of a score, e.g. 'KL error'. */
export function scoreTitle(name: NoveltyScore | 'local'): string {
  return RATED_SCORES.find((s) => s.name === name)!.title;
}
