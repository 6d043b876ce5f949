import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { values } from './helpers/numeric';

// The addon's entry points called directly, as src/kernels/native.ts calls them: every operand is a float offset
// into one heap. Each operand is tried ending exactly at the heap's end (accepted) and one float further (refused,
// with nothing written), at every instruction set this CPU runs.

const ADDON = path.join(__dirname, '..', 'build', 'alocc_kernels.node');
const skip = !fs.existsSync(ADDON) && 'addon not built (no C compiler)';

interface Addon {
  conv(op: number, heap: Float32Array, p: Int32Array, alpha?: number): void;
  columnSums(heap: Float32Array, p: Int32Array, scale: number): void;
  map(op: number, heap: Float32Array, p: Int32Array, alpha: number): void;
  channelAffine(heap: Float32Array, p: Int32Array): void;
  rmsprop(heap: Float32Array, p: Int32Array, k: Float32Array): void;
  upsample(heap: Float32Array, p: Int32Array): void;
  channelOp(op: number, heap: Float32Array, p: Int32Array): void;
  columnProductSums(heap: Float32Array, p: Int32Array): void;
  widenHalves(heap: Float32Array, p: Int32Array): void;
  pooledConv(heap: Float32Array, p: Int32Array, alpha: number): boolean;
  isas(): string[];
  setIsa(name: string): string;
}
const addon = skip ? null : (require(ADDON) as Addon);
const ISAS = addon?.isas() ?? [];

const HEAP = 1000;
// x 1×5×4×3, filter 3×3×3×8, padding 1: y 1×5×4×8. Co = 8 takes the GEMM at every SIMD width but AVX-512's.
const G = { N: 1, H: 5, W: 4, Ci: 3, KH: 3, KW: 3, Co: 8, OH: 5, OW: 4, SH: 1, SW: 1, PT: 1, PL: 1 };
const GEOMETRY = Object.values(G);
const XS = G.N * G.H * G.W * G.Ci;
const WS = G.KH * G.KW * G.Ci * G.Co;
const YS = G.N * G.OH * G.OW * G.Co;

