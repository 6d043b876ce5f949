/**
 * The rotation net's cells for the maps (cell-part.ts) with tfjs's layers: the net's layers up to its
 * ROTATION_CELL_BLOCKS-th max pool, in inference mode (BatchNorm's moving statistics), on the unturned pictures, for
 * the tfjs engine where the compiled kernels are not built; rotation-cells.ts computes the same on the compiled
 * kernels, to float rounding. Training calibrates each epoch's maps on the compiled kernels where they are built, with
 * the net folded here as src/run/open-rotation.ts folds its saved files (tfjs's layers took 3-8 s an epoch for 4,096
 * memory pictures at 28×28).
 */
import * as tf from '@tensorflow/tfjs';
import { active } from '../kernels/addon';
import { rotationShrink } from '../models/rotation-net';
import { CellPart, cellsInChunks, ROTATION_CELL_BLOCKS } from './cell-part';
import { foldBatchNorm } from './fold';
import type { CompiledRotationNet } from './rotation-compiled';
import { compiledRotationCells } from './rotation-cells';

/** Pictures a predict: 8 MB of the first block's output at 28×28. */
const BATCH = 128;

/** The net's cells at a rows × cols grid, weighted `weight`, for pictures of the net's input shape. */
export function rotationCellsOfNet(net: tf.LayersModel, rows: number, cols: number, weight: number): CellPart {
  const output = net.getLayer(`rot_pool${ROTATION_CELL_BLOCKS - 1}`).output as tf.SymbolicTensor;
  // Shares the net's layers and weights (it owns none of its own, so it is never disposed).
  const trunk = tf.model({ inputs: net.inputs, outputs: output });
  const [, side, , channels] = net.inputs[0].shape as number[];
  const [, grid, , dims] = output.shape as number[];
  const per = side * side * channels;
  return {
    dims,
    weight,
    cells: (pixels, count) => cellsInChunks(pixels, count, per, BATCH, grid, dims, rows, cols, (chunk, n) =>
      tf.tidy(() => (trunk.predict(tf.tensor4d(chunk, [n, side, side, channels])) as tf.Tensor).dataSync() as Float32Array)),
  };
}

/** The net's weights as they are now, each BatchNorm folded into its conv: what open-rotation.ts reads once saved. */
export function foldedRotationNet(net: tf.LayersModel): CompiledRotationNet {
  const values = (name: string) => net.getLayer(name).getWeights().map((w) => w.dataSync() as Float32Array);
  const blocks: CompiledRotationNet['blocks'] = [];
  for (let i = 0; ; i++) {
    const name = `rot_conv${i}`;
    if (!net.layers.some((l) => l.name === name)) break;
    const conv = net.getLayer(name);
    const [kh, kw, ci, co] = conv.getWeights()[0].shape;
    const [kernel, bias] = values(name);
    const bn = net.getLayer(`${name}_bn`);
    const [gamma, beta, moving_mean, moving_variance] = values(`${name}_bn`);
    const folded = foldBatchNorm(kernel, bias ?? new Float32Array(co), { gamma, beta, moving_mean, moving_variance }, bn.getConfig().epsilon as number);
    blocks.push({ ...folded, kh, kw, ci, co, alpha: net.getLayer(`${name}_lrelu`).getConfig().alpha as number });
  }
  const [kernel, bias] = values('rot_logits');
  const side = net.inputs[0].shape[1] as number;
  return { shrink: rotationShrink(side), blocks, dense: { kernel, bias, units: bias.length } };
}

/** The cells training calibrates with: on the compiled kernels where they are built (as the maps at load), else tfjs. */
export function trainingRotationCells(net: tf.LayersModel, rows: number, cols: number, weight: number): CellPart {
  const native = active();
  if (!native) return rotationCellsOfNet(net, rows, cols, weight);
  const [, side, , channels] = net.inputs[0].shape as number[];
  return compiledRotationCells(native, foldedRotationNet(net), side, channels, rows, cols, weight);
}
