/** The Detector's TensorFlow.js engine: the run's R and D (and its knn memory) on a tfjs backend. */
import { selectBackend } from '../backend';
import { BackendChoice } from '../backend-choice';
import { openRun } from '../run/open';
import { RunAtEpoch } from '../run/select';
import { knnNovelty, scoreImages } from '../score/scorer';
import { combinedNovelty, rotationNovelty } from '../score/rotation-score';
import type { Engine } from './engine';
import type { RunMaps } from './maps';
import { runMaps } from './maps-tfjs';

export async function tfjsEngine(at: RunAtEpoch, choice: BackendChoice): Promise<Engine> {
  const backend = await selectBackend(choice);
  const run = openRun(at.dir, { at });
  let maps: RunMaps | undefined; // only when asked: scoring without maps builds no cell memory
  return {
    backend,
    score(pixels, count, want) {
      // A knn verdict without details needs R's first block only: about 5× less arithmetic at 28×28.
      if (run.score === 'knn' && !want.details && !want.reconstructions) return { novelty: knnNovelty(run.memory, pixels, count, run.preprocessing, run.firstBlock()) };
      // The same for knnRotation: R's first block and the rotation net, not the rest of R or D.
      if (run.score === 'knnRotation' && !want.details && !want.reconstructions) {
        const { size, channels } = run.preprocessing;
        const knn = knnNovelty(run.memory, pixels, count, run.preprocessing, run.firstBlock());
        return { novelty: combinedNovelty(knn, rotationNovelty(run.rotationNet!, pixels, count, size, channels), run.combination!) };
      }
      const s = scoreImages(run, pixels, count, run.preprocessing, undefined, want.reconstructions);
      return { novelty: s.novelty[run.score], details: { reconLoss: s.reconLoss, dOfR: s.dOfR, dOfX: s.dOfX } };
    },
    maps: () => (maps ??= runMaps(run, at)),
    dispose: () => {
      maps?.dispose();
      run.dispose();
    },
  };
}
