import { test } from 'node:test';
import assert from 'node:assert/strict';
import { active, loadNativeKernels, nativeStatus, rowProducts, setNativeIsa } from '../src/kernels/addon';
import { assertClose, values } from './helpers/numeric';

// native/conv.c's direct 1×1 forward (the rows read where they are, no im2col copy: the knn search's, the coreset's
// and the cell search's products, rowProducts) at every instruction set the CPU runs: against float64 dot products,
// and bit for bit against the im2col path, which the same rows with one more feature, zero, take (a trailing
// 0·w adds nothing to a sum, fused or not), so the coreset and the calibration stay what they were.

const ISAS: string[] = loadNativeKernels().isas ?? [];
const DEFAULT_ISA = nativeStatus().isa ?? null;

/** rows × cols products of `x` ([rows, dims]) with `w` ([dims, cols]) through rowProducts. */
function products(x: Float32Array, w: Float32Array, rows: number, dims: number, cols: number): Float32Array {
  const heap = new Float32Array(rows * dims + dims * cols + rows * cols);
  heap.set(x, 0);
  heap.set(w, rows * dims);
  rowProducts(active()!, heap, 0, rows, dims, rows * dims, cols, rows * dims + dims * cols);
  return heap.slice(rows * dims + dims * cols);
}

/** The same rows with a zero feature appended (dims + 1: not a multiple of any vector width, so im2col runs). */
function widened(x: Float32Array, w: Float32Array, rows: number, dims: number, cols: number): Float32Array {
  const xw = new Float32Array(rows * (dims + 1));
  for (let r = 0; r < rows; r++) xw.set(x.subarray(r * dims, (r + 1) * dims), r * (dims + 1));
  const ww = new Float32Array((dims + 1) * cols);
  ww.set(w, 0);
  return products(xw, ww, rows, dims + 1, cols);
}

const CASES = [
  { rows: 37, dims: 64, cols: 64 }, // a few row blocks' worth, the cell search's shape
  { rows: 70, dims: 3136, cols: 16 }, // the coreset's rows at 28×28 (features past one KC block of the GEMM)
  { rows: 5, dims: 32, cols: 48 }, // fewer rows than a GEMM tile
];

for (const isa of ISAS) {
  test(`${isa}: direct 1×1 products equal the im2col path's bit for bit and float64 dot products to rounding`, (t) => {
    if (!active()) return t.skip('compiled kernels not loaded');
    setNativeIsa(isa);
    try {
      for (const { rows, dims, cols } of CASES) {
        const x = values(rows * dims, 21);
        const w = values(dims * cols, 22);
        const direct = products(x, w, rows, dims, cols);
        const expected = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            let sum = 0;
            for (let k = 0; k < dims; k++) sum += x[r * dims + k] * w[k * cols + c];
            expected[r * cols + c] = sum;
          }
        }
        const what = `${rows}×${dims}·${dims}×${cols}`;
        assertClose(direct, expected, what, 1e-5);
        const copied = widened(x, w, rows, dims, cols);
        const differ = direct.findIndex((v, i) => v !== copied[i]);
        assert.equal(differ, -1, `${what}: product ${differ} is ${direct[differ]} direct, ${copied[differ]} through im2col`);
      }
    } finally {
      if (DEFAULT_ISA) setNativeIsa(DEFAULT_ISA);
    }
  });
}
