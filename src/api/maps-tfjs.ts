/**
 * The tfjs engine's anomaly maps (src/api/maps.ts): the compiled cell search where the kernels are built, else the
 * same search with tfjs's ops over the opened run. Apart from maps.ts so that the compiled engine loads no tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { MapScale, mapScaleFrom } from '../plot/overlay';
import type { OpenedRun } from '../run/open';
import { RunAtEpoch } from '../run/select';
import { buildCellMemory, CellMemory, cellDistances, disposeCellMemory, leaveOneOutCellDistances } from '../score/cell-map';
import { compiledSearch, mapsOver, RunMaps, Search } from './maps';

/** Same position: 35 times cheaper than any position and better on centred pictures (bench/NOTES.md). */
const NEIGHBOURHOOD = 'position';

/** The run's scale from a tfjs cell memory, as maps.ts's module comment says. */
export function runMapScale(memory: CellMemory): MapScale {
  return mapScaleFrom(leaveOneOutCellDistances(memory));
}

function tfjsSearch(opened: OpenedRun): Search {
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages());
  const { size, channels } = opened.preprocessing;
  return {
    rows: memory.rows,
    cols: memory.cols,
    distances: (pixels, count) => {
      const x = tf.tensor4d(pixels, [count, size, size, channels]);
      try {
        return cellDistances(memory, x, NEIGHBOURHOOD);
      } finally {
        x.dispose();
      }
    },
    scale: () => runMapScale(memory),
    dispose: () => disposeCellMemory(memory),
  };
}

/** The tfjs engine's maps; `compiled: false` searches with tfjs's ops even where the kernels are built. */
export function runMaps(opened: OpenedRun, at: RunAtEpoch, opts: { compiled?: boolean } = {}): RunMaps {
  const { size, channels } = opened.preprocessing;
  const search = (opts.compiled ?? true ? compiledSearch(at, () => opened.memoryImages()) : null) ?? tfjsSearch(opened);
  return mapsOver(search, size, channels);
}
