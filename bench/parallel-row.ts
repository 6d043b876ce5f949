import * as tf from '@tensorflow/tfjs';
import { DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG } from '../src/config';
import { createParallelTrainer } from './research/parallel';
import { Row, trainingRow } from './rows';

/** Full ALOCC steps split over `workers` wasm worker threads (bench/research/parallel.ts). */
export async function parallelRow(batch: number, steps: number, x: tf.Tensor4D, workers = 2): Promise<Row> {
  const cfg = { ...DEFAULT_TRAIN_CONFIG, batchSize: batch };
  // The workers copy this environment: the row measures the wasm kernels alone (no C compiler).
  const before = process.env.ALOCC_NATIVE;
  process.env.ALOCC_NATIVE = '0';
  const trainer = await createParallelTrainer(cfg, DEFAULT_MODEL_CONFIG, 1, workers, 'wasm');
  if (before === undefined) delete process.env.ALOCC_NATIVE;
  else process.env.ALOCC_NATIVE = before;
  try {
    const row = await trainingRow(`train wasm, wasm kernels only, ${workers} worker threads`, batch, 2, steps, (i) => trainer.trainBatch(x, i));
    // CPU time counts every thread: CPU/wall near 1 means the workers shared one core (another process held the
    // other), near 2 that they had both.
    const cores = (row.cpuMsPerStep ?? 0) / (row.msPerStep ?? 1);
    row.note = `workers got ${cores.toFixed(2)} cores; BatchNorm statistics per worker shard`;
    return row;
  } finally {
    await trainer.dispose();
  }
}
