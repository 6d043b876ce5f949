/**
 * The rotation net's conv blocks on the compiled kernels, shared by the rotation score (rotation-compiled.ts, every
 * turned copy) and the maps' rotation cells (rotation-cells.ts, the unturned pictures): where each block's input and
 * output sit in one heap, and one block run as a 3×3 'same' conv with its BatchNorm folded in and LeakyReLU fused
 * (the addon's conv), then a 2×2 stride-2 'same' max pool (the addon's maxPool2, or a JavaScript loop on older addons).
 */
import { AloccError } from '../errors';
import type { NativeKernels } from '../kernels/addon';

/** The addon's conv activation code for LeakyReLU (src/kernels/native.ts ACTIVATION). */
export const LEAKY_RELU = 3;

/** One conv block of the rotation net, BatchNorm folded in (src/run/open-rotation.ts). */
export interface RotationBlock {
  filter: Float32Array;
  bias: Float32Array;
  kh: number;
  kw: number;
  ci: number;
  co: number;
  alpha: number;
}

/** Where a run of `blocks` keeps its weights and its pictures' maps, per picture the run carries. */
export interface BlockLayout {
  /** The shrunk picture's side ('valid' average pool), then each block's output side (halved, rounded up). */
  sides: number[];
  /** Per picture: the largest block input (A) and block output (B), in floats. */
  perIn: number;
  perOut: number;
  /** Each block's filter and bias in the heap, from 0; `fixed` floats in all. */
  weights: { filter: number; bias: number }[];
  fixed: number;
}

export function blockLayout(blocks: readonly RotationBlock[], side: number, shrink: number): BlockLayout {
  const sides = [Math.floor(side / shrink)];
  for (let i = 0; i < blocks.length; i++) sides.push(Math.ceil(sides[i] / 2));
  if (sides[0] < 1) throw new AloccError(`pictures of side ${side} are smaller than the rotation net's shrink ${shrink}`);
  const weights: BlockLayout['weights'] = [];
  let fixed = 0;
  for (const b of blocks) {
    weights.push({ filter: fixed, bias: fixed + b.filter.length });
    fixed += b.filter.length + b.bias.length;
  }
  return {
    sides,
    perIn: Math.max(...blocks.map((b, i) => sides[i] * sides[i] * b.ci)),
    perOut: Math.max(...blocks.map((b, i) => sides[i] * sides[i] * b.co)),
    weights,
    fixed,
  };
}

/** The blocks' weights into `heap` where `layout` puts them. */
export function writeBlockWeights(heap: Float32Array, blocks: readonly RotationBlock[], layout: BlockLayout): void {
  blocks.forEach((b, i) => {
    heap.set(b.filter, layout.weights[i].filter);
    heap.set(b.bias, layout.weights[i].bias);
  });
}

/** Block i of the layout on t maps of side s at A (heap offset a): conv into B (bOff), pooled back into A. */
export function runBlock(native: NativeKernels, heap: Float32Array, b: RotationBlock, at: { filter: number; bias: number }, t: number, s: number, a: number, bOff: number): void {
  const padTop = Math.floor((b.kh - 1) / 2); // tfjs's 'same' at stride 1: any extra row and column go below and right
  const padLeft = Math.floor((b.kw - 1) / 2);
  native.conv(0, heap, Int32Array.from([t, s, s, b.ci, b.kh, b.kw, b.co, s, s, 1, 1, padTop, padLeft, a, at.filter, bOff, at.bias, LEAKY_RELU]), b.alpha);
  if (native.maxPool2) native.maxPool2(heap, Int32Array.from([t, s, b.co, bOff, a]));
  else maxPool2Same(heap, bOff, t, s, b.co, a);
}

/**
 * The max pool in JavaScript, for addons built before maxPool2 (native/ops.c max_pool2, the same numbers):
 * x [t, side, side, ch] → out [t, ⌈side/2⌉, ⌈side/2⌉, ch]: tfjs's 2×2 stride-2 'same' max pool, whose padding (at an
 * odd side, one row below and one column right) never wins, so the window is clipped at the border.
 */
export function maxPool2Same(heap: Float32Array, x: number, t: number, side: number, ch: number, out: number): void {
  const half = Math.ceil(side / 2);
  let o = out;
  for (let img = 0; img < t; img++) {
    const base = x + img * side * side * ch;
    for (let i = 0; i < half; i++) {
      const r0 = 2 * i;
      const r1 = Math.min(r0 + 1, side - 1);
      for (let j = 0; j < half; j++) {
        const c0 = 2 * j;
        const c1 = Math.min(c0 + 1, side - 1);
        const a = base + (r0 * side + c0) * ch;
        const b = base + (r0 * side + c1) * ch;
        const d = base + (r1 * side + c0) * ch;
        const e = base + (r1 * side + c1) * ch;
        for (let c = 0; c < ch; c++) {
          const p = heap[a + c];
          const q = heap[b + c];
          const u = heap[d + c];
          const v = heap[e + c];
          const m1 = p > q ? p : q;
          const m2 = u > v ? u : v;
          heap[o++] = m1 > m2 ? m1 : m2;
        }
      }
    }
  }
}
