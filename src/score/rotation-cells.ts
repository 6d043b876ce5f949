/**
 * The rotation net's cells for the maps (cell-part.ts) on the compiled kernels, without TensorFlow.js: the unturned
 * pictures through the average-pooling shrink and the net's first ROTATION_CELL_BLOCKS blocks (3×3 conv with its
 * BatchNorm folded in and LeakyReLU fused, on the addon's conv; 2×2 'same' max pool), as rotation-compiled.ts runs
 * every turned copy for the rotation score. rotation-cells-tfjs.ts computes the same with tfjs's layers.
 */
import { AloccError } from '../errors';
import { largeFloats, NativeKernels } from '../kernels/addon';
import { CellPart, cellsInChunks, ROTATION_CELL_BLOCKS } from './cell-part';
import { blockLayout, runBlock, writeBlockWeights } from './rotation-blocks';
import { CompiledRotationNet, shrinkInto } from './rotation-compiled';
/** Pictures a pass: 8 MB of the first block's output at 28×28, 16 MB at 64×64 (shrunk to 32×32). */
const CHUNK = 128;

/** The net's cells at a rows × cols grid, weighted `weight` in the cell vector, for pictures of side × side × channels. */
export function compiledRotationCells(native: NativeKernels, net: CompiledRotationNet, side: number, channels: number, rows: number, cols: number, weight: number): CellPart {
  const { shrink } = net;
  const blocks = net.blocks.slice(0, ROTATION_CELL_BLOCKS);
  if (blocks.length < ROTATION_CELL_BLOCKS) throw new AloccError(`the rotation net has ${net.blocks.length} blocks, fewer than the maps read; retrain`);
  if (blocks[0].ci !== channels) throw new AloccError(`the rotation net takes ${blocks[0].ci} channels, not the run's ${channels}; retrain`);
  const layout = blockLayout(blocks, side, shrink);
  const { sides, perIn, perOut, fixed } = layout;
  const heap = largeFloats(fixed + CHUNK * (perIn + perOut));
  writeBlockWeights(heap, blocks, layout);
  const grid = sides[blocks.length];
  const dims = blocks[blocks.length - 1].co;
  const perPicture = side * side * channels;
  const a = fixed;
  const bOff = fixed + CHUNK * perIn;

  /** The n ≤ CHUNK pictures' block outputs, [n][grid][grid][dims] (a view of the heap at A). */
  const pass = (pixels: Float32Array, n: number) => {
    if (shrink === 1) heap.set(pixels.subarray(0, n * perPicture), a);
    else shrinkInto(pixels, n, side, channels, shrink, heap, a);
    blocks.forEach((b, i) => runBlock(native, heap, b, layout.weights[i], n, sides[i], a, bOff));
    return heap.subarray(a, a + n * grid * grid * dims);
  };

  return {
    dims,
    weight,
    cells: (pixels, count) => cellsInChunks(pixels, count, perPicture, CHUNK, grid, dims, rows, cols, pass),
  };
}
