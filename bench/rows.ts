/** One line of the benchmark table. */
export interface Row {
  name: string;
  batch: number;
  /** null: the run could not train (see note). */
  imagesPerSecond: number | null;
  /** Median wall time of one step (training) or of one batch (scoring). */
  msPerStep?: number;
  /** Median process CPU time (user + system, all threads) of one step; single-threaded, close to the wall time on an idle core. */
  cpuMsPerStep?: number;
  steps?: number;
  note?: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Times `step(i)` `steps` times after `warmup` untimed calls; images/s from the median wall time. */
export async function trainingRow(
  name: string,
  batch: number,
  warmup: number,
  steps: number,
  step: (i: number) => unknown | Promise<unknown>,
  note = '',
): Promise<Row> {
  // Steps are numbered from 1: tfjs treats a seed of 0 as "no seed".
  for (let i = 1; i <= warmup; i++) await step(i);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await step(warmup + 1 + i);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const ms = median(wall);
  return { name, batch, imagesPerSecond: (batch * 1000) / ms, msPerStep: ms, cpuMsPerStep: median(cpu), steps, note };
}
