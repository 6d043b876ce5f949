/**
 * What a Detector scores with: TensorFlow.js with all of R and D (tfjs-engine.ts, loaded only when chosen), or, for a
 * knn or knnRotation verdict without details on the default backend, the compiled kernels with R's first block (and the
 * rotation net) alone (compiled-engine.ts, which loads no TensorFlow.js: a cold knn or knnRotation score never does).
 */
import type { BackendInfo } from '../backend-choice';
import type { RunMaps } from './maps';

/** An engine's numbers for a batch of pictures. */
export interface EngineScores {
  /** The run's verdict score of each picture. */
  novelty: Float32Array;
  /** With details: R's reconstruction loss, D(R(x)) and D(x). */
  details?: { reconLoss: Float32Array; dOfR: Float32Array; dOfX: Float32Array };
  /** With `pooled` asked, where the engine has them: the pictures' pooled first block, for the maps to reuse. */
  pooled?: Float32Array;
}

export interface Engine {
  backend: BackendInfo;
  /**
   * Scores `count` pictures (HWC, [0, 1], the run's shape, concatenated); with `details` also R's loss and D's
   * outputs, and R's reconstructions into `reconstructions` when given.
   */
  score(pixels: Float32Array, count: number, want: { details?: boolean; reconstructions?: Float32Array; pooled?: boolean }): EngineScores;
  /** The run's anomaly maps, built on first use; null where the engine cannot make them. */
  maps(): RunMaps | null;
  dispose(): void;
}
