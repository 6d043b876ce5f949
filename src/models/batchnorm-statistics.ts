import * as tf from '@tensorflow/tfjs';

/**
 * Sets every BatchNorm layer's moving mean and variance to the exact statistics of its input over `images`, layer by
 * layer in the model's order (each layer sees its input as the layers before it, already set, make it in inference
 * mode). Why: the untrained control (eval's "untrained networks" row) must be the run's networks at their initial
 * weights with BatchNorm taken on the training pictures, so that only the trained weights differ, not the
 * normalisation (BatchNorm's initial mean 0, variance 1 would hand the control an unfair handicap).
 * `images` yields batches [b, s, s, c] in [0, 1]; it is called once per BatchNorm layer. Returns the layers set.
 */
export function setBatchNormStatistics(model: tf.LayersModel, images: () => Iterable<tf.Tensor4D>): number {
  const layers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  for (const layer of layers) {
    const upTo = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
    const channels = (layer.input as tf.SymbolicTensor).shape[3]!;
    const sum = new Float64Array(channels);
    const sumSq = new Float64Array(channels);
    let count = 0;
    for (const x of images()) {
      const [s, sq, n] = tf.tidy(() => {
        const y = (upTo.apply(x, { training: false }) as tf.Tensor4D).reshape([-1, channels]);
        return [tf.sum(y, 0).dataSync(), tf.sum(tf.square(y), 0).dataSync(), y.shape[0]] as const;
      });
      x.dispose();
      for (let c = 0; c < channels; c++) {
        sum[c] += s[c];
        sumSq[c] += sq[c];
      }
      count += n;
    }
    if (count === 0) throw new Error('setBatchNormStatistics: no images');
    const mean = Float32Array.from(sum, (v) => v / count);
    const variance = Float32Array.from(sumSq, (v, c) => Math.max(0, v / count - mean[c] * mean[c]));
    // BatchNormalization's weights: gamma, beta, moving mean, moving variance (center and scale on, as built here).
    const [gamma, beta] = layer.getWeights();
    const stats = [tf.tensor1d(mean), tf.tensor1d(variance)];
    layer.setWeights([gamma, beta, ...stats]);
    tf.dispose(stats);
  }
  return layers.length;
}
