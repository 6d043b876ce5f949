// Research, not used by alocc: moved out of src/train/ (issue 12). Two wasm workers without the addon reached 145.8
// images/s against 90.5 for one process (bench/NOTES.md), but `train` never used it: with a C compiler the addon's
// threads do better, and per-shard BatchNorm differs from single-process training. bench.ts's wasm-parallel row
// runs it; its test by hand: node --import tsx --test bench/research/parallel.test.ts
/**
 * Data-parallel ALOCC training over worker threads, for the wasm and cpu backends, where one tfjs instance uses
 * one core. Each worker (parallel-worker.ts) holds its own copy of R and D, built from the same seed, and trains on
 * its shard of every batch; at each of the step's updates (D real, D fake, R × rStepsPerBatch) the workers average
 * their gradients through shared memory, then clip and apply them, so the copies stay identical.
 *
 * What differs from single-process trainBatch: BatchNorm layers in training mode normalise each shard with that
 * shard's own mean and variance (64 images each at batch 128 with 2 workers), not the full batch's, like
 * unsynchronised data-parallel BatchNorm elsewhere. The moving statistics are averaged after every batch: the
 * moving means then equal the single-process ones exactly, the moving variances miss the spread between the shard
 * means (slightly smaller). The noise is drawn for the full batch with the same seed as trainBatch. Losses are the
 * means of the workers' (equal-sized shards: the full-batch means).
 */
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { ModelConfig, TrainConfig } from '../../src/config';
import { AloccError } from '../../src/errors';
import type { WorkerInit, WorkerRequest } from './parallel-worker';
import { addNoise } from '../../src/train/step';
import { BatchLosses } from '../../src/run/runfile';

/** Weight values in LayersModel.weights order, trainable and non-trainable, for R and D. */
export interface NetWeights {
  r: Float32Array[];
  d: Float32Array[];
}

/** A model's weight values in LayersModel.weights order (what NetWeights holds). */
export function readModelWeights(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => w.read().dataSync() as Float32Array);
}

/** Writes values in LayersModel.weights order (from getWeights or readModelWeights) into a model of the same architecture. */
export function writeModelWeights(model: tf.LayersModel, values: Float32Array[]): void {
  if (values.length !== model.weights.length) {
    throw new AloccError(`weights: model '${model.name}' has ${model.weights.length} weight tensors, got ${values.length}`);
  }
  const tensors = model.weights.map((w, i) => tf.tensor(values[i], w.read().shape));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

export interface ParallelTrainer {
  readonly workers: number;
  /** One batch of the ALOCC schedule (like trainBatch) split over the workers. x: [b, s, s, c], b ≥ workers. */
  trainBatch(x: tf.Tensor4D, noiseSeed: number): Promise<BatchLosses>;
  getWeights(): Promise<NetWeights>;
  setWeights(weights: NetWeights): Promise<void>;
  dispose(): Promise<void>;
}

type Reply = { kind: 'ready' | 'done' } | { kind: 'losses'; losses: BatchLosses } | { kind: 'weights'; r: Float32Array[]; d: Float32Array[] } | { kind: 'error'; message: string };

/** Floats one worker may exchange at once: the larger of R's and D's parameter counts, with room to spare. */
const SLOT = 4 << 20;

/** Starts `workers` threads, each with its own `backend` instance and a copy of R and D built from `seed`. */
export async function createParallelTrainer(
  cfg: TrainConfig,
  modelCfg: ModelConfig,
  seed: number,
  workers = 2,
  backend: 'wasm' | 'cpu' = 'wasm',
): Promise<ParallelTrainer> {
  if (!Number.isInteger(workers) || workers < 1) throw new AloccError(`parallel training: workers must be a whole number ≥ 1, got ${workers}`);
  const exchange = new SharedArrayBuffer(workers * SLOT * 4);
  const barrier = new SharedArrayBuffer(8);
  // From dist/ the compiled .js runs; under tsx (tests, bench) the .ts one, through tsx's require hook: its ESM
  // loader flags do not reach a worker's entry module.
  const file = join(__dirname, `parallel-worker${extname(__filename)}`);
  const entry = extname(file) === '.ts' ? `require('tsx/cjs/api').register(); require(${JSON.stringify(file)});` : file;
  const threads = Array.from({ length: workers }, (_, rank) => {
    const init: WorkerInit = { rank, size: workers, backend, train: cfg, model: modelCfg, seed, exchange, slot: SLOT, barrier };
    return new Worker(entry, { workerData: init, eval: entry !== file });
  });

  /** The next reply of one worker; its errors become AloccErrors. */
  const reply = (w: Worker) =>
    new Promise<Reply>((resolve, reject) => {
      const onMessage = (msg: Reply) => {
        cleanup();
        if (msg.kind === 'error') reject(new AloccError(`parallel training worker failed: ${msg.message}`));
        else resolve(msg);
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new AloccError(`parallel training worker crashed: ${err.message}`));
      };
      const cleanup = () => {
        w.off('message', onMessage);
        w.off('error', onError);
      };
      w.on('message', onMessage);
      w.on('error', onError);
    });
  const all = (send: (w: Worker, rank: number) => WorkerRequest | null) =>
    Promise.all(
      threads.map((w, rank) => {
        const answer = reply(w);
        const msg = send(w, rank);
        if (msg) w.postMessage(msg);
        return answer;
      }),
    );

  try {
    await all(() => null); // 'ready'
  } catch (err) {
    await Promise.all(threads.map((w) => w.terminate()));
    throw err;
  }

  return {
    workers,
    async trainBatch(x, noiseSeed) {
      const b = x.shape[0];
      if (b < workers) throw new AloccError(`parallel training: batch of ${b} images cannot be split over ${workers} workers`);
      const xNoisy = addNoise(x, cfg.noiseStd, noiseSeed);
      const [clean, noisy] = [x.dataSync() as Float32Array, xNoisy.dataSync() as Float32Array];
      xNoisy.dispose();
      const perImage = clean.length / b;
      const bounds = Array.from({ length: workers + 1 }, (_, i) => Math.round((i * b) / workers));
      const replies = await all((_, rank) => {
        const [from, to] = [bounds[rank], bounds[rank + 1]];
        return { kind: 'batch', x: clean.slice(from * perImage, to * perImage), xNoisy: noisy.slice(from * perImage, to * perImage), count: to - from };
      });
      // Shards can differ by one image when b is odd; weight each worker's means by its shard.
      const total: BatchLosses = { dLossReal: 0, dLossFake: 0, gLoss: 0, reconLoss: 0, advLoss: 0 };
      replies.forEach((r, rank) => {
        const share = (bounds[rank + 1] - bounds[rank]) / b;
        const losses = (r as { losses: BatchLosses }).losses;
        for (const k of Object.keys(total) as (keyof BatchLosses)[]) total[k] = (total[k] ?? 0) + (losses[k] ?? 0) * share;
      });
      return total;
    },
    async getWeights() {
      // Every copy is the same (same updates, statistics averaged after each batch): worker 0 answers.
      const answer = reply(threads[0]);
      threads[0].postMessage({ kind: 'getWeights' } satisfies WorkerRequest);
      const { r, d } = (await answer) as { r: Float32Array[]; d: Float32Array[] };
      return { r, d };
    },
    async setWeights(weights) {
      await all(() => ({ kind: 'setWeights', r: weights.r, d: weights.d }));
    },
    async dispose() {
      await Promise.all(threads.map((w) => w.terminate()));
    },
  };
}
