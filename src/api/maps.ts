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
 *
 * The cells are searched on the compiled kernels where they are built (src/score/cell-search.ts: 0.12 s for 256
 * pictures at 28×28 where tfjs's ops took 13.6 s, docs/performance.md), whichever engine scores; else with tfjs's ops.
 */
import { ImageSet } from '../data/source';
import { active, loadNativeKernels } from '../kernels/addon';
import { MapScale, mapScaleFrom, renderOverlayPng } from '../plot/overlay';
import { openKnnRun } from '../run/open-knn';
import { MEMORY_IMAGES_FILE } from '../run/paths';
import { preprocessingOf, RunAtEpoch } from '../run/select';
import { readVerified } from '../run/verified';
import { anomalyMapsFrom, SCALE_PROBES } from '../score/map-geometry';
import { compiledCellSearch } from '../score/cell-search';
import type { NamedImage, ScoreMap, ScoreResult } from './verdicts';

export interface RunMaps {
  scale: MapScale;
  /**
   * The maps of decoded pictures with their results (for the overlay's caption), in order; `pooled`: their pooled
   * first block from the compiled verdict, where it ran, so that the conv does not run twice.
   */
  maps(items: NamedImage[], results: ScoreResult[], pooled?: Float32Array): ScoreMap[];
  dispose(): void;
}

/** What the maps need of a search over the memory's cells. */
export interface Search {
  rows: number;
  cols: number;
  distances(pixels: Float32Array, count: number): Float32Array;
  distancesFromPooled?(pooled: Float32Array, count: number): Float32Array;
  /** The run's scale as the module comment says: deterministic, from the run's memory images alone. */
  scale(): MapScale;
  dispose(): void;
}

/** The run's stored memory images, verified against their checksum (OpenedRun.memoryImages without tfjs). */
export function memoryImagesOf(at: RunAtEpoch): ImageSet {
  const { run } = at;
  const bytes = readVerified(at.dir, MEMORY_IMAGES_FILE, { [MEMORY_IMAGES_FILE]: run.memoryImages.sha256 });
  // A view, not a copy: 50 MB at 64×64×3.
  return { pixels: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), count: run.memoryImages.count, size: run.config.model.inputSize, channels: run.config.model.channels };
}

/** The compiled search, or null where the kernels are not built (or turned off, or decline the block). */
export function compiledSearch(at: RunAtEpoch, images: () => ImageSet): Search | null {
  loadNativeKernels();
  const native = active();
  if (!native) return null;
  const knn = openKnnRun(at);
  const search = compiledCellSearch(native, knn.block, knn.side, knn.cellPooling, images());
  if (!search) return null;
  return { ...search, scale: () => mapScaleFrom(search.leaveOneOut(SCALE_PROBES)), dispose: () => {} };
}

/** The maps over `search`, its scale computed once here (about a second for 4,096 memory images, compiled). */
export function mapsOver(search: Search, size: number, channels: number): RunMaps {
  let scale: MapScale;
  try {
    scale = search.scale();
  } catch (err) {
    search.dispose();
    throw err;
  }
  const pixelsOf = (items: NamedImage[]) => {
    const per = size * size * channels;
    const pixels = new Float32Array(items.length * per);
    items.forEach((item, i) => pixels.set(item.image.pixels, i * per));
    return pixels;
  };
  return {
    scale,
    maps(items, results, pooled) {
      if (items.length === 0) return [];
      const distances = pooled && search.distancesFromPooled ? search.distancesFromPooled(pooled, items.length) : search.distances(pixelsOf(items), items.length);
      return anomalyMapsFrom(distances, items.length, search.rows, search.cols, size).map((m, i) => ({
        cells: Array.from({ length: m.rows }, (_, r) => Array.from(m.cells.subarray(r * m.cols, (r + 1) * m.cols))),
        cellThreshold: scale.cellThreshold,
        overlayPng: renderOverlayPng({ pixels: items[i].image.pixels, size, channels }, m, scale, {
          score: results[i].novelty, threshold: results[i].threshold, novel: results[i].verdict === 'novel',
        }),
      }));
    },
    dispose: () => search.dispose(),
  };
}

/** The compiled engine's maps (no tfjs); null where the compiled search is not available. */
export function compiledRunMaps(at: RunAtEpoch): RunMaps | null {
  const search = compiledSearch(at, () => memoryImagesOf(at));
  const { size, channels } = preprocessingOf(at.run.config);
  return search && mapsOver(search, size, channels);
}
