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
 * Bank columns come in multiples of this: the compiled conv kernels take their fast path only when the output
 * channels are a multiple of the SIMD width (16 floats with AVX-512); with 6,068 columns the scorer ran 12× slower.
 */
const BANK_COLUMNS_MULTIPLE = 64;
/** Similarity the padding columns get from the bias, below any cosine (≥ −1), so they are never among the nearest. */
const PADDING_SIMILARITY = -3;

/** The training images' features, ready to be searched; holds two tensors (bank and bias). */
export interface FeatureMemory {
  /**
   * Unit-length features of the training images as a 1×1 convolution filter [1, 1, features, columns], zero columns
   * after the images up to a multiple of BANK_COLUMNS_MULTIPLE.
   */
  bank: tf.Tensor4D;
  /** Per column: 0 for an image, PADDING_SIMILARITY for padding. */
  bias: tf.Tensor1D;
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

/** Unit-length rows [n, f] of the features of images `x` [n, s, s, 1] (inference mode). */
function unitFeatures(features: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const f = (features.predict(x) as tf.Tensor).reshape([x.shape[0], -1]) as tf.Tensor2D;
    return tf.div(f, tf.add(tf.norm(f, 2, 1, true), 1e-12)) as tf.Tensor2D;
  });
}

/**
 * Embeds `count` training images of side `size` (grey, [0, 1], concatenated) with R's features. The bank lives on
 * the backend: 6,272 floats an image (25 MB for 1,000 images).
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
    const columns = Math.ceil(count / BANK_COLUMNS_MULTIPLE) * BANK_COLUMNS_MULTIPLE;
    const bank = tf.tidy(() => {
      const all = tf.concat(parts);
      const f = all.shape[1];
      const padded = tf.concat([tf.transpose(all), tf.zeros([f, columns - count])], 1);
      return padded.reshape([1, 1, f, columns]) as tf.Tensor4D;
    });
    const bias = tf.tidy(() => tf.concat([tf.zeros([count]), tf.fill([columns - count], PADDING_SIMILARITY)]) as tf.Tensor1D);
    return { bank, bias, images: count, k: Math.min(k, count), features };
  } finally {
    tf.dispose(parts);
  }
}

export function disposeFeatureMemory(memory: FeatureMemory | undefined): void {
  if (memory) tf.dispose([memory.bank, memory.bias]);
}

/**
 * Mean cosine distance (1 − cos) from each image of `x` [n, s, s, 1] to its k nearest training images in R's
 * features: 0 for an image equal to k training images, up to 2. A 1×1 convolution computes all the dot products at
 * once (the compiled conv kernels run it; a matMul on wasm is several times slower).
 */
export function memoryDistances(memory: FeatureMemory, x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const q = unitFeatures(memory.features, x);
    const [n, f] = q.shape;
    const columns = memory.bank.shape[3];
    const cos = tf.fused
      .conv2d({ x: q.reshape([1, n, 1, f]) as tf.Tensor4D, filter: memory.bank, bias: memory.bias, strides: 1, pad: 'valid' })
      .reshape([n, columns]) as tf.Tensor2D;
    const nearest = tf.topk(cos, memory.k).values;
    return tf.sub(1, tf.mean(nearest, 1)) as tf.Tensor1D;
  });
}
