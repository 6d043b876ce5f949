/**
 * The cost of each piece of an epoch's work after its steps (src/train/epoch-end.ts) at 28×28, MNIST digit 1 with
 * the default configuration: `npx tsx bench/epoch-phases.ts [--repeats N] [--steps S]`. Trains S steps first (default
 * 10: the weights move off their initial values; the phases' cost does not depend on them), then runs the after-step
 * work N times (default 3) on the same weights and prints each phase's wall and CPU seconds (process.cpuUsage, every
 * thread: on a shared machine the CPU time is the figure to compare) and a fingerprint of what the epoch stores (the
 * memory's bytes, the validation statistics, the cell calibration), so two commits can be checked for identical
 * results (--knn leaves the rotation net out, as `--score knn` does; --print shows the cell calibration and the knn statistics). ALOCC_ISA picks the compiled kernels' instruction set as everywhere.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { nativeStatus } from '../src/kernels';
import { BUILT_IN_PREPROCESSING, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, RunConfig } from '../src/config';
import { builtInTrainingImages, floatsOf, pickRows } from '../src/data/source';
import { splitTraining } from '../src/train/dataset';
import { memoryRows } from '../src/score/feature-memory';
import { createNets, disposeNets } from '../src/train/nets';
import { trainBatch } from '../src/train/step';
import { CoresetWorkspace } from '../src/score/coreset';
import { epochEnd, EpochEndJob, EpochEndPhase, PhaseTime } from '../src/train/epoch-end';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const repeats = option('--repeats', 3);
const steps = option('--steps', 10);

async function main() {
  await selectBackend('wasm');
  const native = nativeStatus();
  const config: RunConfig = {
    data: { source: 'mnist', class: 1, folder: null },
    model: { ...DEFAULT_MODEL_CONFIG },
    preprocessing: { ...BUILT_IN_PREPROCESSING },
    // The default's rotation net (untrained here), or with --knn none, as `--score knn` trains.
    train: { ...DEFAULT_TRAIN_CONFIG, ...(args.includes('--knn') ? { rotationPasses: 0, noveltyScore: 'knn' as const } : {}) },
  };
  const { train, validation } = splitTraining(builtInTrainingImages(config.data), config.train);
  const memoryImages = pickRows(train, memoryRows(train.count, config.train.memorySize, config.train.seed));
  const nets = createNets(config.model, config.train);
  const batch = 128;
  for (let s = 0; s < steps; s++) {
    const x = tf.tensor4d(floatsOf(train, (s * batch) % (train.count - batch), batch), [batch, 28, 28, 1]);
    trainBatch(nets, x, config.train, s + 1);
    x.dispose();
  }
  const times: Partial<Record<EpochEndPhase, PhaseTime[]>> = {};
  let repeat = 0;
  const job: EpochEndJob = {
    config, nets, train, validation, memoryImages,
    // A phase may be timed in pieces (the calibration's cell memory is built during the memory's pass): summed per repeat.
    events: {
      phase: (_epoch, name, time) => {
        const list = (times[name] ??= []);
        const now = (list[repeat] ??= { wallSeconds: 0, cpuSeconds: 0 });
        now.wallSeconds += time.wallSeconds;
        now.cpuSeconds += time.cpuSeconds;
      },
    },
  };
  console.log(`# ${native.loaded ? `compiled kernels, ${native.vectorWidth * 32}-bit SIMD, ${native.threads} threads` : 'no compiled kernels'}; ` +
    `${train.count} training, ${validation.count} validation, ${memoryImages.count} memory pictures; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const workspace = new CoresetWorkspace();
  let fingerprint = '';
  for (let r = 0; r < repeats; r++) {
    repeat = r;
    const end = epochEnd(job, 1, workspace);
    const hash = (v: string | Uint16Array) => createHash('sha256').update(v).digest('hex').slice(0, 8);
    const now = `memory ${hash(end.stored)}, validation ${hash(JSON.stringify([end.validation, end.memory, end.rotationAccuracy]))}, cells ${hash(JSON.stringify(end.cells))}`;
    if (fingerprint && now !== fingerprint) console.log(`! repeat ${r + 1}: ${now}, not ${fingerprint}`);
    fingerprint ||= now;
    if (r === 0 && args.includes('--print')) console.log(JSON.stringify({ cells: end.cells, knn: end.validation.knn }));
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  let wall = 0;
  let cpu = 0;
  for (const [name, list] of Object.entries(times)) {
    const w = median(list.map((t) => t.wallSeconds));
    const c = median(list.map((t) => t.cpuSeconds));
    wall += w;
    cpu += c;
    console.log(`${name.padEnd(20)} wall ${w.toFixed(3)} s  cpu ${c.toFixed(3)} s   (cpu ${list.map((t) => t.cpuSeconds.toFixed(3)).join(', ')})`);
  }
  console.log(`${'total (medians)'.padEnd(20)} wall ${wall.toFixed(3)} s  cpu ${cpu.toFixed(3)} s`);
  console.log(`fingerprint: ${fingerprint}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  disposeNets(nets);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
