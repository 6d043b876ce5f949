/** The Detector's compiled engine: the knn verdict on the compiled kernels (src/score/knn-verdict.ts), no tfjs. */
import { AloccError } from '../errors';
import { active, largeFloats, loadNativeKernels } from '../kernels/addon';
import { openKnnRun } from '../run/open-knn';
import { RunAtEpoch } from '../run/select';
import { compiledKnnScorer } from '../score/knn-verdict';
import type { Engine } from './engine';
import { compiledRunMaps, RunMaps } from './maps';

/** The compiled knn engine for `at`, or null where it does not apply: not a knn verdict, or no compiled kernels. */
export function compiledEngine(at: RunAtEpoch): Engine | null {
  if (at.run.config.train.noveltyScore !== 'knn') return null;
  loadNativeKernels();
  const native = active();
  if (!native) return null;
  const knn = openKnnRun(at);
  const novelty = compiledKnnScorer(native, knn);
  const features = knn.memory.features;
  let maps: RunMaps | null | undefined;
  const label = `compiled kernels (${native.isa()}), no TensorFlow.js: the knn verdict needs R's first block only`;
  return {
    backend: { requested: 'auto', name: 'compiled', label, skipped: [] },
    score(pixels, count, want) {
      if (want.details || want.reconstructions) throw new AloccError(`${at.dir}: this detector scores on the compiled kernels, which give the knn verdict only; load it with details: true`);
      if (!want.pooled) return { novelty: novelty(pixels, count) };
      const pooled = largeFloats(count * features); // 4 MB a chunk at 64×64×3: on huge pages, as the verdict's heap
      return { novelty: novelty(pixels, count, pooled), pooled };
    },
    // Built on first use; null where the compiled search is not available (then the Detector refuses maps).
    maps: () => (maps ??= compiledRunMaps(at)),
    dispose: () => maps?.dispose(),
  };
}
