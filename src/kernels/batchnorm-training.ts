import * as tf from '@tensorflow/tfjs';
import { active } from './addon';
import { into, offset, WasmHeapBackend } from './heap';

/**
 * BatchNorm in training mode as one kernel and one gradient kernel on the compiled kernels (native/batchnorm.c).
 * tfjs-layers trains a BatchNormalization as tf.moments (Mean, Sub, Square, Mean) then FusedBatchNorm, and the tape
 * differentiates each: in the rotation net, whose four BatchNorms sit on up to 128×28×28×8 activations, that chain
 * and its gradient were over a quarter of a step at 28×28, many passes over memory and a dozen tfjs dispatches a
 * layer. Here: [y, mean, variance] in three passes, [dx, dγ, dβ] in three, the same function of x, γ and β
 * (tf.moments' biased variance; dx = γr·dy − γr³·S2/N·(x − mean) − γr·S1/N with r = 1/√(variance + ε), S1 = Σdy,
 * S2 = Σdy·(x − mean), which is tfjs's gradient of moments and batchNorm written out), equal up to float rounding.
 */
export const BATCHNORM_TRAIN_KERNEL = 'AloccBatchNormTrain';
const BATCHNORM_TRAIN_GRAD_KERNEL = 'AloccBatchNormTrainGrad';

/** Channels the kernels take: they run in lanes of 256 floats, so a count dividing 256. */
export function batchNormTrainChannelsUsable(channels: number): boolean {
  return channels > 0 && channels <= 256 && 256 % channels === 0;
}

const forward: tf.KernelFunc = (args) => {
  const { x, scale, offset: shift } = args.inputs as { x: tf.TensorInfo; scale: tf.TensorInfo; offset: tf.TensorInfo };
  const { varianceEpsilon } = args.attrs as unknown as { varianceEpsilon: number };
  const backend = args.backend as unknown as WasmHeapBackend;
  const ch = x.shape[x.shape.length - 1];
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([ch], 'float32');
  const variance = backend.makeOutput([ch], 'float32');
  const rows = tf.util.sizeFromShape(x.shape) / ch;
  // The heap is read after the outputs are made: making them can grow, and so replace, the heap.
  try {
    into(backend, y, () => active()!.batchNormTrain!(backend.wasm.HEAPF32, Int32Array.from([rows, ch, offset(backend, x), offset(backend, scale), offset(backend, shift), offset(backend, y), offset(backend, mean), offset(backend, variance)]), varianceEpsilon));
  } catch (err) {
    backend.disposeData(mean.dataId);
    backend.disposeData(variance.dataId);
    throw err;
  }
  return [y, mean, variance];
};

const backward: tf.KernelFunc = (args) => {
  const { x, dy, scale, mean, variance } = args.inputs as Record<string, tf.TensorInfo>;
  const { varianceEpsilon } = args.attrs as unknown as { varianceEpsilon: number };
  const backend = args.backend as unknown as WasmHeapBackend;
  const ch = x.shape[x.shape.length - 1];
  const dx = backend.makeOutput(x.shape, 'float32');
  const dscale = backend.makeOutput([ch], 'float32');
  const doffset = backend.makeOutput([ch], 'float32');
  const rows = tf.util.sizeFromShape(x.shape) / ch;
  try {
    into(backend, dx, () => active()!.batchNormTrainGrad!(backend.wasm.HEAPF32, Int32Array.from([rows, ch, offset(backend, x), offset(backend, dy), offset(backend, scale), offset(backend, mean), offset(backend, variance), offset(backend, dx), offset(backend, dscale), offset(backend, doffset)]), varianceEpsilon));
  } catch (err) {
    backend.disposeData(dscale.dataId);
    backend.disposeData(doffset.dataId);
    throw err;
  }
  return [dx, dscale, doffset];
};

/** Registers both kernels on wasm and the first's gradient; idempotent. */
export function registerBatchNormTraining(): void {
  if (tf.getKernel(BATCHNORM_TRAIN_KERNEL, 'wasm')) return;
  tf.registerKernel({ kernelName: BATCHNORM_TRAIN_KERNEL, backendName: 'wasm', kernelFunc: forward });
  tf.registerKernel({ kernelName: BATCHNORM_TRAIN_GRAD_KERNEL, backendName: 'wasm', kernelFunc: backward });
  tf.registerGradient({
    kernelName: BATCHNORM_TRAIN_KERNEL,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      // Only y is differentiated: mean and variance feed the moving averages, which the loss never reads.
      const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
      const [x, scale, mean, variance] = saved;
      const [dx, dscale, doffset] = tf.engine().runKernel(BATCHNORM_TRAIN_GRAD_KERNEL, { x, dy, scale, mean, variance }, attrs) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });
}

/**
 * [y, mean, variance] of BatchNorm in training over x's last axis with scale γ and offset β, as tensors of the
 * active scope; null where the compiled kernels do not serve the active backend or the shape (the caller then runs
 * tfjs-layers' own ops).
 */
export function batchNormTrain(x: tf.Tensor, scale: tf.Tensor1D, shift: tf.Tensor1D, varianceEpsilon: number): tf.Tensor[] | null {
  const native = active();
  const ch = x.shape[x.rank - 1];
  if (!native?.batchNormTrain || !native.batchNormTrainGrad || tf.getBackend() !== 'wasm' || !tf.getKernel(BATCHNORM_TRAIN_KERNEL, 'wasm')) return null;
  if (x.rank < 2 || !batchNormTrainChannelsUsable(ch) || x.size === 0 || [x, scale, shift].some((t) => t.dtype !== 'float32')) return null;
  if (scale.size !== ch || shift.size !== ch) return null;
  return tf.engine().runKernel(BATCHNORM_TRAIN_KERNEL, { x, scale, offset: shift }, { varianceEpsilon }) as tf.Tensor[];
}
