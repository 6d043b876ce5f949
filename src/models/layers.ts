import * as tf from '@tensorflow/tfjs';

/**
 * Keras' default initialisers, seeded so that one seed gives one network. Each layer gets its own stream
 * (seed + index), otherwise all kernels of one shape would start identical.
 */
export function seededInit(seed: number, index: number) {
  // +1: tfjs treats a seed of 0 as 'no seed' and falls back to Math.random.
  return tf.initializers.glorotUniform({ seed: seed * 1000 + index + 1 });
}

/** Conv2D 5×5 stride 2 'same' → BatchNorm → LeakyReLU(0.3, the Keras default): the block both nets downsample with. */
export function downsampleBlock(
  x: tf.SymbolicTensor,
  filters: number,
  name: string,
  seed: number,
  index: number,
  batchNorm = true,
): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({ filters, kernelSize: 5, strides: 2, padding: 'same', name, kernelInitializer: seededInit(seed, index) })
    .apply(x) as tf.SymbolicTensor;
  if (batchNorm) y = tf.layers.batchNormalization({ name: `${name}_bn` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.leakyReLU({ alpha: 0.3, name: `${name}_lrelu` }).apply(y) as tf.SymbolicTensor;
}
