import * as tf from '@tensorflow/tfjs';

/** The part of tfjs-layers' BatchNormalization this module touches: momentum is read on every training-mode call. */
interface BatchNormLike {
  momentum: number;
}

function batchNormLayers(model: tf.LayersModel): BatchNormLike[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as BatchNormLike[];
}

/**
 * Sets every BatchNorm layer's moving mean and variance to the exact statistics of the batch `x` as it flows through
 * the model in training mode (one pass with momentum 0), then restores the momentum. Why: with momentum 0.99 the
 * moving statistics need hundreds of updates to forget their initial (0, 1); a short run's inference-mode outputs
 * are then far from what the network was trained to produce. Uses training images only, no labels. Returns the
 * number of BatchNorm layers reset.
 */
export function recalibrateBatchNorm(model: tf.LayersModel, x: tf.Tensor): number {
  const layers = batchNormLayers(model);
  const saved = layers.map((l) => l.momentum);
  try {
    for (const l of layers) l.momentum = 0;
    tf.tidy(() => {
      model.apply(x, { training: true });
    });
  } finally {
    layers.forEach((l, i) => (l.momentum = saved[i]));
  }
  return layers.length;
}
