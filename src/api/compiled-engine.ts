/**
 * The Detector's compiled engine, no tfjs: the knn verdict on the compiled kernels (src/score/knn-verdict.ts), and
 * knnRotation's, the knn part so and the rotation net's score on them too (src/score/rotation-compiled.ts).
 */
import { AloccError } from '../errors';
import { active, largeFloats, loadNativeKernels } from '../kernels/addon';
import { openKnnRun } from '../run/open-knn';
import { combinationOf, openRotationNet } from '../run/open-rotation';
import { preprocessingOf, RunAtEpoch } from '../run/select';
import { combinedNovelty } from '../score/combined-score';
import { compiledKnnScorer, KnnScorer } from '../score/knn-verdict';
import { compiledRotationScorer } from '../score/rotation-compiled';
import type { Engine } from './engine';
import type { RunMaps } from './maps';

/** The compiled engine for `at`, or null where it does not apply: not a knn or knnRotation verdict, or no compiled kernels. */
export function compiledEngine(at: RunAtEpoch): Engine | null {
  const verdict = at.run.config.train.noveltyScore;
  if (verdict !== 'knn' && verdict !== 'knnRotation') return null;
  loadNativeKernels();
  const native = active();
  if (!native) return null;
  const knn = openKnnRun(at);
  const knnScorer = compiledKnnScorer(native, knn);
  let novelty: KnnScorer = knnScorer;
  let label = `compiled kernels (${native.isa()}), no TensorFlow.js: the knn verdict needs R's first block only`;
  if (verdict === 'knnRotation') {
    const { size, channels } = preprocessingOf(at.run.config);
    const rotation = compiledRotationScorer(native, openRotationNet(at), size, channels);
    const combination = combinationOf(at.record, at.run.config.train);
    novelty = (pixels, count, pooled) => combinedNovelty(knnScorer(pixels, count, pooled), rotation(pixels, count), combination);
    label = `compiled kernels (${native.isa()}), no TensorFlow.js: the knnRotation verdict needs R's first block and the rotation net only`;
  }
  const features = knn.memory.features;
  let maps: RunMaps | null | undefined;
  return {
    backend: { requested: 'auto', name: 'compiled', label, skipped: [] },
    score(pixels, count, want) {
      if (want.details || want.reconstructions) throw new AloccError(`${at.dir}: this detector scores on the compiled kernels, which give the ${verdict} verdict only; load it with details: true`);
      if (!want.pooled) return { novelty: novelty(pixels, count) };
      const pooled = largeFloats(count * features); // 4 MB a chunk at 64×64×3: on huge pages, as the verdict's heap
      return { novelty: novelty(pixels, count, pooled), pooled };
    },
    // Built on first use; null where the compiled search is not available (then the Detector refuses maps). Loaded
    // then too: the maps' modules (the overlay's Skia canvas among them) were a sixth of a cold score's start-up.
    maps: () => (maps ??= (require('./maps') as typeof import('./maps')).compiledRunMaps(at)),
    dispose: () => maps?.dispose(),
  };
}
