/**
 * Probe (issue 23): do the product's own trained rotation net's block-2 cells, concatenated to R's first-block cells
 * in one same-position search, locate the localisation benchmark's defects better than R's cells alone?
 * bench/research/map_features.py asked it of a PyTorch net trained apart; this asks it of a run's saved nets.
 *
 *   npx tsx bench/research/map-rotation-cells.ts RUN BENCH [--epoch E] [--weights 0,1] [--cell-k K] [--block B] [--sigma S]
 *       [--pixel-weight V] [--pixel-pool P] [--residual-weights U,…] [--radius N]
 *
 * RUN: a run folder (its best epoch unless --epoch); BENCH: a localisation benchmark (normal/, defective/, masks/ as
 * bench/localisation/build.ts writes it). Per weight w of the rotation part: the cell vector is [R's cells (unit) |
 * w · the rotation net's block-2 cells (unit)], the map and image score as `alocc eval --masks` computes them (the
 * run's local top-k). w = 0 is R's cells alone (the product's maps before run-file version 10). --cell-k: a cell's
 * distance is 1 − the mean of its K largest cosines with the memory's cells at its position (1: the nearest, as the
 * product). --residual-weights: each cell's distance plus U · its mean squared reconstruction error, (x − R(x))² over
 * the cell's pixels and channels (R in inference mode, the run's BatchNorm statistics); U 0 is the product's map;
 * `residualOnly` rows rank by the error alone. --radius N: a cell's nearest memory cell at any position within N cells
 * of its own (0, the product: the same position). --position-scale mean: each position's distances divided by the
 * mean leave-one-out distance of the memory's own pictures there. --loo-ratio: also print the memory pictures' mean
 * leave-one-out distance within one cell over that at the same position (how position-variable the normal class is). One JSON line per weight (and per U).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { labelledFolders } from '../../src/data/test-images';
import { readMask } from '../../src/data/masks';
import { floatsOf, ImageSet } from '../../src/data/source';
import { localisationReport, ScoredPicture } from '../../src/eval/localisation';
import { openRun } from '../../src/run/open';
import { cellFeatures } from '../../src/score/cell-map';
import { localScore } from '../../src/score/cell-scale';
import { anomalyMapsFrom, gaussianSmooth, upsampleGrid } from '../../src/score/map-geometry';
import { pixelCells } from '../../src/score/pixel-cells';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

/** [n, rows, cols, f] cells of the rotation net's second block, resampled (nearest) to rows × cols, unit per cell. */
function rotationCells(net: tf.LayersModel, x: tf.Tensor4D, rows: number, cols: number, block: number): tf.Tensor4D {
  return tf.tidy(() => {
    const trunk = tf.model({ inputs: net.inputs, outputs: net.getLayer(`rot_pool${block - 1}`).output as tf.SymbolicTensor });
    let h = trunk.predict(x) as tf.Tensor4D;
    if (h.shape[1] !== rows || h.shape[2] !== cols) h = tf.image.resizeBilinear(h, [rows, cols]);
    return tf.div(h, tf.add(tf.norm(h, 2, -1, true), 1e-12)) as tf.Tensor4D;
  });
}

