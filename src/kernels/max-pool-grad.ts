import * as tf from '@tensorflow/tfjs';
import { active } from './addon';
import { into, offset, WasmHeapBackend } from './heap';

/**
 * MaxPoolGrad on wasm, correct. tfjs-backend-wasm's (4.22) drops the gradient of every window whose values are all
 * negative: after the rotation net's LeakyReLU about a fifth of its windows, which then never learn
 * (docs/research.md, "The max pool's gradient on wasm"); it was also about half of a rotation step at 28×28. For a
 * 2×2 stride-2 pool with tfjs's 'same' padding on square pictures (the rotation net's pools) each window's dy goes to
 * its first maximum in row-major order, as tfjs's cpu kernel sends it: on the compiled kernels where they are built,
 * else in one JavaScript pass over the heap. Other pools (alocc makes none) run the stock kernel.
 */
export function maxPoolGrad(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const a = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
    if (input.dtype !== 'float32' || dy.dtype !== 'float32' || input.shape.length !== 4) return stock(args);
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
    const [t, side, , ch] = input.shape;
    const pool2 = info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 && info.strideWidth === 2;
    const same = info.padInfo.top === 0 && info.padInfo.left === 0 && info.outHeight === Math.ceil(side / 2) && info.outWidth === info.outHeight;
    if (!pool2 || !same || input.shape[2] !== side || t * side * ch === 0) return stock(args);
    const backend = args.backend as unknown as WasmHeapBackend;
    const dx = backend.makeOutput(input.shape, 'float32');
    const params = [t, side, ch, offset(backend, input), offset(backend, dy), offset(backend, dx)];
    const native = active();
    // The heap is read after dx is made: making it can grow, and so replace, the heap.
    if (native?.maxPool2Grad) return into(backend, dx, () => native.maxPool2Grad!(backend.wasm.HEAPF32, Int32Array.from(params)));
    maxPool2GradInHeap(backend.wasm.HEAPF32, params);
    return dx;
  };
}

/** native/ops.c max_pool2_grad in JavaScript, on [t, side, channels, x, dy, dx] offsets into `heap`. */
function maxPool2GradInHeap(heap: Float32Array, [t, side, ch, x, dy, dx]: number[]): void {
  const half = Math.ceil(side / 2);
  const row = side * ch;
  heap.fill(0, dx, dx + t * side * row);
  let g = dy;
  for (let img = 0; img < t; img++) {
    for (let i = 0; i < half; i++) {
      const r0 = img * side * row + 2 * i * row;
      const r1 = 2 * i + 1 < side ? r0 + row : r0;
      for (let j = 0; j < half; j++) {
        const a = 2 * j * ch;
        const b = 2 * j + 1 < side ? a + ch : a;
        for (let c = 0; c < ch; c++, g++) {
          let at = r0 + a + c;
          let m = heap[x + at];
          if (heap[x + r0 + b + c] > m) m = heap[x + (at = r0 + b + c)];
          if (heap[x + r1 + a + c] > m) m = heap[x + (at = r1 + a + c)];
          if (heap[x + r1 + b + c] > m) at = r1 + b + c;
          heap[dx + at] = heap[g];
        }
      }
    }
  }
}
