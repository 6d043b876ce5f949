import { Row } from './rows';

/** Data-parallel training over worker threads (filled in with src/train/parallel.ts). */
export async function parallelRow(batch: number, _steps: number): Promise<Row> {
  return { name: 'train wasm, 2 workers', batch, imagesPerSecond: null, note: 'not built yet' };
}
