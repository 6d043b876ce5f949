/**
 * Research probe: the compiled rotation score's cost alone, against the compiled knn verdict's, on a run's pictures.
 *   npx tsx bench/research/rotation-score-profile.ts RUN [count]
 */
import { active, loadNativeKernels } from '../../src/kernels/addon';
import { runAtEpoch } from '../../src/run/select';
import { openRotationNet } from '../../src/run/open-rotation';
import { compiledRotationScorer } from '../../src/score/rotation-compiled';
import { openKnnRun } from '../../src/run/open-knn';
import { compiledKnnScorer } from '../../src/score/knn-verdict';

const at = runAtEpoch(process.argv[2]);
const count = Number(process.argv[3] ?? 1000);
loadNativeKernels();
const native = active()!;
const { inputSize: side, channels } = at.run.config.model;
const pixels = new Float32Array(count * side * side * channels).map((_, i) => ((i * 2654435761) % 1000) / 1000);
const rot = compiledRotationScorer(native, openRotationNet(at), side, channels);
const knn = compiledKnnScorer(native, openKnnRun(at));
for (const [name, f] of [['rotation', rot], ['knn', knn]] as const) {
  f(pixels, 32);
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    f(pixels, count);
    times.push(performance.now() - t);
  }
  console.log(name, times.map((t) => `${t.toFixed(0)} ms`).join(', '), `(${count} pictures ${side}×${side}×${channels})`);
}
