/**
 * The second control every verdict must beat (the first is kNN on raw pixels): the same verdict (kNN, or kNN plus the
 * rotation score for a knnRotation run) computed with the run's networks at their initial weights. The networks are built from the run's seed exactly as training built
 * them, BatchNorm's statistics are taken on the run's stored training pictures (models/batchnorm-statistics.ts),
 * and the memory is chosen by the run's own rule (a coreset of memoryCoreset pictures, or all of the stored sample)
 * in those untrained features. For knnRotation the untrained rotation net's BatchNorm statistics are taken on the
 * same pictures in their four turns, and both parts are standardised on the run's stored validation pictures as
 * training standardised the verdict's. Only the trained weights differ from the verdict, so the gap between the two
 * rows is what training earned.
 */
import * as tf from '@tensorflow/tfjs';
import { setBatchNormStatistics } from '../models/batchnorm-statistics';
import { coreset } from '../score/coreset';
import { batchesOf, disposeFeatureMemory, featureSpaceOf, FeatureMemory, memoryDistances, memoryFromBank } from '../score/feature-memory';
import { OpenedRun } from '../run/open';
import { createNets, disposeNets } from '../train/nets';
import { setRStatistics } from '../train/epoch-end';
import { allTurns } from '../models/rotation-net';
import { combinedNovelty, RotationCombination, rotationNovelty, scaleOf } from '../score/rotation-score';
import { floatsOf, ImageSet } from '../data/source';
import { AloccError } from '../errors';

/** A control's scorer of pictures (HWC in [0, 1], concatenated). */
export interface UntrainedControl {
  /** The control's verdict score: the untrained knn distance, or for knnRotation runs the combination of both parts. */
  distances(pixels: Float32Array, count: number): Float32Array;
  /** Its parts: the untrained knn distance and (knnRotation runs) the untrained rotation score. */
  parts(pixels: Float32Array, count: number): { knn: Float32Array; rotation?: Float32Array };
  /** knnRotation runs: the parts' validation scales, as training takes the verdict's. */
  combination?: RotationCombination;
  dispose(): void;
}

export function untrainedControl(opened: OpenedRun): UntrainedControl {
  const { model, train } = opened.config;
  const nets = createNets(model, train);
  let memory: FeatureMemory | undefined;
  try {
    const pictures = opened.memoryImages();
    // R's only: the verdict's features are R's first block, and D's statistics would change no number here.
    setRStatistics(nets.r, pictures);
    const space = featureSpaceOf(nets, train);
    const chosen = coreset(space, pictures, train.memoryCoreset > 0 ? train.memoryCoreset : pictures.count, train.seed);
    memory = memoryFromBank(space, chosen.features, chosen.images.count, train.neighbours);
  } catch (err) {
    disposeNets(nets);
    throw err;
  }
  const { inputSize: size, channels } = model;
  const knn = (pixels: Float32Array, count: number) => {
    const d = tf.tidy(() => memoryDistances(memory!, tf.tensor4d(pixels, [count, size, size, channels])));
    try {
      return d.dataSync() as Float32Array;
    } finally {
      d.dispose();
    }
  };
  let combination: RotationCombination | undefined;
  if (opened.score === 'knnRotation') {
    try {
      const turned = () => (function* () {
        for (const x of batchesOf(opened.memoryImages())) {
          const { turned, turns } = allTurns(x);
          turns.dispose();
          x.dispose();
          yield turned;
        }
      })();
      setBatchNormStatistics(nets.rotation!.net, turned);
      const validation = opened.validationImages();
      if (!validation) throw new AloccError(`${opened.dir} stores no validation pictures to calibrate the untrained control on; retrain it`);
      combination = untrainedScales(validation, knn, nets.rotation!.net, train.rotationCap);
    } catch (err) {
      disposeFeatureMemory(memory);
      disposeNets(nets);
      throw err;
    }
  }
  const parts = (pixels: Float32Array, count: number) =>
    combination ? { knn: knn(pixels, count), rotation: rotationNovelty(nets.rotation!.net, pixels, count, size, channels) } : { knn: knn(pixels, count) };
  return {
    combination,
    parts,
    distances(pixels, count) {
      const { knn, rotation } = parts(pixels, count);
      return combination ? combinedNovelty(knn, rotation!, combination) : knn;
    },
    dispose() {
      disposeFeatureMemory(memory);
      disposeNets(nets);
    },
  };
}

/** The untrained networks' knn and rotation scales on the validation pictures, as training takes the verdict's. */
function untrainedScales(validation: ImageSet, knn: (pixels: Float32Array, count: number) => Float32Array, rotation: tf.LayersModel, rotationCap: number | null): RotationCombination {
  const pixels = floatsOf(validation);
  return {
    knn: scaleOf(knn(pixels, validation.count)),
    rotation: scaleOf(rotationNovelty(rotation, pixels, validation.count, validation.size, validation.channels)),
    rotationCap,
  };
}
