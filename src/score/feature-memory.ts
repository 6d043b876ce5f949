import * as tf from '@tensorflow/tfjs';

/**
 * The 'knn' novelty score: how far an image is, in R's own features, from the run's training images. Measured on all
 * ten digits (docs/research.md, "Nearest neighbours in R's features"): reconstruction errors stall at a mean AUROC of
 * about 0.87 because R reconstructs other digits nearly as well as its own, while the mean cosine distance to the
 * nearest training images in the output of R's first encoder block reaches about 0.98.
 *
 * R's layer whose output is the feature space: the first encoder block (Conv 5×5 s2 → BatchNorm → LeakyReLU).
 */
export const MEMORY_LAYER = 'g_encoder_h0_conv_lrelu';

/**
 * Queries are searched in groups padded to a multiple of this many: the compiled conv kernels take their fast path
 * only when the output channels are a multiple of the SIMD width (16 floats with AVX-512).
 */
const QUERY_MULTIPLE = 64;

/** The training images' features, ready to be searched; holds one tensor (the bank). */
export interface FeatureMemory {
  /** Unit-length features of the training images, one per row, as a conv input [1, images, 1, features]. */
  bank: tf.Tensor4D;
  /** Training images in the bank. */
  images: number;
  /** Nearest images averaged over. */
  k: number;
  /** R up to MEMORY_LAYER, sharing R's weights (never dispose it: that would dispose R's layers). */
  features: tf.LayersModel;
}

const featureModels = new WeakMap<tf.LayersModel, tf.LayersModel>();

function featureModel(r: tf.LayersModel): tf.LayersModel {
  let m = featureModels.get(r);
  if (!m) {
    m = tf.model({ inputs: r.inputs, outputs: r.getLayer(MEMORY_LAYER).output as tf.SymbolicTensor, name: `${r.name}_features` });
    featureModels.set(r, m);
  }
  return m;
}

/**
 * Unit-length rows [n, f] of the features of images `x` [n, s, s, 1] (inference mode): MEMORY_LAYER's output
 * averaged over 2×2 cells (14×14×32 → 7×7×32, 1,568 numbers an image). Why pooled: the full 6,272 made a digit's
 * memory 150 MB and scoring 4× slower (a cold `alocc score` 3.2 s, a folder 435 images/s), for no better ranking
 * (docs/research.md).
 */
function unitFeatures(features: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const pooled = tf.avgPool(features.predict(x) as tf.Tensor4D, 2, 2, 'valid');
    const f = pooled.reshape([x.shape[0], -1]) as tf.Tensor2D;
    return tf.div(f, tf.add(tf.norm(f, 2, 1, true), 1e-12)) as tf.Tensor2D;
  });
}

/**
 * Embeds `count` training images of side `size` (grey, [0, 1], concatenated) with R's features. The bank lives on
 * the backend: 1,568 floats an image (38 MB for a full digit).
 */
export function buildFeatureMemory(r: tf.LayersModel, pixels: Float32Array, count: number, size: number, k: number, batchSize = 256): FeatureMemory {
  if (!Number.isInteger(k) || k < 1) throw new Error(`buildFeatureMemory: k must be a positive integer, got ${k}`);
  if (count < 1) throw new Error('buildFeatureMemory: no training images');
  const features = featureModel(r);
  const per = size * size;
  const parts: tf.Tensor2D[] = [];
  try {
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      parts.push(tf.tidy(() => unitFeatures(features, tf.tensor4d(pixels.subarray(start * per, (start + n) * per), [n, size, size, 1]))));
    }
    const bank = tf.tidy(() => {
      const all = tf.concat(parts);
      return all.reshape([1, count, 1, all.shape[1]]) as tf.Tensor4D;
    });
    return { bank, images: count, k: Math.min(k, count), features };
  } finally {
    tf.dispose(parts);
  }
}

export function disposeFeatureMemory(memory: FeatureMemory | undefined): void {
  memory?.bank.dispose();
}

/**
 * Mean cosine distance (1 − cos) from each image of `x` [n, s, s, 1] to its k nearest training images in R's
 * features: 0 for an image equal to k training images, up to 2. A 1×1 convolution computes all the dot products at
 * once (the compiled conv kernels run it; a matMul on wasm is several times slower), with the bank as its input and
 * the queries as its filter: the kernels stream the input once and keep the filter in cache, so the bank is read
 * once per batch of queries rather than once per few rows.
 */
export function memoryDistances(memory: FeatureMemory, x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const q = unitFeatures(memory.features, x);
    const [n, f] = q.shape;
    const padded = Math.ceil(n / QUERY_MULTIPLE) * QUERY_MULTIPLE;
    const filter = tf.concat([tf.transpose(q), tf.zeros([f, padded - n])], 1).reshape([1, 1, f, padded]) as tf.Tensor4D;
    // [1, images, 1, padded] → the n real queries' rows [n, images].
    const cosT = tf.conv2d(memory.bank, filter, 1, 'valid').reshape([memory.images, padded]);
    const cos = tf.transpose(tf.slice(cosT, [0, 0], [memory.images, n])) as tf.Tensor2D;
    const nearest = tf.topk(cos, memory.k).values;
    return tf.sub(1, tf.mean(nearest, 1)) as tf.Tensor1D;
  });
}
