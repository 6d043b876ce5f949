import * as tf from '@tensorflow/tfjs';
import { ModelConfig } from '../config';
import { downsampleBlock, seededInit } from './layers';

/**
 * R, the reconstructor: a convolutional encoder-decoder that maps a (noisy) image to a clean one of the target class.
 * Layer names follow the Keras reference so checkpoints read alike.
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
  x = conv(gfDim * 2, 3, 'valid', 'relu', 2).apply(x) as tf.SymbolicTensor; // [b, 14, 14, 32]
  x = up(2).apply(x) as tf.SymbolicTensor; // [b, 28, 28, 32]
  const out = conv(channels, 5, 'same', 'sigmoid', 3).apply(x) as tf.SymbolicTensor; // [b, 28, 28, 1]
  return tf.model({ inputs: input, outputs: out, name: 'R' });
}
