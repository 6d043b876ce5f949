/**
 * A run's cell search for the TensorFlow.js side (the tfjs engine's maps, eval's local row): the compiled search where
 * the kernels are built and the run searches by position, else the same search with tfjs's ops over the opened run.
 * Apart from cell-search.ts so that the compiled engine loads no tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { rotationCellWeight } from '../score/cell-part';
import { cellPixelsOf } from '../score/cell-pixels';
import { buildCellMemory, cellDistances, disposeCellMemory, leaveOneOutCellDistances } from '../score/cell-map';
import { mapGridSide } from '../score/map-geometry';
import { rotationCellsOfNet } from '../score/rotation-cells-tfjs';
import { compiledRunCellSearch, RunCellSearch } from './cell-search';
import type { OpenedRun } from './open';

function tfjsRunCellSearch(opened: OpenedRun): RunCellSearch {
  const { size, channels } = opened.preprocessing;
  const weight = rotationCellWeight(opened.config.train);
  if (weight > 0 && !opened.rotationNet) throw new Error(`${opened.dir}: the maps read the rotation net's cells but the run has no rotation net`);
  const cells = mapGridSide(size);
  const part = weight > 0 ? rotationCellsOfNet(opened.rotationNet!, cells, cells, weight) : undefined;
  const pixels = cellPixelsOf(opened.config.train, size, channels);
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages(), { part, pixels });
  const { cellNeighbourhood } = opened.config.train;
  return {
    rows: memory.rows,
    cols: memory.cols,
    distances: (pixels, count) => {
      const x = tf.tensor4d(pixels, [count, size, size, channels]);
      try {
        return cellDistances(memory, x, cellNeighbourhood);
      } finally {
        x.dispose();
      }
    },
    leaveOneOut: (probes) => leaveOneOutCellDistances(memory, probes),
    dispose: () => disposeCellMemory(memory),
  };
}

/** The opened run's cell search; `compiled: false` searches with tfjs's ops even where the kernels are built. */
export function runCellSearch(opened: OpenedRun, opts: { compiled?: boolean } = {}): RunCellSearch {
  return (opts.compiled ?? true ? compiledRunCellSearch(opened, () => opened.memoryImages()) : null) ?? tfjsRunCellSearch(opened);
}
