/**
 * The tfjs engine's anomaly maps (src/api/maps.ts): the run's cell search (compiled where the kernels are built, else
 * tfjs's ops; src/run/cell-search-tfjs.ts). Apart from maps.ts so that the compiled engine loads no tfjs.
 */
import { runCellSearch } from '../run/cell-search-tfjs';
import type { OpenedRun } from '../run/open';
import { RunAtEpoch } from '../run/select';
import { mapsOver, RunMaps } from './maps';

/** The tfjs engine's maps; `compiled: false` searches with tfjs's ops even where the kernels are built. */
export function runMaps(opened: OpenedRun, at: RunAtEpoch, opts: { compiled?: boolean } = {}): RunMaps {
  return mapsOver(runCellSearch(opened, opts), at);
}
