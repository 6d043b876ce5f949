import * as tf from '@tensorflow/tfjs';
import { nativeColumnSums } from './native-ops';

/** The part of the wasm backend these kernels use: tensors live in its heap and JS can read and write them there. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/**
 * Sum and Mean over the leading axes (batch and spatial: bias and BatchNorm gradients, BatchNorm statistics) as one
 * pass over the wasm heap in JS, accumulating rows of c values. wasm's own kernels first transpose the reduced axes
 * innermost, and a matrix product ones[1, n] × x[n, c] has to repack x every call; both are slower. Every other
 * reduction goes to the stock kernel.
 */
export function leadingAxesReduction(kernel: 'Sum' | 'Mean', stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32') return stock.kernelFunc(args);
    const backend = args.backend as unknown as HeapBackend;
    const n = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
    const kept = x.shape.slice(axes.length);
    const c = kept.reduce((a, b) => a * b, 1);
    const outShape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
    const native = nativeColumnSums(backend, x, n, outShape, kernel === 'Mean' ? 1 / n : 1);
    if (native) return native;
    // Blocks of 64 rows summed in float32, blocks added in float64: as fast as a plain float32 loop, and the
    // rounding error does not grow with the batch.
    const acc = new Float64Array(c);
    const block = new Float32Array(c);
    const values = backend.typedArrayFromHeap(x);
    for (let row = 0; row < n; row += 64) {
      block.fill(0);
      const end = Math.min(n, row + 64) * c;
      for (let offset = row * c; offset < end; offset += c) {
        for (let j = 0; j < c; j++) block[j] += values[offset + j];
      }
      for (let j = 0; j < c; j++) acc[j] += block[j];
    }
    const out = backend.makeOutput(outShape, 'float32');
    const outValues = backend.typedArrayFromHeap(out);
    const scale = kernel === 'Mean' ? 1 / n : 1;
    for (let j = 0; j < c; j++) outValues[j] = acc[j] * scale;
    return out;
  };
}
