/**
 * Anomaly maps for the Detector (`score(x, { map: true })`, `alocc score --maps`, `POST /score?map=1`): each
 * picture's same-position cell distances (src/score/cell-map.ts) and its overlay in the run's fixed colour scale.
 *
 * The scale is the run's, never the picture's (src/plot/overlay.ts), and derived from the run folder alone so that
 * every load of a run paints equal distances in equal colours: the same-position cell distances of SCALE_PROBES of
 * the run's stored memory images (evenly spaced, no seed), each against the memory built from them without itself.
 * INTERIM: issue 23 wants the scale computed at training time from the validation pictures' cells and stored in the
 * run file, checksummed, per epoch; until then memory images stand in for validation pictures (they were trained on,
 * so the scale runs a little low and the cell threshold flags a little more than a validation one would).
 */
import * as tf from '@tensorflow/tfjs';
import { MapScale, mapScaleFrom, renderOverlayPng } from '../plot/overlay';
import type { OpenedRun } from '../run/open';
import { anomalyMaps, buildCellMemory, CellMemory, disposeCellMemory, leaveOneOutCellDistances } from '../score/cell-map';
import type { NamedImage, ScoreMap, ScoreResult } from './verdicts';

/** Same position: 35 times cheaper than any position and better on centred pictures (bench/NOTES.md). */
const NEIGHBOURHOOD = 'position';

/** The run's scale as the module comment says: deterministic, from the run's memory images alone. */
export function runMapScale(memory: CellMemory): MapScale {
  return mapScaleFrom(leaveOneOutCellDistances(memory));
}

export interface RunMaps {
  scale: MapScale;
  /** The maps of decoded pictures with their results (for the overlay's caption), in order. */
  maps(items: NamedImage[], results: ScoreResult[]): ScoreMap[];
  dispose(): void;
}

/** The memory's cells and the run's scale, built once (a few seconds for thousands of memory images). */
export function runMaps(opened: OpenedRun): RunMaps {
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages());
  let scale: MapScale;
  try {
    scale = runMapScale(memory);
  } catch (err) {
    disposeCellMemory(memory);
    throw err;
  }
  const { size, channels } = opened.preprocessing;
  return {
    scale,
    maps(items, results) {
      if (items.length === 0) return [];
      const per = size * size * channels;
      const pixels = new Float32Array(items.length * per);
      items.forEach((item, i) => pixels.set(item.image.pixels, i * per));
      const x = tf.tensor4d(pixels, [items.length, size, size, channels]);
      try {
        return anomalyMaps(memory, x, NEIGHBOURHOOD).map((m, i) => ({
          cells: Array.from({ length: m.rows }, (_, r) => Array.from(m.cells.subarray(r * m.cols, (r + 1) * m.cols))),
          cellThreshold: scale.cellThreshold,
          overlayPng: new Uint8Array(renderOverlayPng({ pixels: items[i].image.pixels, size, channels }, m, scale, {
            score: results[i].novelty, threshold: results[i].threshold, novel: results[i].verdict === 'novel',
          })),
        }));
      } finally {
        x.dispose();
      }
    },
    dispose: () => disposeCellMemory(memory),
  };
}
