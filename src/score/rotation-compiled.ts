/**
 * GEOM's rotation score on the compiled kernels alone, without TensorFlow.js: the compiled engine's half of a
 * knnRotation verdict (src/api/compiled-engine.ts). The same numbers as rotationNovelty (rotation-score.ts) on the
 * rotation net in inference mode, to float rounding: each picture is turned by 0-3 quarter turns here (numpy's rot90,
 * anticlockwise, as quarterTurn), all 4·n turned pictures of a pass run through the net in one batch: the 3×3 convs,
 * their BatchNorm folded in (src/run/open-rotation.ts) and LeakyReLU fused, on the addon's conv, and the 2×2 'same'
 * max pools on its maxPool2 (a JavaScript loop on older addons); the average-pooling shrink, the quarter turns, the
 * global mean and the Dense(4) logits are plain loops. Where the shrunk side is even (and the shrink tiles the
 * picture), the first block runs once on the unturned pictures with its filters turned instead (turnedFilterBank),
 * its conv and pool fused on the addon's pooledConv, and its pooled maps are turned.
 */
import { AloccError } from '../errors';
import { largeFloats, NativeKernels } from '../kernels/addon';
import { blockLayout, LEAKY_RELU, maxPool2Same, RotationBlock, runBlock, writeBlockWeights } from './rotation-blocks';

/** The quarter turns the net tells apart (src/models/rotation-net.ts TURNS, which imports tfjs). */
const TURNS = 4;
/** Pictures a pass: their 4 turns make batches of 128, 16 MB of the first block's output at 64×64 (shrunk to 32×32). */
const CHUNK = 32;

/** The rotation net, read and folded by src/run/open-rotation.ts. */
export interface CompiledRotationNet {
  /** The average-pooling factor before the blocks (1: none). */
  shrink: number;
  /** The four conv blocks: filter [kh, kw, ci, co] and bias with BatchNorm folded in, LeakyReLU's slope. Each is followed by a 2×2 stride-2 'same' max pool. */
  blocks: RotationBlock[];
  /** The logits: kernel [last block's co, units] and bias, after the global mean. */
  dense: { kernel: Float32Array; bias: Float32Array; units: number };
}

/** The rotation score of each of `count` pictures (HWC, [0, 1], the run's side and channels, concatenated). */
export type RotationScorer = (pixels: Float32Array, count: number) => Float32Array;

/**
 * Where a side×side picture turned by `k` quarter turns anticlockwise (numpy's rot90(x, k), i.e. quarterTurn's
 * reverse(transpose(x), rows) k times) takes its pixels from: the turned pixel (r, c) is the picture's pixel
 * start + r·down + c·right (pixel indices, row-major).
 */
export function turnSteps(k: number, side: number): { start: number; down: number; right: number } {
  switch (k) {
    case 0: return { start: 0, down: side, right: 1 };
    case 1: return { start: side - 1, down: -1, right: side };
    case 2: return { start: side * side - 1, down: -side, right: -1 };
    default: return { start: (side - 1) * side, down: 1, right: -side };
  }
}

/** Index, in a side×side picture's pixels, of the pixel that lands at (r, c) when it is turned by `k` quarter turns. */
export function turnedSource(k: number, side: number, r: number, c: number): number {
  const { start, down, right } = turnSteps(k, side);
  return start + r * down + c * right;
}

/**
 * heap[out ..] ← the `n` pictures (side `s`, `ch` channels, at `from`[src + q·s·s·ch]) turned by k, for k = 0..3 in
 * turn: turned k of picture q at index k·n + q.
 */
function writeTurns(from: Float32Array, src: number, n: number, s: number, ch: number, heap: Float32Array, out: number): void {
  let o = out;
  for (let k = 0; k < TURNS; k++) {
    const { start, down, right } = turnSteps(k, s);
    for (let q = 0; q < n; q++) {
      const base = src + q * s * s * ch;
      for (let i = 0; i < s; i++) {
        let p = start + i * down;
        for (let j = 0; j < s; j++, p += right) {
          const at = base + p * ch;
          for (let c = 0; c < ch; c++) heap[o++] = from[at + c];
        }
      }
    }
  }
}

