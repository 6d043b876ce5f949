/**
 * The second control every verdict must beat (the first is kNN on raw pixels): the same kNN verdict computed with the
 * run's networks at their initial weights. The networks are built from the run's seed exactly as training built
 * them, BatchNorm's statistics are taken on the run's stored training pictures (models/batchnorm-statistics.ts),
 * and the memory is chosen by the run's own rule (a coreset of memoryCoreset pictures, or all of the stored sample)
 * in those untrained features. Only the trained weights differ from the verdict, so the gap between the two rows is
 * what training earned.
 */
import * as tf from '@tensorflow/tfjs';
import { setBatchNormStatistics } from '../models/batchnorm-statistics';
import { coreset } from '../score/coreset';
import { batchesOf, disposeFeatureMemory, featureSpaceOf, FeatureMemory, memoryDistances, memoryFromBank } from '../score/feature-memory';
import { OpenedRun } from '../run/open';
import { createNets, disposeNets } from '../train/nets';

/** A control's scorer: distances of pictures (HWC in [0, 1], concatenated) to the untrained memory. */
export interface UntrainedControl {
  distances(pixels: Float32Array, count: number): Float32Array;
  dispose(): void;
}

export function untrainedControl(opened: OpenedRun): UntrainedControl {
  const { model, train } = opened.config;
  const nets = createNets(model, train);
  let memory: FeatureMemory | undefined;
  try {
    const pictures = opened.memoryImages();
    // R's only: the verdict's features are R's first block, and D's statistics would change no number here.
    setBatchNormStatistics(nets.r, () => batchesOf(pictures));
    const space = featureSpaceOf(nets, train);
    const chosen = coreset(space, pictures, train.memoryCoreset > 0 ? train.memoryCoreset : pictures.count, train.seed);
    memory = memoryFromBank(space, chosen.features, chosen.images.count, train.neighbours);
  } catch (err) {
    disposeNets(nets);
    throw err;
  }
  const { inputSize: size, channels } = model;
  return {
    distances(pixels, count) {
      const d = tf.tidy(() => memoryDistances(memory!, tf.tensor4d(pixels, [count, size, size, channels])));
      try {
        return d.dataSync() as Float32Array;
      } finally {
        d.dispose();
      }
    },
    dispose() {
      disposeFeatureMemory(memory);
      disposeNets(nets);
    },
  };
}