/** Each entry point with its operands (name, size in floats, index of its offset in params) and its params. */
interface EntryPoint {
  name: string;
  operands: { name: string; size: number; at: number }[];
  call(heap: Float32Array, offsets: number[]): void;
}
const conv = (op: number, names: string[], sizes: number[], bias: boolean): EntryPoint => ({
  name: `conv op ${op}`,
  operands: [...names.map((name, i) => ({ name, size: sizes[i], at: i })), ...(bias ? [{ name: 'bias', size: G.Co, at: 3 }] : [])],
  call: (heap, o) => addon!.conv(op, heap, Int32Array.from([...GEOMETRY, o[0], o[1], o[2], bias ? o[3] : -1, 3]), 0.2),
});
const ENTRY_POINTS: EntryPoint[] = [
  conv(0, ['x', 'filter', 'y'], [XS, WS, YS], true),
  conv(1, ['dy', 'filter', 'dx'], [YS, WS, XS], false),
  conv(2, ['x', 'dy', 'dw'], [XS, YS, WS], false),
  {
    name: 'columnSums',
    operands: [{ name: 'x', size: 12 * 7, at: 0 }, { name: 'out', size: 7, at: 1 }],
    call: (heap, o) => addon!.columnSums(heap, Int32Array.from([12, 7, o[0], o[1]]), 0.5),
  },
  {
    name: 'columnProductSums',
    operands: [{ name: 'x', size: 12 * 7, at: 0 }, { name: 'y', size: 12 * 7, at: 1 }, { name: 'mean', size: 7, at: 2 }, { name: 'out', size: 7, at: 3 }],
    call: (heap, o) => addon!.columnProductSums(heap, Int32Array.from([12, 7, ...o])),
  },
  ...[0, 1, 2].map((op) => ({
    name: `map op ${op}`,
    operands: ['a', 'b', 'out'].map((name, at) => ({ name, size: 37, at })),
    call: (heap: Float32Array, o: number[]) => addon!.map(op, heap, Int32Array.from([37, o[0], o[1], o[2]]), 0.3),
  })),
  {
    name: 'widenHalves',
    operands: [{ name: 'values', size: 23, at: 0 }],
    call: (heap, o) => addon!.widenHalves(heap, Int32Array.from([23, o[0]])),
  },
  {
    name: 'channelAffine',
    operands: [{ name: 'x', size: 6 * 7, at: 0 }, { name: 'coefficients', size: 3 * 7, at: 1 }, { name: 'out', size: 6 * 7, at: 2 }],
    call: (heap, o) => addon!.channelAffine(heap, Int32Array.from([6 * 7, 7, o[0], o[1], o[2]])),
  },
  {
    name: 'rmsprop',
    operands: ['value', 'meanSquare', 'moment', 'gradient', 'newValue', 'newMeanSquare', 'newMoment'].map((name, at) => ({ name, size: 29, at })),
    call: (heap, o) => addon!.rmsprop(heap, Int32Array.from([29, ...o]), Float32Array.from([0.002, 0.9, 0.1, 0, 1e-7, 1])),
  },
  ...[0, 5].map((op) => ({
    name: `channelOp ${op}`,
    operands: [{ name: 'x', size: 6 * 7, at: 0 }, { name: 'v', size: 7, at: 1 }, { name: 'out', size: 6 * 7, at: 2 }],
    call: (heap: Float32Array, o: number[]) => addon!.channelOp(op, heap, Int32Array.from([6 * 7, 7, o[0], o[1], o[2]])),
  })),
  // G's conv at stride 1 over 2×2 cells: 2×2×8 means, and as many maxima after them with withMax.
  ...[0, 1].map((withMax) => ({
    name: `pooledConv withMax ${withMax}`,
    operands: [['x', XS], ['filter', WS], ['bias', G.Co], ['y', 2 * 2 * G.Co * (1 + withMax)]].map(([name, size], at) => ({ name: name as string, size: size as number, at })),
    call: (heap: Float32Array, o: number[]) => {
      addon!.pooledConv(heap, Int32Array.from([G.N, G.H, G.W, G.Ci, G.KH, G.KW, G.Co, G.PT, G.PL, 2, ...o, withMax]), 0.2);
    },
  })),
  // 1×3×2×5 upsampled 2×3: 30 floats → 180.
  ...[0, 1].map((grad) => ({
    name: `upsample grad ${grad}`,
    operands: (grad ? [['dy', 180], ['dx', 30]] : [['x', 30], ['y', 180]]).map(([name, size], at) => ({ name: name as string, size: size as number, at })),
    call: (heap: Float32Array, o: number[]) => addon!.upsample(heap, Int32Array.from([grad, 1, 3, 2, 5, 2, 3, o[0], o[1]])),
  })),
];

/** Offsets with operand `moved` at `end` and the others one after another from the heap's start. */
function offsets(e: EntryPoint, moved: number, end: number): number[] {
  let next = 0;
  return e.operands.map((o, i) => {
    if (i === moved) return end;
    const at = next;
    next += o.size;
    return at;
  });
}

for (const isa of ISAS) {
  test(`${isa}: every operand of every entry point may end at the heap's end, not one float past it`, { skip }, () => {
    addon!.setIsa(isa);
    for (const e of ENTRY_POINTS) {
      e.operands.forEach((operand, i) => {
        const heap = new Float32Array(values(HEAP, 11));
        e.call(heap, offsets(e, i, HEAP - operand.size)); // ends exactly at the end: runs
        const before = heap.slice();
        assert.throws(
          () => e.call(heap, offsets(e, i, HEAP - operand.size + 1)),
          new RegExp(`${operand.name} \\(offset \\d+, ${operand.size} floats\\) outside the heap`),
          `${e.name}: ${operand.name} one float past the heap's end`,
        );
        const negative = operand.name === 'bias' ? -2 : -1; // a bias offset of -1 means no bias
        assert.throws(() => e.call(heap, offsets(e, i, negative)), /outside the heap/, `${e.name}: ${operand.name} at offset ${negative}`);
        assert.deepEqual(heap, before, `${e.name}: a refused call wrote to the heap`);
      });
    }
  });
}

