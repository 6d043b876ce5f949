import * as tf from '@tensorflow/tfjs';

/**
 * Most bytes of one BatchNorm layer's inputs kept for the next layer's pass (over all the pictures): at 28×28 the
 * second layer's inputs for 4,096 pictures (51 MB), so the third layer's pass starts from them instead of running the
 * first two convs again (0.25 s of CPU of ~0.9 s an epoch); the first layer's (103 MB) are cheaper to recompute.
 */
const KEPT_INPUT_BYTES = 64 << 20;

/**
 * The layers from `from` (a layer of `model`) up to the one before `to`, when they form a chain (each takes the
 * previous one's output alone); else null.
 */
function chainBetween(model: tf.LayersModel, from: tf.layers.Layer, to: tf.layers.Layer): tf.layers.Layer[] | null {
  const i = model.layers.indexOf(from);
  const j = model.layers.indexOf(to);
  if (i < 0 || j <= i) return null;
  const chain = model.layers.slice(i, j);
  for (let k = 1; k <= chain.length; k++) {
    const next = k < chain.length ? chain[k] : to;
    if (next.inboundNodes.length !== 1 || next.input !== chain[k - 1].output) return null;
  }
  return chain;
}

/**
 * Sets every BatchNorm layer's moving mean and variance to the exact statistics of its input over `images`, layer by
 * layer in the model's order (each layer sees its input as the layers before it, already set, make it in inference
 * mode). Why: the untrained control (eval's "untrained networks" row) must be the run's networks at their initial
 * weights with BatchNorm taken on the training pictures, so that only the trained weights differ, not the
 * normalisation (BatchNorm's initial mean 0, variance 1 would hand the control an unfair handicap).
 * `images` yields batches [b, s, s, c] in [0, 1]; it is called once per BatchNorm layer whose input is not kept from
 * the layer before (KEPT_INPUT_BYTES: the same ops on the same values, so the same statistics). `deeper`, where given,
 * yields the pictures for every layer after the first instead (a sample: src/train/epoch-end.ts, setRStatistics).
 * Returns the layers set.
 */
export function setBatchNormStatistics(model: tf.LayersModel, images: () => Iterable<tf.Tensor4D>, deeper?: () => Iterable<tf.Tensor4D>): number {
  const layers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  // The previous layer's inputs, batch by batch, and the layers from it to this one's input.
  let kept: { from: tf.layers.Layer; batches: tf.Tensor4D[] } | null = null;
  layers.forEach((layer, index) => {
    const chain = kept && chainBetween(model, kept.from, layer);
    const upTo = chain ? null : tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
    const source: Iterable<tf.Tensor4D> = chain ? kept!.batches : index > 0 && deeper ? deeper() : images();
    const channels = (layer.input as tf.SymbolicTensor).shape[3]!;
    const sum = new Float64Array(channels);
    const sumSq = new Float64Array(channels);
    let count = 0;
    // The first layer's inputs are not the next layer's pictures where `deeper` gives those apart.
    let keep: tf.Tensor4D[] | null = index + 1 < layers.length && !(index === 0 && deeper) ? [] : null;
    let keptBytes = 0;
    try {
      for (const x of source) {
        const y = tf.tidy(() => (chain ? chain.reduce((h, l) => l.apply(h, { training: false }) as tf.Tensor, x as tf.Tensor) : upTo!.apply(x, { training: false })) as tf.Tensor4D);
        x.dispose();
        const [s, sq, n] = tf.tidy(() => {
          const flat = y.reshape([-1, channels]);
          return [tf.sum(flat, 0).dataSync(), tf.sum(tf.square(flat), 0).dataSync(), flat.shape[0]] as const;
        });
        keptBytes += y.size * 4;
        if (keep && keptBytes <= KEPT_INPUT_BYTES) keep.push(y);
        else {
          y.dispose();
          if (keep) keep = (tf.dispose(keep), null);
        }
        for (let c = 0; c < channels; c++) {
          sum[c] += s[c];
          sumSq[c] += sq[c];
        }
        count += n;
      }
    } catch (err) {
      tf.dispose([...(keep ?? []), ...(kept?.batches ?? [])]);
      throw err;
    }
    kept = keep ? { from: layer, batches: keep } : null;
    if (count === 0) throw new Error('setBatchNormStatistics: no images');
    const mean = Float32Array.from(sum, (v) => v / count);
    const variance = Float32Array.from(sumSq, (v, c) => Math.max(0, v / count - mean[c] * mean[c]));
    // BatchNormalization's weights: gamma, beta, moving mean, moving variance (center and scale on, as built here).
    const [gamma, beta] = layer.getWeights();
    const stats = [tf.tensor1d(mean), tf.tensor1d(variance)];
    layer.setWeights([gamma, beta, ...stats]);
    tf.dispose(stats);
  });
  return layers.length;
}
