import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormGrad } from './batchnorm-grad';
import { leakyReluGradKernel, LEAKY_RELU_GRAD_KERNEL, nativeElementwiseUsable, nativeSpread, SQUARE_GRAD_KERNEL, squareGradKernel } from './native-ops';

// Gradients are registered per op, not per backend, so each replacement here asks at every call whether alocc's
// kernels serve the active backend, and hands every other backend (native ones included) the stock gradient.

/** Whether alocc's kernels serve the active backend (index.ts's hasFastConvGradients, for the active one). */
let fastActive: () => boolean = () => false;

/**
 * Replaces the gradients of FusedBatchNorm, Sum, Mean, LeakyRelu and Square with alocc's while `active()` says its
 * kernels serve the active backend. Idempotent.
 */
export function registerFastGradients(active: () => boolean): void {
  fastActive = active;
  registerBatchNormGradient();
  registerReductionGradients();
  // LeakyRelu's stock gradient is Greater, Multiply and Select; Square's a cast and two multiplies on one thread
  // (BatchNorm's variance in training puts ~18 in a step). Same bits: x·2 is exact.
  registerElementwiseGradient('LeakyRelu', LEAKY_RELU_GRAD_KERNEL, leakyReluGradKernel);
  registerElementwiseGradient('Square', SQUARE_GRAD_KERNEL, squareGradKernel);
}

let stockBatchNormGrad: tf.GradConfig | undefined;

/** FusedBatchNorm's gradient without Tile, sharing its channel sums (batchnorm-grad.ts). */
function registerBatchNormGradient(): void {
  if (stockBatchNormGrad) return;
  const stock = tf.getGradient('FusedBatchNorm');
  if (!stock) return;
  stockBatchNormGrad = stock;
  tf.registerGradient({
    ...stock,
    gradFunc: (dy, saved, attrs) => {
      if (fastActive()) {
        const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
        const fast = fusedBatchNormGrad(dy as tf.Tensor, saved, varianceEpsilon);
        if (fast) return fast;
      }
      return stock.gradFunc(dy, saved, attrs);
    },
  });
}

let stockReductionGrads: Partial<Record<'Sum' | 'Mean', tf.GradConfig>> | undefined;

/**
 * Sum's and Mean's gradients spread dy over x's shape by multiplying it with tf.ones(x.shape), which fills a
 * JavaScript array and copies it into the backend (~7 ms for 128×14×14×32 on wasm; BatchNorm's statistics and the
 * losses make these ~60 ms of a training step, bench/NOTES.md); stock Sum even computes it when the tape does not
 * need it. Here the ones come from the backend's Fill kernel, only when needed, and Mean divides dy by the count
 * before spreading it, not after: the same float32 values ((dy·1)/n = (dy/n)·1 exactly), a fraction of the time.
 */
function registerReductionGradients(): void {
  if (stockReductionGrads) return;
  stockReductionGrads = {};
  for (const kernel of ['Sum', 'Mean'] as const) {
    const stock = tf.getGradient(kernel);
    if (!stock) continue;
    stockReductionGrads[kernel] = stock;
    tf.registerGradient({
      ...stock,
      gradFunc: (dy, saved, attrs) => {
        if (!fastActive()) return stock.gradFunc(dy, saved, attrs);
        const [x] = saved;
        const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape);
        const expandedShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const count = axes.reduce((n, a) => n * x.shape[a], 1);
        return {
          x: () => {
            const expanded = tf.reshape(dy as tf.Tensor, expandedShape);
            const perElement = kernel === 'Mean' ? tf.div(expanded, count) : expanded;
            return nativeSpread(perElement, x.shape) ?? tf.mul(perElement, tf.fill(x.shape, 1, 'float32'));
          },
        };
      },
    });
  }
}

/** The stock gradients replaced by elementwise ones, by the op they differentiate. */
const stockElementwiseGrads = new Map<string, tf.GradConfig>();

/** Registers the gradient of `op` (one input x) as one pass of `kernelName` on the compiled kernels, given x and dy. */
function registerElementwiseGradient(op: string, kernelName: string, kernelFunc: tf.KernelFunc): void {
  if (stockElementwiseGrads.has(op)) return;
  const stock = tf.getGradient(op);
  if (!stock) return;
  stockElementwiseGrads.set(op, stock);
  if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  tf.registerGradient({
    ...stock,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      if (nativeElementwiseUsable([x, dy as tf.Tensor]) && fastActive()) {
        return { x: () => tf.engine().runKernel(kernelName, { x, dy: dy as tf.Tensor }, attrs) as tf.Tensor };
      }
      return stock.gradFunc(dy, saved, attrs);
    },
  });
}
