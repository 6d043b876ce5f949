import * as tf from '@tensorflow/tfjs';

/** A kernel of our own (not a tfjs one): the LeakyReLU gradient in one pass over the wasm heap. */
export const LEAKY_RELU_GRAD = 'AloccLeakyReluGrad';

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/** dx = dy where x > 0, alpha·dy elsewhere. */
export const leakyReluGradKernel: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const alpha = (attrs as unknown as { alpha: number }).alpha;
  const heap = backend as unknown as HeapBackend;
  const out = heap.makeOutput(x.shape, 'float32');
  const [g, v, o] = [heap.typedArrayFromHeap(dy), heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(out)];
  for (let i = 0; i < o.length; i++) o[i] = v[i] > 0 ? g[i] : alpha * g[i];
  return out;
};

/**
 * tfjs-core's LeakyReLU gradient is Greater, Multiply and Select over the whole activation (three passes, three
 * buffers); D and R run it ~50 times per step. Where `useKernel()` holds (wasm with our kernels) this one runs the
 * kernel above instead; elsewhere the stock gradient.
 */
export function leakyReluGradient(stock: tf.GradConfig, useKernel: () => boolean): tf.GradConfig {
  return {
    ...stock,
    gradFunc: (dy, saved, attrs) => {
      if (!useKernel() || (dy as tf.Tensor).dtype !== 'float32' || !(dy as tf.Tensor).shape.every((d, i) => d === saved[0].shape[i])) {
        return stock.gradFunc(dy, saved, attrs);
      }
      return { x: () => tf.engine().runKernel(LEAKY_RELU_GRAD, { dy: dy as tf.Tensor, x: saved[0] }, attrs) as tf.Tensor };
    },
  };
}

/** dy where x > 0, else alpha·dy: our one-pass kernel where the active backend has it, tensor ops elsewhere. */
export function maskedGradient(dy: tf.Tensor, x: tf.Tensor, alpha: number): tf.Tensor {
  const kernel = tf.getKernel(LEAKY_RELU_GRAD, tf.getBackend());
  if (kernel && dy.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape)) {
    return tf.engine().runKernel(LEAKY_RELU_GRAD, { dy, x }, { alpha } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return alpha === 0 ? tf.mul(dy, tf.step(x)) : tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha));
}
