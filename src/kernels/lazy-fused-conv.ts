import * as tf from '@tensorflow/tfjs';

type FusedConvArgs = Parameters<typeof tf.fused.conv2d>[0];

/**
 * tf.fused.conv2d (what tfjs-layers runs for a Conv2D with linear or relu activation) computes its gradients in a
 * custom-gradient closure that builds the input, filter AND bias gradients every time, needed or not. A training
 * step of ours needs fewer: D's filter gradients are waste in R's updates (D is frozen there), and nobody needs the
 * gradient with respect to the images fed to D's and R's first layers; ~10 of the step's 60 conv gradients.
 *
 * This version runs the same FusedConv2D kernel directly, so the tape records it under that kernel name and uses
 * FUSED_CONV_GRADIENT below, whose per-input thunks the tape calls only for inputs on the path to the variables.
 * Only when `active()` (the fast kernels serve the current backend) and for what that gradient covers: NHWC, 4-D,
 * dilation 1, linear or relu, no PReLU weights; everything else goes to the stock op.
 */
export function lazyFusedConv2d(stock: typeof tf.fused.conv2d, active: () => boolean): typeof tf.fused.conv2d {
  return ((args: FusedConvArgs) => {
    const { x, filter, bias, activation = 'linear', dataFormat = 'NHWC', dilations = [1, 1], preluActivationWeights } = args;
    const plain = [dilations].flat().every((d) => d === 1);
    if (
      !active() ||
      !(x instanceof tf.Tensor && filter instanceof tf.Tensor) ||
      (bias != null && !(bias instanceof tf.Tensor && bias.rank === 1 && bias.shape[0] === filter.shape[3])) ||
      x.rank !== 4 ||
      dataFormat !== 'NHWC' ||
      !plain ||
      (activation !== 'linear' && activation !== 'relu') ||
      preluActivationWeights != null
    ) {
      return stock(args);
    }
    const inputs: tf.NamedTensorMap = { x, filter };
    if (bias != null) inputs.bias = bias as tf.Tensor;
    const attrs = {
      strides: args.strides,
      pad: args.pad,
      dataFormat,
      dilations: [1, 1],
      dimRoundingMode: args.dimRoundingMode,
      activation,
      leakyreluAlpha: args.leakyreluAlpha,
    };
    return tf.engine().runKernel('FusedConv2D', inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }) as typeof tf.fused.conv2d;
}

/** The gradient of a FusedConv2D node recorded by lazyFusedConv2d: one thunk per input, run only if needed. */
export const FUSED_CONV_GRADIENT: tf.GradConfig = {
  kernelName: 'FusedConv2D',
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, activation, dimRoundingMode } = attrs as unknown as {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number;
      activation: string;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    // Gradients of the pre-activation output; shared by the thunks (each runs in its own tidy), so made here.
    // relu: y > 0 exactly where the pre-activation is, so y gives the mask.
    const dyPre = (activation === 'relu' ? tf.mul(dy as tf.Tensor, tf.step(y)) : dy) as tf.Tensor4D;
    return {
      x: () => tf.conv2dTranspose(dyPre, filter, x.shape, strides, pad as 'valid' | 'same', dimRoundingMode),
      filter: () => conv2dFilterGrad(x, dyPre, filter.shape, strides, pad, dimRoundingMode),
      bias: () => tf.sum(dyPre, [0, 1, 2]),
    };
  },
};

/** Runs the Conv2DBackpropFilter kernel (tfjs has no public op for it). */
function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], strides: [number, number] | number, pad: unknown, dimRoundingMode?: string) {
  const attrs = { strides, pad, dataFormat: 'NHWC', dimRoundingMode, filterShape };
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
