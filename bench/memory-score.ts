/**
 * Memory while scoring a folder (`npx tsx bench/memory-score.ts CHECKPOINT_DIR PNG_DIR`): runs `alocc score --json`
 * in-process and prints, every 1,000 files, the process RSS, the JS heap, the wasm heap and tfjs' tensor count.
 */
import * as tf from '@tensorflow/tfjs';
import { score } from '../src/commands/score';

async function main() {
  const [checkpointDir, folder] = process.argv.slice(2);
  if (!checkpointDir || !folder) throw new Error('usage: npx tsx bench/memory-score.ts CHECKPOINT_DIR PNG_DIR');
  let lines = 0;
  let reported = -1;
  const out = {
    write: (text: string) => {
      lines += text.split('\n').length - 1;
      if (Math.floor(lines / 1000) !== reported) {
        reported = Math.floor(lines / 1000);
        const m = process.memoryUsage();
        const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;
        console.log(`${lines} files: rss ${(m.rss / 2 ** 20).toFixed(0)} MB, JS heap ${(m.heapUsed / 2 ** 20).toFixed(0)} MB, wasm heap ${(wasm / 2 ** 20).toFixed(0)} MB, ${tf.memory().numTensors} tensors`);
      }
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  await score({ paths: [folder], checkpointDir, invert: 'auto', fit: 'auto', json: true, backend: 'wasm', out, log: process.stderr });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
