/**
 * Research helper (issue 5): recomputes, for every epoch of every run in a checkpoint folder, what the trainer
 * records for the knn score after an epoch (validation mean and threshold, the threshold of a knn run, the best
 * epoch), from the saved checkpoints. Used once when the knn feature space changed (pooled 2×2) so the 50 trained
 * checkpoints of the all-digit run need not be retrained: training never reads these numbers, and they are a pure
 * function of the checkpoint and the run's split. Label-free (validation images only).
 * Usage: npx tsx bench/research/recalibrate-knn.ts CHECKPOINT_DIR
 */
import { selectBackend } from '../../src/backend';
import { loadRunMemory } from '../../src/commands/resolve-run';
import { disposeFeatureMemory } from '../../src/score/feature-memory';
import { percentile, scoreImages } from '../../src/score/scorer';
import { loadEpochModels, runDirFor } from '../../src/run/checkpoint';
import { loadTrainingSplit } from '../../src/train/dataset';
import { pickBestEpoch } from '../../src/run/runfile';
import { readRunFileIfExists, writeRunFile } from '../../src/run/runfile-io';

async function main() {
  const dir = process.argv[2];
  await selectBackend('wasm');
  for (let digit = 0; digit <= 9; digit++) {
    const runDir = runDirFor(dir, digit);
    const run = readRunFileIfExists(runDir);
    if (!run) continue;
    const { validation } = loadTrainingSplit(run.config);
    for (const e of run.epochs) {
      const nets = loadEpochModels(runDir, run, e.epoch);
      const memory = loadRunMemory(run, nets.r);
      const knn = scoreImages({ ...nets, memory }, validation.pixels, validation.count, run.config.model.inputSize).novelty.knn;
      disposeFeatureMemory(memory);
      nets.r.dispose();
      nets.d.dispose();
      const mean = knn.reduce((a, b) => a + b, 0) / knn.length;
      e.validation!.knn = { mean, threshold: percentile(knn, run.config.train.thresholdPercentile) };
      if (run.config.train.noveltyScore === 'knn') e.threshold = e.validation!.knn.threshold;
    }
    run.bestEpoch = pickBestEpoch(run.epochs, run.config.train.noveltyScore);
    writeRunFile(runDir, run);
    console.log(`digit ${digit}: knn validation means ${run.epochs.map((e) => e.validation!.knn.mean.toFixed(4)).join(' ')}; best epoch ${run.bestEpoch}`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
