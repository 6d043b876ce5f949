import * as tf from '@tensorflow/tfjs';
import { ModelConfig } from '../config';
import { downsampleBlock, seededInit } from './layers';

/**
 * How R's decoder reaches side `s` from the encoder's code (side c = ⌈s/8⌉ after three stride-2 'same' convs). The
 * reference's decoder (up, up, 3×3 'valid' conv, up) fits 28 only: from 4 it makes 28, and at 64 it makes 60. Here the
 * 3×3 conv is 'valid' when the maps are 2 or more too large and 'same' otherwise, a 1-pixel crop takes what is left,
 * and an odd side drops the last row and column after the final upsampling. At 28 no crop is needed and R is exactly
 * the reference's.
 */
export function decoderPlan(s: number): { codeSide: number; thirdConvPadding: 'same' | 'valid'; cropAfterThirdConv: boolean; cropAfterLastUp: boolean } {
  const codeSide = Math.ceil(Math.ceil(Math.ceil(s / 2) / 2) / 2);
  const half = Math.ceil(s / 2);
  const excess = 4 * codeSide - half; // 0-3
  const thirdConvPadding = excess >= 2 ? 'valid' : 'same';
  return { codeSide, thirdConvPadding, cropAfterThirdConv: excess % 2 === 1, cropAfterLastUp: s % 2 === 1 };
}

/**
 * R, the reconstructor: a convolutional encoder-decoder that maps a (noisy) image to a clean one of the target class.
 * Layer names follow the Keras reference so checkpoints read alike. Shapes below are for 28×28×1.
 */
export function buildReconstructor(cfg: ModelConfig, seed: number): tf.LayersModel {
  const { inputSize: s, channels, dfDim, gfDim } = cfg;
  const input = tf.input({ shape: [s, s, channels], name: 'r_input' }); // [b, 28, 28, 1]
  let x = downsampleBlock(input, dfDim * 2, 'g_encoder_h0_conv', seed, 0); // [b, 14, 14, 32]
  x = downsampleBlock(x, dfDim * 4, 'g_encoder_h1_conv', seed, 1); // [b, 7, 7, 64]
  x = downsampleBlock(x, dfDim * 8, 'g_encoder_h2_conv', seed, 2); // [b, 4, 4, 128]

  const conv = (filters: number, kernelSize: number, padding: 'same' | 'valid', activation: 'relu' | 'sigmoid', i: number) =>
    tf.layers.conv2d({ filters, kernelSize, padding, activation, name: `g_decoder_h${i}_conv`, kernelInitializer: seededInit(seed, 10 + i) });
  const up = (i: number) => tf.layers.upSampling2d({ size: [2, 2], name: `g_decoder_up${i}` });
  x = conv(gfDim, 5, 'same', 'relu', 0).apply(x) as tf.SymbolicTensor; // [b, 4, 4, 16]
  x = up(0).apply(x) as tf.SymbolicTensor; // [b, 8, 8, 16]
  x = conv(gfDim, 5, 'same', 'relu', 1).apply(x) as tf.SymbolicTensor; // [b, 8, 8, 16]
  x = up(1).apply(x) as tf.SymbolicTensor; // [b, 16, 16, 16]
  const plan = decoderPlan(s);
  const crop = (name: string) => tf.layers.cropping2D({ cropping: [[0, 1], [0, 1]], name });
  x = conv(gfDim * 2, 3, plan.thirdConvPadding, 'relu', 2).apply(x) as tf.SymbolicTensor; // [b, 14, 14, 32]
  if (plan.cropAfterThirdConv) x = crop('g_decoder_crop2').apply(x) as tf.SymbolicTensor; // (not at 28)
  x = up(2).apply(x) as tf.SymbolicTensor; // [b, 28, 28, 32]
  if (plan.cropAfterLastUp) x = crop('g_decoder_crop3').apply(x) as tf.SymbolicTensor; // odd sides only
  const out = conv(channels, 5, 'same', 'sigmoid', 3).apply(x) as tf.SymbolicTensor; // [b, 28, 28, 1]
  return tf.model({ inputs: input, outputs: out, name: 'R' });
}
