/**
 * The rotation net's cells for the maps (cell-part.ts) with tfjs's layers: the net's layers up to its
 * ROTATION_CELL_BLOCKS-th max pool, in inference mode (BatchNorm's moving statistics), on the unturned pictures.
 * Training calibrates the maps with it at every epoch; the tfjs engine maps with it where the compiled kernels are not
 * built. rotation-cells.ts computes the same on the compiled kernels, to float rounding.
 */
import * as tf from '@tensorflow/tfjs';
import { CellPart, resampleCells, ROTATION_CELL_BLOCKS } from './cell-part';

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
    cells(pixels, count) {
      const out = new Float32Array(count * rows * cols * dims);
      for (let start = 0; start < count; start += BATCH) {
        const n = Math.min(BATCH, count - start);
        const maps = tf.tidy(() => (trunk.predict(tf.tensor4d(pixels.subarray(start * per, (start + n) * per), [n, side, side, channels])) as tf.Tensor).dataSync() as Float32Array);
        out.set(resampleCells(maps, n, grid, grid, dims, rows, cols), start * rows * cols * dims);
      }
      return out;
    },
  };
}