/** A quarter turn's pixel step (turnSteps' down or right at side 2) as a (row, column) step. */
function stepVector(step: number): [number, number] {
  return step === 2 ? [1, 0] : step === -2 ? [-1, 0] : step === 1 ? [0, 1] : [0, -1];
}

/**
 * The first block's filters ([size, size, ci, co]) turned for each quarter turn, concatenated along the output
 * channels: [size, size, ci, 4·co],
 * group k the filter W_k with conv(x, W_k) turned by k equal to conv(x turned by k, W) for a square, odd, 'same'
 * (symmetrically padded) kernel. The turned picture's pixel (r, c) is the picture's P(r, c) = start + r·down +
 * c·right (turnSteps), so the tap (dr, dc) of W reads the picture at the step dr·down + dc·right from P(r, c): W_k
 * holds W's tap (dr, dc) at that step.
 */
export function turnedFilterBank(filter: Float32Array, size: number, ci: number, co: number): Float32Array {
  const h = (size - 1) / 2;
  const wide = TURNS * co;
  const out = new Float32Array(size * size * ci * wide);
  for (let t = 0; t < TURNS; t++) {
    const { down, right } = turnSteps(t, 2);
    const [dy, dx] = stepVector(down);
    const [ry, rx] = stepVector(right);
    for (let dr = -h; dr <= h; dr++) {
      for (let dc = -h; dc <= h; dc++) {
        const from = ((dr + h) * size + dc + h) * ci * co;
        const to = ((dr * dy + dc * ry + h) * size + dr * dx + dc * rx + h) * ci * wide + t * co;
        for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) out[to + c * wide + o] = filter[from + c * co + o];
      }
    }
  }
  return out;
}

/**
 * heap[out ..] ← for k = 0..3, the channel group k (of `co`, out of 4·co) of each of the `n` maps (side `s`, each
 * `stride` floats apart from `src`) turned by k: turned k of picture q at index k·n + q.
 */
function writeTurnedGroups(heap: Float32Array, src: number, stride: number, n: number, s: number, co: number, out: number): void {
  const wide = TURNS * co;
  let o = out;
  for (let k = 0; k < TURNS; k++) {
    const { start, down, right } = turnSteps(k, s);
    for (let q = 0; q < n; q++) {
      const base = src + q * stride + k * co;
      for (let i = 0; i < s; i++) {
        let p = start + i * down;
        for (let j = 0; j < s; j++, p += right) {
          const at = base + p * wide;
          for (let c = 0; c < co; c++) heap[o++] = heap[at + c];
        }
      }
    }
  }
}

/** small[out ..] ← the `n` pictures (side `side`, `ch` channels) average-pooled over p×p cells ('valid': side ⌊side/p⌋). */
export function shrinkInto(pixels: Float32Array, n: number, side: number, ch: number, p: number, small: Float32Array, out = 0): void {
  const s = Math.floor(side / p);
  const inv = 1 / (p * p);
  let o = out;
  if (p === 2) {
    // The usual shrink, its four taps unrolled (summed in the same order as below).
    const row = side * ch;
    for (let q = 0; q < n; q++) {
      for (let i = 0; i < s; i++) {
        let at = q * side * row + 2 * i * row;
        for (let j = 0; j < s; j++, at += 2 * ch) {
          for (let c = 0; c < ch; c++) small[o++] = (pixels[at + c] + pixels[at + ch + c] + pixels[at + row + c] + pixels[at + row + ch + c]) * inv;
        }
      }
    }
    return;
  }
  for (let q = 0; q < n; q++) {
    const base = q * side * side * ch;
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) {
        for (let c = 0; c < ch; c++) {
          let sum = 0;
          for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) sum += pixels[base + ((i * p + y) * side + j * p + x) * ch + c];
          small[o++] = sum * inv;
        }
      }
    }
  }
}