async function main(): Promise<void> {
  const [runDir, bench] = process.argv.slice(2);
  const epoch = process.argv.includes('--epoch') ? Number(flag('--epoch', '0')) : undefined;
  const weights = flag('--weights', '0,1').split(',').map(Number);
  const block = Number(flag('--block', '2'));
  const cellK = Number(flag('--cell-k', '1'));
  // --sigma S: the map's blur in pixels instead of the product's half cell (0: none).
  const sigma = process.argv.includes('--sigma') ? Number(flag('--sigma', '0')) : null;
  await selectBackend('auto' as never);
  const opened = openRun(runDir, { epoch });
  const net = opened.rotationNet;
  if (!net) throw new Error(`${runDir}: no rotation net`);
  const { test } = await labelledFolders(path.join(bench, 'normal'), path.join(bench, 'defective'), opened.preprocessing);
  const masks: (Uint8Array | undefined)[] = [];
  for (let i = 0; i < test.count; i++) {
    if (!test.isNovel[i]) { masks.push(undefined); continue; }
    const file = test.files![i];
    masks.push(await readMask(path.join(bench, 'masks', path.basename(file)), { file, width: test.size, height: test.size }));
  }
  const block1 = opened.firstBlock();
  // --pixel-weight V: each cell also holds its raw pixels × V/√(values), searched by Euclidean distance, so that a
  // cell's distance/2 is (1 − cos of the network parts) + V²·(the pixels' mean squared difference)/2.
  const pixelWeight = Number(flag('--pixel-weight', '0'));
  const pixelPool = Number(flag('--pixel-pool', '1'));
  const cellsOf = (set: ImageSet, start: number, n: number, w: number) => tf.tidy(() => {
    const x = tf.tensor4d(floatsOf(set, start, n), [n, set.size, set.size, set.channels]);
    const r = cellFeatures(x, block1, opened.config.train.cellPooling);
    const own = w === 0 ? r : tf.div(tf.concat([r, tf.mul(rotationCells(net, x, r.shape[1], r.shape[2], block), w)], -1), Math.sqrt(1 + w * w));
    if (pixelWeight === 0) return own as tf.Tensor4D;
    // --pixel-pool P: the pictures averaged over P×P first (the same cell grid, P² times fewer values a cell).
    const pixels = pixelCells(pixelPool > 1 ? (tf.avgPool(x, pixelPool, pixelPool, 'valid') as tf.Tensor4D) : x);
    return tf.concat([own, tf.mul(pixels, pixelWeight / Math.sqrt(pixels.shape[3]))], -1) as tf.Tensor4D;
  });
  const residualWeights = process.argv.includes('--residual-weights') ? flag('--residual-weights', '0').split(',').map(Number) : null;
  /** [n, rows, cols] mean squared error of R's reconstruction over each cell. */
  const residualCells = (set: ImageSet, start: number, n: number, rows: number, cols: number) => tf.tidy(() => {
    const x = tf.tensor4d(floatsOf(set, start, n), [n, set.size, set.size, set.channels]);
    const err = tf.mean(tf.square(tf.sub(x, opened.r.predict(x) as tf.Tensor4D)), -1, true) as tf.Tensor4D;
    const side = Math.floor(set.size / rows);
    return (tf.avgPool(err.slice([0, 0, 0, 0], [n, side * rows, side * cols, 1]), side, side, 'valid') as tf.Tensor4D).dataSync() as Float32Array;
  });
  const radius = Number(flag('--radius', '0'));
  const memoryImages = opened.memoryImages();
  const topK = opened.config.train.localTopK;
  for (const w of weights) {
    const t0 = Date.now();
    const parts: tf.Tensor4D[] = [];
    for (let s = 0; s < memoryImages.count; s += 256) parts.push(cellsOf(memoryImages, s, Math.min(256, memoryImages.count - s), w));
    const [, rows, cols, dims] = parts[0].shape;
    const grid = rows * cols;
    const bank = tf.tidy(() => tf.concat(parts).reshape([-1, grid, dims]).transpose([1, 2, 0])); // [G, f, m]
    tf.dispose(parts);
    const variants = residualWeights ?? [null];
    const byVariant = new Map<number | null | 'only', ScoredPicture[]>([...variants.map((u) => [u, []] as [number | null, ScoredPicture[]]), ...(residualWeights ? [['only', []] as ['only', ScoredPicture[]]] : [])]);
    /** Each cell's distance to its nearest memory cell (within the radius) for pictures s..s+n of `set`; `self`: set is the memory. */
    const nearestOf = (set: ImageSet, s: number, n: number, self: boolean, within = radius): Float32Array => tf.tidy(() => {
      const q = cellsOf(set, s, n, w).reshape([n, grid, dims]).transpose([1, 0, 2]);
      // A memory picture probed against the memory: its own column out of every position's search.
      const own = self ? tf.mul(tf.oneHot(tf.range(s, s + n, 1, 'int32'), memoryImages.count), 1e9).expandDims(0) : null;
      // For each offset within the radius, the memory's cells at the shifted position (the same one where it leaves
      // the grid, which the offset 0 already covers); the nearest over all offsets.
      let nearest: tf.Tensor | null = null;
      for (let dy = -within; dy <= within; dy++) for (let dx = -within; dx <= within; dx++) {
        const at = Int32Array.from({ length: grid }, (_, g) => {
          const [r, c] = [Math.floor(g / cols) + dy, (g % cols) + dx];
          return r < 0 || r >= rows || c < 0 || c >= cols ? g : r * cols + c;
        });
        const shifted = dy === 0 && dx === 0 ? bank : tf.gather(bank, at);
        const products = own ? tf.sub(tf.matMul(q, shifted), own) : tf.matMul(q, shifted); // [G, n, m]
        let here: tf.Tensor;
        if (pixelWeight > 0) {
          // Half the squared Euclidean distance: (|q|² + |m|²)/2 − q·m; the network parts are unit, so without pixels 1 − cos.
          const half = tf.sub(tf.div(tf.add(tf.sum(tf.square(q), 2, true), tf.sum(tf.square(shifted), 1, true)), 2), products);
          here = cellK === 1 ? tf.min(half, 2) : tf.neg(tf.mean(tf.topk(tf.neg(half), cellK).values, 2));
        } else {
          here = tf.sub(1, cellK === 1 ? tf.max(products, 2) : tf.mean(tf.topk(products, cellK).values, 2));
        }
        nearest = nearest ? tf.minimum(nearest, here) : here;
      }
      return nearest!.transpose().dataSync() as Float32Array;
    });
    // --position-scale: each position's distances divided by the mean of the memory's own leave-one-out distances there
    // (PaDiM's per-position normalisation without its Gaussian), from up to 256 memory pictures.
    const positionScale = flag('--position-scale', 'none');
    let perPosition: Float32Array | null = null;
    if (positionScale !== 'none') {
      const probes = Math.min(256, memoryImages.count);
      const loo = new Float64Array(grid);
      for (let s = 0; s < probes; s += 64) {
        const n = Math.min(64, probes - s);
        const dd = nearestOf(memoryImages, s, n, true);
        for (let k = 0; k < n * grid; k++) loo[k % grid] += dd[k] / probes;
      }
      perPosition = Float32Array.from(loo, (v) => Math.max(v, 1e-6));
    }
    // --loo-ratio: how much closer the memory's own pictures (up to 256, each against the others) come to the memory
    // when a cell may match within one cell of its position: the mean leave-one-out distance at radius 1 over radius 0.
    let looRatio: number | undefined;
    if (process.argv.includes('--loo-ratio')) {
      const probes = Math.min(256, memoryImages.count);
      const mean = (within: number) => {
        let sum = 0;
        for (let s = 0; s < probes; s += 64) nearestOf(memoryImages, s, Math.min(64, probes - s), true, within).forEach((v) => (sum += v));
        return sum / (probes * grid);
      };
      looRatio = mean(1) / mean(0);
    }
    for (let s = 0; s < test.count; s += 64) {
      const n = Math.min(64, test.count - s);
      const raw = nearestOf(test, s, n, false);
      const d = perPosition ? raw.map((v, k) => v / perPosition![k % grid]) : raw;
      const residual = residualWeights ? residualCells(test, s, n, rows, cols) : null;
      for (const [u, pictures] of byVariant) {
        const dist = u === null ? d : u === 'only' ? residual! : d.map((v, i) => v + u * residual![i]);
        const maps = sigma === null ? anomalyMapsFrom(dist, n, rows, cols, test.size) : Array.from({ length: n }, (_, k) => {
          const cells = dist.slice(k * grid, (k + 1) * grid);
          const up = upsampleGrid(cells, rows, cols, test.size, test.size);
          return { cells, map: sigma === 0 ? up : gaussianSmooth(up, test.size, test.size, sigma), size: test.size };
        });
        maps.forEach((m, k) => pictures.push({
          map: m.map, width: m.size, height: m.size, score: localScore(m.cells, topK), defective: Boolean(test.isNovel[s + k]), mask: masks[s + k],
        }));
      }
    }
    bank.dispose();
    for (const [u, pictures] of byVariant) {
      const r = localisationReport(pictures);
      const round = (v: number) => Math.round(v * 1e4) / 1e4;
      const residualField = u === null ? {} : u === 'only' ? { residualOnly: true } : { residualWeight: u };
      console.log(JSON.stringify({ run: runDir, epoch: opened.epoch, bench, block, cellK, sigma, weight: w, pixelWeight, pixelPool, radius, positionScale, looRatio, ...residualField, memory: memoryImages.count, image: round(r.imageAuroc), pixel: round(r.pixelAuroc), pro: round(r.pro), seconds: (Date.now() - t0) / 1000 }));
    }
  }
  opened.dispose();
  fs.writeSync(1, '');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
