// Research, not used by alocc: moved out of src/kernels/ (issue 12, one path per kernel: the compiled kernel plus one
// fallback). Kept for the record: one-output-channel convs as depthwise + channel sum on wasm; its gain was measured only together with toeplitz.ts (198d8b8, 06dcdfb).
import * as tf from '@tensorflow/tfjs';

type ConvAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
};

const ACTIVATIONS: Record<string, (y: tf.Tensor, alpha: number) => tf.Tensor> = {
  linear: (y) => y,
  relu: (y) => tf.relu(y),
  sigmoid: (y) => tf.sigmoid(y),
  leakyrelu: (y, alpha) => tf.leakyRelu(y, alpha),
};

/**
 * Conv2D / FusedConv2D forward for wasm. XNNPACK computes output channels in blocks of 8, so a conv with ONE output
 * channel (R's last layer, 28×28×32 → 28×28×1, run three times per step) wastes 7/8 of its work; as a depthwise
 * conv (each input channel by its own slice of the filter, vectorised over channels) and a sum over the channels it
 * takes about half the time. Everything else, and activations other than linear/relu/sigmoid/leakyrelu, runs the
 * stock kernel. Gradients are unaffected: they come from the kernel name, not from this implementation.
 */
export function singleChannelConv(stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.Tensor4D | undefined>;
    const a = args.attrs as unknown as ConvAttrs;
    const activation = ACTIVATIONS[a.activation ?? "linear"] as ((y: tf.Tensor, alpha: number) => tf.Tensor) | undefined;
    const dilated = a.dilations != null && [a.dilations].flat().some((d) => d !== 1);
    const usable =
      filter!.shape[3] === 1 && a.dataFormat !== 'NCHW' && !dilated && activation && preluActivationWeights == null && (bias == null || bias.rank <= 1);
    if (!usable) return stock.kernelFunc(args);
    return tf.tidy(() => {
      const perChannel = tf.depthwiseConv2d(x!, filter!, a.strides, a.pad, 'NHWC', 1, a.dimRoundingMode);
      let y: tf.Tensor = tf.sum(perChannel, 3, true);
      if (bias != null) y = tf.add(y, bias);
      return activation!(y, a.leakyreluAlpha ?? 0.2);
    });
  };
}
