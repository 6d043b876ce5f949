/**
 * The rotation net's cells for the maps (cell-part.ts) on the compiled kernels, without TensorFlow.js: the unturned
 * pictures through the average-pooling shrink and the net's first ROTATION_CELL_BLOCKS blocks (3×3 conv with its
 * BatchNorm folded in and LeakyReLU fused, on the addon's conv; 2×2 'same' max pool), as rotation-compiled.ts runs
 * every turned copy for the rotation score. rotation-cells-tfjs.ts computes the same with tfjs's layers.
 */
import { AloccError } from '../errors';
import { largeFloats, NativeKernels } from '../kernels/addon';
import { CellPart, resampleCells, ROTATION_CELL_BLOCKS } from './cell-part';
import { CompiledRotationNet, maxPool2Same, shrinkInto } from './rotation-compiled';

/** The addon's conv activation code for LeakyReLU (src/kernels/native.ts ACTIVATION). */
const LEAKY_RELU = 3;
/** Pictures a pass: 8 MB of the first block's output at 28×28, 16 MB at 64×64 (shrunk to 32×32). */
const CHUNK = 128;

/** The net's cells at a rows × cols grid, weighted `weight` in the cell vector, for pictures of side × side × channels. */
export function compiledRotationCells(native: NativeKernels, net: CompiledRotationNet, side: number, channels: number, rows: number, cols: number, weight: number): CellPart {
  const { shrink } = net;
  const blocks = net.blocks.slice(0, ROTATION_CELL_BLOCKS);
  if (blocks.length < ROTATION_CELL_BLOCKS) throw new AloccError(`the rotation net has ${net.blocks.length} blocks, fewer than the maps read; retrain`);
  if (blocks[0].ci !== channels) throw new AloccError(`the rotation net takes ${blocks[0].ci} channels, not the run's ${channels}; retrain`);
  const sides = [Math.floor(side / shrink)];
  for (let i = 0; i < blocks.length; i++) sides.push(Math.ceil(sides[i] / 2));
  if (sides[0] < 1) throw new AloccError(`pictures of side ${side} are smaller than the rotation net's shrink ${shrink}`);
  const perIn = Math.max(...blocks.map((b, i) => sides[i] * sides[i] * b.ci));
  const perOut = Math.max(...blocks.map((b, i) => sides[i] * sides[i] * b.co));
  const offsets: { filter: number; bias: number }[] = [];
  let fixed = 0;
  for (const b of blocks) {
    offsets.push({ filter: fixed, bias: fixed + b.filter.length });
    fixed += b.filter.length + b.bias.length;
  }
  const heap = largeFloats(fixed + CHUNK * (perIn + perOut));
  blocks.forEach((b, i) => {
    heap.set(b.filter, offsets[i].filter);
    heap.set(b.bias, offsets[i].bias);
  });
  const grid = sides[blocks.length];
  const dims = blocks[blocks.length - 1].co;
  const perPicture = side * side * channels;
  const a = fixed;
  const bOff = fixed + CHUNK * perIn;

  /** The n ≤ CHUNK pictures' block outputs at A: [n][grid][grid][dims]. */
  const pass = (pixels: Float32Array, n: number) => {
    if (shrink === 1) heap.set(pixels.subarray(0, n * perPicture), a);
    else shrinkInto(pixels, n, side, channels, shrink, heap, a);
    blocks.forEach((b, i) => {
      const s = sides[i];
      // tfjs's 'same' at stride 1: any extra row and column go below and right.
      const params = Int32Array.from([n, s, s, b.ci, b.kh, b.kw, b.co, s, s, 1, 1, Math.floor((b.kh - 1) / 2), Math.floor((b.kw - 1) / 2), a, offsets[i].filter, bOff, offsets[i].bias, LEAKY_RELU]);
      native.conv(0, heap, params, b.alpha);
      if (native.maxPool2) native.maxPool2(heap, Int32Array.from([n, s, b.co, bOff, a]));
      else maxPool2Same(heap, bOff, n, s, b.co, a);
    });
  };

  return {
    dims,
    weight,
    cells(pixels, count) {
      const out = new Float32Array(count * rows * cols * dims);
      for (let start = 0; start < count; start += CHUNK) {
        const n = Math.min(CHUNK, count - start);
        pass(pixels.subarray(start * perPicture, (start + n) * perPicture), n);
        out.set(resampleCells(heap.subarray(a, a + n * grid * grid * dims), n, grid, grid, dims, rows, cols), start * rows * cols * dims);
      }
      return out;
    },
  };
}