/** y = leakyRelu(bias + conv(x, w)) for G, by the definition: the reference for the call at the heap's end. */
function bruteForward(x: Float32Array, w: Float32Array, bias: Float32Array, alpha: number): Float32Array {
  const y = new Float32Array(YS);
  for (let oh = 0; oh < G.OH; oh++)
    for (let ow = 0; ow < G.OW; ow++)
      for (let co = 0; co < G.Co; co++) {
        let s = bias[co];
        for (let kh = 0; kh < G.KH; kh++)
          for (let kw = 0; kw < G.KW; kw++) {
            const ih = oh * G.SH - G.PT + kh;
            const iw = ow * G.SW - G.PL + kw;
            if (ih < 0 || ih >= G.H || iw < 0 || iw >= G.W) continue;
            for (let ci = 0; ci < G.Ci; ci++) s += x[(ih * G.W + iw) * G.Ci + ci] * w[((kh * G.KW + kw) * G.Ci + ci) * G.Co + co];
          }
        y[(oh * G.OW + ow) * G.Co + co] = s > 0 ? s : alpha * s;
      }
  return y;
}

test('a forward conv whose output ends at the heap\'s end computes every output, at every instruction set', { skip }, () => {
  for (const isa of ISAS) {
    addon!.setIsa(isa);
    const heap = new Float32Array(values(HEAP, 12));
    const [xo, wo, bo, yo] = [0, XS, XS + WS, HEAP - YS];
    const expected = bruteForward(heap.slice(xo, xo + XS), heap.slice(wo, wo + WS), heap.slice(bo, bo + G.Co), 0.2);
    addon!.conv(0, heap, Int32Array.from([...GEOMETRY, xo, wo, yo, bo, 3]), 0.2);
    const y = heap.subarray(yo);
    for (let i = 0; i < YS; i++) assert.ok(Math.abs(y[i] - expected[i]) < 1e-5, `${isa}: y[${i}] = ${y[i]}, expected ${expected[i]}`);
  }
  addon!.setIsa(ISAS[0]);
});