/** The compiled rotation score of the net for pictures of `side` × `side` × `channels`. */
export function compiledRotationScorer(native: NativeKernels, net: CompiledRotationNet, side: number, channels: number): RotationScorer {
  const { shrink, blocks, dense } = net;
  if (dense.units !== TURNS) throw new AloccError(`the rotation net names ${dense.units} turns, not ${TURNS}; retrain`);
  if (blocks[0].ci !== channels) throw new AloccError(`the rotation net takes ${blocks[0].ci} channels, not the run's ${channels}; retrain`);
  // The heap: [filters and biases | A | B], per turned picture the largest block input (A) and output (B).
  const layout = blockLayout(blocks, side, shrink);
  const { sides, perIn, perOut, weights: weightOffsets } = layout;
  let fixed = layout.fixed;
  // The first block on the unturned pictures with its filters turned instead (turnedFilterBank): its conv's bias
  // and LeakyReLU are pointwise, and its 2×2 stride-2 max pool commutes with the quarter turns where the side is
  // even (at an odd side the clipped row and column move with the turn), as the shrink's does where its cells tile
  // the picture (else the border it drops depends on the turn). So one conv of the n pictures with 4·co filters
  // (pooledConv, the pool fused; conv then maxPool2 where it declines), and each turn's channel group written turned
  // into the second block's input.
  const b0 = blocks[0];
  const turnFilters = b0.kh === b0.kw && b0.kh % 2 === 1 && sides[0] % 2 === 0 && side % shrink === 0;
  const bank = turnFilters ? turnedFilterBank(b0.filter, b0.kh, b0.ci, b0.co) : new Float32Array(0);
  const bankBias = new Float32Array(turnFilters ? TURNS * b0.co : 0);
  for (let k = 0; k < bankBias.length; k += b0.co) bankBias.set(b0.bias, k);
  const bankOffsets = { filter: fixed, bias: fixed + bank.length };
  fixed += bank.length + bankBias.length;
  // Per picture, the first block's pooled maps (4·co channels): with their cell means beside them (pooledConv's layout).
  const perPooled = turnFilters ? 2 * (sides[1] * sides[1] * TURNS * b0.co) : 0;
  let heap = new Float32Array(0);
  let room = 0; // pictures (each 4 turned) the heap holds
  const grow = (n: number) => {
    const next = largeFloats(fixed + TURNS * n * (perIn + perOut) + n * perPooled);
    writeBlockWeights(next, blocks, layout);
    next.set(bank, bankOffsets.filter);
    next.set(bankBias, bankOffsets.bias);
    heap = next;
    room = n;
  };
  const perPicture = side * side * channels;
  const last = blocks[blocks.length - 1].co;
  const lastArea = sides[blocks.length] * sides[blocks.length];
  const mean = new Float64Array(last);
  const s0 = sides[0];
  const inv = 1 / (shrink * shrink);
  let small = new Float32Array(0);

  const pass = (pixels: Float32Array, n: number, out: Float32Array, at: number) => {
    if (n > room) grow(Math.max(n, Math.min(CHUNK, 2 * room)));
    const t = TURNS * n;
    const a = fixed;
    const bOff = fixed + t * perIn;
    const cOff = bOff + t * perOut;
    let first = 0; // the first block the loop below runs
    if (turnFilters) {
      // The unturned pictures, shrunk, at A; the first block with the turned bank into C, turned into A.
      if (shrink === 1) heap.set(pixels.subarray(0, n * perPicture), a);
      else shrinkInto(pixels, n, side, channels, shrink, heap, a);
      const s = s0;
      const pad = (b0.kh - 1) / 2;
      const wide = TURNS * b0.co;
      const pooled = sides[1] * sides[1] * wide;
      let at = cOff + pooled; // the maxima, after each picture's cell means
      let stride = 2 * pooled;
      const fused = native.pooledConv(heap, Int32Array.from([n, s, s, b0.ci, b0.kh, b0.kw, wide, pad, pad, 2, a, bankOffsets.filter, bankOffsets.bias, cOff, 1]), b0.alpha);
      if (!fused) {
        native.conv(0, heap, Int32Array.from([n, s, s, b0.ci, b0.kh, b0.kw, wide, s, s, 1, 1, pad, pad, a, bankOffsets.filter, bOff, bankOffsets.bias, LEAKY_RELU]), b0.alpha);
        if (native.maxPool2) native.maxPool2(heap, Int32Array.from([n, s, wide, bOff, cOff]));
        else maxPool2Same(heap, bOff, n, s, wide, cOff);
        at = cOff;
        stride = pooled;
      }
      writeTurnedGroups(heap, at, stride, n, sides[1], b0.co, a);
      first = 1;
    } else if (shrink === 1) writeTurns(pixels, 0, n, side, channels, heap, a);
    else if (side % shrink === 0) {
      // The shrink's cells tile the picture, so they turn with it: shrink once, then turn the small pictures.
      if (small.length < n * s0 * s0 * channels) small = new Float32Array(n * s0 * s0 * channels);
      shrinkInto(pixels, n, side, channels, shrink, small);
      writeTurns(small, 0, n, s0, channels, heap, a);
    } else {
      // Cells that leave a border out: which border depends on the turn, so each turned picture is shrunk.
      let o = a;
      for (let k = 0; k < TURNS; k++) {
        const { start, down, right } = turnSteps(k, side);
        for (let q = 0; q < n; q++) {
          const src = q * perPicture;
          for (let i = 0; i < s0; i++) {
            for (let j = 0; j < s0; j++) {
              const corner = start + i * shrink * down + j * shrink * right;
              for (let c = 0; c < channels; c++) {
                let sum = 0;
                for (let y = 0; y < shrink; y++) for (let x = 0; x < shrink; x++) sum += pixels[src + (corner + y * down + x * right) * channels + c];
                heap[o++] = sum * inv;
              }
            }
          }
        }
      }
    }
    // The blocks: conv (A → B) with BatchNorm and LeakyReLU, max pool (B → A).
    blocks.forEach((b, i) => {
      if (i >= first) runBlock(native, heap, b, weightOffsets[i], t, sides[i], a, bOff);
    });
    // Global mean, logits, log-softmax at each picture's own turn.
    const scores = new Float64Array(n);
    const logits = new Float64Array(TURNS);
    for (let img = 0; img < t; img++) {
      const k = Math.floor(img / n);
      mean.fill(0);
      const base = a + img * lastArea * last;
      for (let p = 0; p < lastArea; p++) for (let c = 0; c < last; c++) mean[c] += heap[base + p * last + c];
      let top = -Infinity;
      for (let u = 0; u < TURNS; u++) {
        let z = dense.bias[u];
        for (let c = 0; c < last; c++) z += (mean[c] / lastArea) * dense.kernel[c * TURNS + u];
        logits[u] = z;
        if (z > top) top = z;
      }
      let sum = 0;
      for (let u = 0; u < TURNS; u++) sum += Math.exp(logits[u] - top);
      scores[img % n] += logits[k] - top - Math.log(sum);
    }
    for (let q = 0; q < n; q++) out[at + q] = -scores[q] / TURNS;
  };

  return (pixels, count) => {
    const out = new Float32Array(count);
    for (let start = 0; start < count; start += CHUNK) {
      const n = Math.min(CHUNK, count - start);
      pass(pixels.subarray(start * perPicture, (start + n) * perPicture), n, out, start);
    }
    return out;
  };
}
