/**
 * Measures anomaly maps on a localisation benchmark (bench/localisation/build.ts) with a trained run: image AUROC
 * (defective vs intact) of the global knn verdict and of local scores, pixel AUROC and PRO (to FPR 0.3), for cell
 * distances to the nearest memory cell at any position (PatchCore) and at the same position (PaDiM-like).
 *
 *   npx tsx bench/localisation/measure.ts --run RUN_DIR --bench .bench/localisation/mnist-3 [--limit 200] [--overlays DIR]
 *
 * --overlays writes the first 8 defective pictures' overlays (src/plot/overlay.ts) for each neighbourhood. Their colour
 * scale here comes from the intact pictures' cells, a stand-in for the validation cells a run would store.
 *
 * The memory's cells are recomputed from the run's stored memory images (their count is printed with the time it took).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { readImage } from '../../src/data/decode';
import { readMasks } from '../../src/data/masks';
import { localisationReport, ScoredPicture } from '../../src/eval/localisation';
import { openRun } from '../../src/run/open';
import { anomalyMaps, buildCellMemory, CellNeighbourhood, disposeCellMemory, localScore } from '../../src/score/cell-map';
import { memoryDistances } from '../../src/score/feature-memory';
import { mapScaleFrom, renderOverlayPng } from '../../src/plot/overlay';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const runDir = arg('run');
  const bench = arg('bench');
  if (!runDir || !bench) throw new Error('usage: measure.ts --run RUN_DIR --bench BENCH_DIR [--limit N]');
  const limit = Number(arg('limit', '200'));
  console.log(`backend: ${(await selectBackend('auto')).label}`);
  const opened = openRun(runDir);
  const pre = opened.preprocessing;
  const names = fs.readdirSync(path.join(bench, 'defective')).filter((f) => f.endsWith('.png')).sort().slice(0, limit);
  const load = async (sub: string) => Promise.all(names.map((f) => readImage(path.join(bench, sub, f), pre)));
  const [normal, defective] = [await load('normal'), await load('defective')];
  const masks = await readMasks(path.join(bench, 'masks'), names.map((f, i) => ({ file: f, width: defective[i].width, height: defective[i].height })), pre.size, pre.resize);
  for (const m of masks) if (m.problem) console.error(m.problem.message);
  const tensor = (images: typeof normal) => {
    const per = pre.size * pre.size * pre.channels;
    const x = new Float32Array(images.length * per);
    images.forEach((im, i) => x.set(im.pixels, i * per));
    return tf.tensor4d(x, [images.length, pre.size, pre.size, pre.channels]);
  };
  const [xn, xd] = [tensor(normal), tensor(defective)];
  const knn = (x: tf.Tensor4D) => tf.tidy(() => memoryDistances(opened.memory, x)).dataSync();
  const [knnNormal, knnDefective] = [knn(xn), knn(xd)];
  let t = Date.now();
  const memory = buildCellMemory(opened.firstBlock(), opened.config.train.cellPooling, opened.memoryImages());
  console.log(`${runDir} epoch ${opened.epoch}: cell memory of ${memory.images} images × ${memory.rows}×${memory.cols} cells × ${memory.dims} features built in ${Date.now() - t} ms`);
  console.log(`${names.length} intact and ${names.length} defective pictures from ${bench}`);
  console.log('| cells | image score | image AUROC | pixel AUROC | PRO@0.3 | ms/picture (maps) |');
  console.log('|---|---|---|---|---|---|');
  for (const neighbourhood of ['pooled', 'position'] as CellNeighbourhood[]) {
    t = Date.now();
    const [mapsN, mapsD] = [anomalyMaps(memory, xn, neighbourhood), anomalyMaps(memory, xd, neighbourhood)];
    const perPicture = (Date.now() - t) / (2 * names.length);
    const variants: [string, (i: number, side: 'n' | 'd') => number][] = [
      ['knn (global)', (i, side) => (side === 'n' ? knnNormal : knnDefective)[i]],
      ['max cell', (i, side) => localScore((side === 'n' ? mapsN : mapsD)[i].cells, 1)],
      ['top-3 cells', (i, side) => localScore((side === 'n' ? mapsN : mapsD)[i].cells, 3)],
    ];
    const overlays = arg('overlays');
    if (overlays) {
      fs.mkdirSync(overlays, { recursive: true });
      const scale = mapScaleFrom(mapsN.flatMap((m) => [...m.cells]));
      mapsD.slice(0, 8).forEach((m, i) => {
        const score = localScore(m.cells, 1);
        const png = renderOverlayPng({ pixels: defective[i].pixels, size: pre.size, channels: pre.channels }, m, scale, { score, threshold: scale.cellThreshold, novel: score >= scale.cellThreshold });
        fs.writeFileSync(path.join(overlays, `${neighbourhood}-${names[i]}`), png);
      });
    }
    for (const [label, score] of variants) {
      const pictures: ScoredPicture[] = [
        ...mapsN.map((m, i) => ({ map: m.map, width: m.size, height: m.size, score: score(i, 'n'), defective: false })),
        ...mapsD.map((m, i) => ({ map: m.map, width: m.size, height: m.size, score: score(i, 'd'), defective: true, mask: masks[i].mask })),
      ];
      const r = localisationReport(pictures);
      console.log(`| ${neighbourhood} | ${label} | ${r.imageAuroc.toFixed(4)} | ${r.pixelAuroc.toFixed(4)} | ${r.pro.toFixed(4)} | ${perPicture.toFixed(2)} |`);
    }
  }
  disposeCellMemory(memory);
  tf.dispose([xn, xd]);
  opened.dispose();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
