/**
 * Where `alocc score --maps` spends its time (`npx tsx bench/maps-profile.ts RUN_DIR PICTURE_FOLDER [count]`):
 * loading, decoding, the verdict, the maps' first call (the memory's cells and the scale), then per batch the cells'
 * search, the upsampling and blur, and the overlays' rendering and PNG encoding.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDetector } from '../src/api/detector';
import { mapsOver } from '../src/api/maps';
import { compiledRunCellSearch, memoryImagesOf } from '../src/run/cell-search';
import { runAtEpoch } from '../src/run/select';
import { anomalyMapsFrom } from '../src/score/map-geometry';
import { renderOverlayPng } from '../src/plot/overlay';

const [runDir, dir, count] = process.argv.slice(2);
const N = Number(count ?? 256);
const ms = (t0: number) => `${(performance.now() - t0).toFixed(0)} ms`;
(async () => {
  let t0 = performance.now();
  const det = await loadDetector(runDir, { maps: true });
  console.log(`load (${det.backend.name}): ${ms(t0)}`);
  const files = fs.readdirSync(dir).slice(0, N).map((f) => path.join(dir, f));
  t0 = performance.now();
  const items = await Promise.all(files.map(async (f) => ({ name: f, image: await det.decode(f, f) })));
  console.log(`decode ${items.length}: ${ms(t0)}`);
  t0 = performance.now();
  det.scoreDecoded(items);
  console.log(`verdicts: ${ms(t0)}`);
  t0 = performance.now();
  det.scoreDecoded(items.slice(0, 1), { map: true });
  console.log(`first map (memory cells and scale): ${ms(t0)}`);
  t0 = performance.now();
  det.scoreDecoded(items, { map: true });
  console.log(`verdicts and maps: ${ms(t0)}`);
  t0 = performance.now();
  det.scoreDecoded(items, { map: true });
  console.log(`verdicts and maps again: ${ms(t0)}`);
  const at = runAtEpoch(runDir);
  const search = compiledRunCellSearch(at, () => memoryImagesOf(at));
  if (!search) throw new Error('no compiled kernels');
  const { size, channels } = det.info.preprocessing;
  const per = size * size * channels;
  const pixels = new Float32Array(items.length * per);
  items.forEach((it, i) => pixels.set(it.image.pixels, i * per));
  t0 = performance.now();
  const d = search.distances(pixels, items.length);
  console.log(`cells' search: ${ms(t0)}`);
  t0 = performance.now();
  const maps = anomalyMapsFrom(d, items.length, search.rows, search.cols, size);
  console.log(`upsample and blur: ${ms(t0)}`);
  const { scale } = mapsOver(search, at).calibration;
  t0 = performance.now();
  let bytes = 0;
  maps.forEach((m, i) => (bytes += renderOverlayPng({ pixels: items[i].image.pixels, size, channels }, m, scale, { score: 0.1, threshold: 0.2, novel: false }).length));
  console.log(`overlays: ${ms(t0)}, ${(bytes / items.length / 1024).toFixed(1)} KiB each`);
  det.dispose();
})();