test('geometry, padding, op and activation are checked before any kernel runs', { skip }, () => {
  const heap = new Float32Array(HEAP);
  const call = (g: Partial<typeof G>, extra: number[] = [-1, 0], op = 0) =>
    () => addon!.conv(op, heap, Int32Array.from([...Object.values({ ...G, ...g }), 0, 200, 500, ...extra]));
  call({})(); // the plain case runs
  assert.throws(call({ N: 0 }), /geometry must be positive/);
  assert.throws(call({ SW: -2 }), /geometry must be positive/);
  assert.throws(call({ PT: -1 }), /padding/);
  assert.throws(call({ PL: 3 }), /padding/, 'padding as large as the kernel');
  assert.throws(call({ OH: 7 }), /output larger/, 'an output row whose window starts below the input');
  assert.throws(call({}, [-1, 9]), /unknown activation/);
  assert.throws(call({}, [-1, 0], 3), /unknown op/);
  assert.throws(call({}, [0, 0], 1), /only the forward conv takes a bias/);
  assert.throws(call({ Ci: 1 << 20, KH: 1 << 5 }), /too large|outside the heap|padding/);
  assert.throws(() => addon!.map(0, heap, Int32Array.from([-5, 0, 0, 0]), 0), /n must be at least 0/);
  assert.throws(() => addon!.map(3, heap, Int32Array.from([5, 0, 0, 0]), 0), /map\(op/);
  assert.throws(() => addon!.columnProductSums(heap, Int32Array.from([3, 0, 0, 0, 0, 0])), /must be positive/);
  assert.throws(() => addon!.columnSums(heap, Int32Array.from([3, 0, 0, 0]), 1), /must be positive/);
  assert.throws(() => addon!.channelAffine(heap, Int32Array.from([10, 3, 0, 10, 20])), /multiple of a positive channel count/);
  assert.throws(() => addon!.channelAffine(heap, Int32Array.from([12, 0, 0, 10, 20])), /multiple of a positive channel count/);
  assert.throws(() => addon!.rmsprop(heap, Int32Array.from([-1, 0, 0, 0, 0, 0, 0, 0]), new Float32Array(6)), /n must be at least 0/);
  assert.throws(() => addon!.rmsprop(heap, Int32Array.from([1, 0, 0, 0, 0, 0, 0, 0]), new Float32Array(5)), /rmsprop\(heap/);
  assert.throws(() => addon!.channelOp(7, heap, Int32Array.from([12, 3, 0, 20, 40])), /channelOp\(op/);
  assert.throws(() => addon!.channelOp(0, heap, Int32Array.from([10, 3, 0, 20, 40])), /multiple of a positive channel count/);
  assert.throws(() => addon!.upsample(heap, Int32Array.from([2, 1, 1, 1, 1, 2, 2, 0, 10])), /grad must be 0 or 1/);
  assert.throws(() => addon!.upsample(heap, Int32Array.from([0, 1, 1, 1, 1, 0, 2, 0, 10])), /must be positive/);
  // 2^16 · 2^16 · 2^16 · 2^16 wraps a 64-bit product; the check must see it as too large, not as 0 floats.
  assert.throws(() => addon!.upsample(heap, Int32Array.from([0, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1, 1, 0, 10])), /too large/);
});

test('setIsa refuses an instruction set the build or the CPU lacks, and keeps the one in use', { skip }, () => {
  addon!.setIsa(ISAS[0]);
  assert.throws(() => addon!.setIsa('sse9'), /unknown instruction set 'sse9' \(this build has: .*baseline\)/);
  for (const isa of ['avx512', 'avx2'].filter((i) => !ISAS.includes(i))) {
    assert.throws(() => addon!.setIsa(isa), new RegExp(`this CPU lacks ${isa}|unknown instruction set`));
  }
  const heap = new Float32Array(values(HEAP, 13));
  addon!.conv(0, heap, Int32Array.from([...GEOMETRY, 0, 100, 400, -1, 0])); // still runs
});

// A 16M-channel 1×1 conv needs 2 GiB of im2col scratch (32 rows); with the address space limited to 2 GiB the
// allocation fails. The process must get a JavaScript error and go on, not crash.
test('an allocation that fails is a JavaScript error, and the addon works afterwards', { skip }, () => {
  const script = `
    const addon = require(${JSON.stringify(ADDON)});
    const ci = 1 << 24, heap = new Float32Array(2 * ci + 1);
    try {
      addon.conv(0, heap, Int32Array.from([1, 1, 1, ci, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, ci, 2 * ci, -1, 0]));
      console.log('ran');
    } catch (err) { console.log('threw: ' + err.message); }
    const small = new Float32Array(16).fill(1);
    addon.conv(0, small, Int32Array.from([1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 4, -1, 0]));
    console.log('after: ' + small[4]);`;
  const r = spawnSync('bash', ['-c', 'ulimit -v 2097152 && exec "$0" -e "$1"', process.execPath, script], { encoding: 'utf8' });
  assert.equal(r.status, 0, `exit ${r.status} signal ${r.signal}: ${r.stderr}`);
  assert.match(r.stdout, /threw: conv: out of memory/);
  assert.match(r.stdout, /after: 2\n/);
});
