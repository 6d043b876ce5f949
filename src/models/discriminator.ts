import * as tf from '@tensorflow/tfjs';
import { ModelConfig } from '../config';
import { downsampleBlock, seededInit } from './layers';

/** D, the discriminator: the likelihood (0-1) that an image belongs to the target class. */
export function buildDiscriminator(cfg: ModelConfig, seed: number): tf.LayersModel {
  const { inputSize: s, channels, dfDim } = cfg;
  const input = tf.input({ shape: [s, s, channels], name: 'd_input' }); // [b, 28, 28, 1]
  let x = downsampleBlock(input, dfDim, 'd_h0_conv', seed, 100, false); // [b, 14, 14, 16], no BatchNorm
  x = downsampleBlock(x, dfDim * 2, 'd_h1_conv', seed, 101); // [b, 7, 7, 32]
  x = downsampleBlock(x, dfDim * 4, 'd_h2_conv', seed, 102); // [b, 4, 4, 64]
  x = downsampleBlock(x, dfDim * 8, 'd_h3_conv', seed, 103); // [b, 2, 2, 128]
  x = tf.layers.flatten({ name: 'd_flatten' }).apply(x) as tf.SymbolicTensor; // [b, 512]
  const out = tf.layers
    .dense({ units: 1, activation: 'sigmoid', name: 'd_h3_lin', kernelInitializer: seededInit(seed, 104) })
    .apply(x) as tf.SymbolicTensor; // [b, 1]
  return tf.model({ inputs: input, outputs: out, name: 'D' });
}
