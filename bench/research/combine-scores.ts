/**
 * Research probe (issue 22): label-free ways to combine the scores a rotation run computes, from its stored files
 * alone. For each run: knn, rotation and local scores on the test pictures and on the run's stored validation
 * pictures; each standardised on the validation pictures; then AUROC of several combinations.
 *
 *   npx tsx bench/research/combine-scores.ts RUNS_DIR TASKS_DIR        (runs: RUNS_DIR/<task>, tasks: TASKS_DIR/<task>/{normal,novel})
 *
 * Prints one JSON line per task and a mean line.
 */
import { selectBackend } from '../../src/backend';
import { floatsOf } from '../../src/data/source';
import { scoreImages } from '../../src/score/scorer';
import { cellScorer } from '../../src/eval/cell-scores';
import { scaleOf } from '../../src/score/rotation-score';
import { auroc } from '../../src/eval/metrics';
import { rotationNovelty } from '../../src/score/rotation-score';
import { openTaskRun, tasksIn } from './colour-task-runs';

/** The pictures mirrored left-right (HWC, concatenated). */
function mirrored(pixels: Float32Array, n: number, s: number, c: number): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < n; i++) for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) for (let k = 0; k < c; k++) out[((i * s + y) * s + x) * c + k] = pixels[((i * s + y) * s + (s - 1 - x)) * c + k];
  return out;
}

async function main() {
  const [runsDir, tasksDir] = process.argv.slice(2);
  await selectBackend('wasm');
  const rows: Record<string, number>[] = [];
  for (const task of tasksIn(runsDir)) {
    const { opened, test, validation: val } = await openTaskRun(tasksDir, runsDir, task);
    const { size, channels } = opened.preprocessing;
    const cells = cellScorer(opened);
    const scores = (pixels: Float32Array, n: number) => {
      const s = scoreImages(opened, pixels, n, opened.preprocessing);
      const flipped = rotationNovelty(opened.rotationNet!, mirrored(pixels, n, size, channels), n, size, channels);
      return { knn: s.novelty.knn, rotation: s.novelty.rotation, rotationTta: s.novelty.rotation.map((r, i) => (r + flipped[i]) / 2), local: cells.localScores(pixels, n) };
    };
    const t = scores(floatsOf(test), test.count);
    const v = scores(floatsOf(val), val.count);
    const z = (name: 'knn' | 'rotation' | 'local' | 'rotationTta') => {
      const { mean, sd } = scaleOf(v[name]);
      return Array.from(t[name], (x) => (x - mean) / sd);
    };
    const [zk, zr, zl, zt] = [z('knn'), z('rotation'), z('local'), z('rotationTta')];
    const cap = opened.config.train.rotationCap ?? Infinity;
    const acc = opened.record.rotationAccuracy ?? 0.25;
    const w = Math.max(0, (acc - 0.25) / 0.75);
    const novel = test.isNovel;
    const row = {
      knn: auroc(t.knn, novel), rotation: auroc(t.rotation, novel), local: auroc(t.local, novel),
      knnRot: auroc(zk.map((a, i) => a + zr[i]), novel),
      rotationTta: auroc(t.rotationTta, novel),
      knnRotTta: auroc(zk.map((a, i) => a + zt[i]), novel),
      knnRotAccW: auroc(zk.map((a, i) => a + w * zr[i]), novel),
      knnLocal: auroc(zk.map((a, i) => a + zl[i]), novel),
      knnRotLocal: auroc(zk.map((a, i) => a + zr[i] + zl[i]), novel),
      // The product's knnRotation (the rotation part capped at the run's rotationCap) plus the local score.
      knnRotCapLocal: auroc(zk.map((a, i) => a + Math.min(zr[i], cap) + zl[i]), novel),
      knnRotCap: auroc(zk.map((a, i) => a + Math.min(zr[i], cap)), novel),
      maxKnnRot: auroc(zk.map((a, i) => Math.max(a, zr[i])), novel),
      accuracy: acc,
    };
    rows.push(row);
    console.log(JSON.stringify({ task, ...Object.fromEntries(Object.entries(row).map(([k, x]) => [k, +x.toFixed(4)])) }));
    cells.dispose();
    opened.dispose();
  }
  const keys = Object.keys(rows[0]);
  console.log(JSON.stringify({ task: 'mean', ...Object.fromEntries(keys.map((k) => [k, +(rows.reduce((a, r) => a + r[k], 0) / rows.length).toFixed(4)])) }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
