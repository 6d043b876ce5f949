import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { NOVELTY_SCORES } from '../src/config';
import { AloccError } from '../src/errors';
import { plotLosses } from '../src/commands/plot-losses';
import { renderLossChart } from '../src/plot/loss-chart';
import { findFontFiles, resolveChartFontFamily } from '../src/plot/fonts';
import { BatchRecord, EpochRecord, RunFile, pickBestEpoch } from '../src/run/runfile';
import { explain } from '../src/commands/advice';
import { runFileFixture } from './helpers/run-file';

/** A run whose validation loss is lowest at epoch `bestAt` (when it has that many epochs). */
function syntheticRun(epochs: number, batchesPerEpoch: number, bestAt = 3): RunFile {
  const batches: BatchRecord[] = [];
  const records: EpochRecord[] = [];
  for (let e = 1; e <= epochs; e++) {
    for (let b = 0; b < batchesPerEpoch; b++) {
      const t = e - 1 + (b + 1) / batchesPerEpoch;
      const wiggle = Math.sin(batches.length * 1.7);
      batches.push({
        epoch: e,
        batch: b,
        fractionalEpoch: t,
        reconLoss: 0.1 + 0.5 * Math.exp(-2 * t) + 0.01 * wiggle,
        dLossReal: 0.4 + 0.1 * wiggle,
        dLossFake: 0.6 - 0.1 * wiggle,
        gLoss: 1.2,
        advLoss: 1.1 + 0.2 * wiggle,
      });
    }
    records.push({
      epoch: e,
      mean: { dLossReal: 0.4, dLossFake: 0.6, gLoss: 1.2, reconLoss: 0.15, advLoss: 1.1 },
      valReconLoss: 0.12 + 0.01 * Math.abs(e - bestAt),
      threshold: 0.2,
      wallSeconds: 1,
      imagesPerSecond: 500,
      validation: Object.fromEntries(NOVELTY_SCORES.map((s) => [s, { mean: 0.12 + 0.01 * Math.abs(e - bestAt), threshold: 0.2 }])) as EpochRecord['validation'],
      memory: { images: 100, features: 1568 },
      checksums: {},
    });
  }
  return runFileFixture(
    { noveltyScore: 'bce' },
    {
      config: { data: { source: 'mnist', class: 4, folder: null } },
      updatedAt: '2026-01-01T00:00:00.000Z',
      trainImages: 5000,
      validationImages: 500,
      memoryImages: { count: 100, sha256: 'a'.repeat(64) },
      epochs: records,
      batches,
      bestEpoch: pickBestEpoch(records),
    },
  );
}

interface PixelStats {
  width: number;
  height: number;
  distinctColours: number;
  /** Near-black pixels in the top band, where the title is drawn. */
  darkInTitleBand: number;
  /** Pixels of the best-epoch marker's colour. */
  markerPixels: number;
  /** Pixels of the per-batch reconstruction line's colour. */
  reconPixels: number;
}

function near(r: number, g: number, b: number, hex: string): boolean {
  const [R, G, B] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return Math.abs(r - R) <= 12 && Math.abs(g - G) <= 12 && Math.abs(b - B) <= 12;
}

function pixelStats(png: Buffer): PixelStats {
  const img = PNG.sync.read(png);
  const colours = new Set<number>();
  let darkInTitleBand = 0;
  let markerPixels = 0;
  let reconPixels = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 4;
      const [r, g, b, a] = [img.data[i], img.data[i + 1], img.data[i + 2], img.data[i + 3]];
      assert.equal(a, 255, 'background must be opaque white, not transparent');
      colours.add((r << 16) | (g << 8) | b);
      if (y < 50 && r < 80 && g < 80 && b < 80) darkInTitleBand++;
      if (near(r, g, b, '#6a3d9a')) markerPixels++;
      if (near(r, g, b, '#1f77b4')) reconPixels++;
    }
  }
  return { width: img.width, height: img.height, distinctColours: colours.size, darkInTitleBand, markerPixels, reconPixels };
}

test('chart of a 5-epoch run has its size, a drawn title, the loss lines and the best-epoch marker', () => {
  const stats = pixelStats(renderLossChart(syntheticRun(5, 40), { width: 900, height: 500 }));
  assert.equal(stats.width, 900);
  assert.equal(stats.height, 500);
  assert.ok(stats.distinctColours > 100, `only ${stats.distinctColours} colours: chart looks blank`);
  assert.ok(stats.darkInTitleBand > 200, `only ${stats.darkInTitleBand} dark pixels where the title should be`);
  assert.ok(stats.reconPixels > 300, `only ${stats.reconPixels} pixels of the reconstruction line`);
  assert.ok(stats.markerPixels > 200, `only ${stats.markerPixels} pixels of the best-epoch marker`);
});

test('no best-epoch marker before any epoch completed', () => {
  const run = syntheticRun(1, 10);
  run.epochs = [];
  run.bestEpoch = null;
  const stats = pixelStats(renderLossChart(run, { width: 600, height: 400 }));
  assert.equal(stats.markerPixels, 0);
  assert.ok(stats.reconPixels > 50);
});

test('a run of 1 epoch and 1 batch renders, with its best epoch marked', () => {
  const stats = pixelStats(renderLossChart(syntheticRun(1, 1, 1)));
  assert.equal(stats.width, 1200);
  assert.equal(stats.height, 700);
  assert.ok(stats.darkInTitleBand > 200);
  assert.ok(stats.markerPixels > 200);
});

test('thousands of batches render quickly', () => {
  const started = Date.now();
  const stats = pixelStats(renderLossChart(syntheticRun(100, 50), { width: 800, height: 450 }));
  assert.ok(Date.now() - started < 10_000);
  assert.ok(stats.reconPixels > 300);
});

test('a chart size outside 200..8000 pixels is refused', () => {
  assert.throws(() => renderLossChart(syntheticRun(1, 1), { width: 50 }), AloccError);
  assert.throws(() => renderLossChart(syntheticRun(1, 1), { height: 600.5 }), AloccError);
});

function tempCheckpoints(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-plot-'));
}

test('plotLosses writes losses.png beside run.json and returns its path, leaving no temporary file', async () => {
  const dir = tempCheckpoints();
  const runDir = path.join(dir, 'digit-4');
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, 'run.json'), JSON.stringify(syntheticRun(2, 5)));
  const written = await plotLosses({ digit: 4, checkpointDir: dir });
  assert.equal(written, path.join(runDir, 'losses.png'));
  assert.equal(PNG.sync.read(fs.readFileSync(written)).width, 1200);
  assert.deepEqual(fs.readdirSync(runDir).sort(), ['losses.png', 'run.json']);

  const custom = path.join(dir, 'chart.png');
  assert.equal(await plotLosses({ digit: 4, checkpointDir: dir, out: custom, width: 640, height: 360 }), custom);
  assert.equal(PNG.sync.read(fs.readFileSync(custom)).height, 360);
});

test('plotLosses without a run file says how to create one', async () => {
  const dir = tempCheckpoints();
  await assert.rejects(plotLosses({ digit: 7, checkpointDir: dir }), (err: unknown) => {
    assert.ok(err instanceof AloccError);
    assert.equal(explain(err), `no trained run at ${path.join(dir, 'digit-7')} (it has no run.json); create one with: alocc train --digit 7 --checkpoint-dir ${dir}`);
    return true;
  });
});

test('plotLosses names a run file that is not valid JSON or not a run', async () => {
  const dir = tempCheckpoints();
  const file = path.join(dir, 'digit-2', 'run.json');
  fs.mkdirSync(path.dirname(file));
  fs.writeFileSync(file, '{"format": "alocc-run", ');
  await assert.rejects(plotLosses({ digit: 2, checkpointDir: dir }), (err: unknown) => {
    assert.ok(err instanceof AloccError);
    assert.ok(err.message.startsWith(`${file} is not valid JSON`), err.message);
    return true;
  });
  fs.writeFileSync(file, '{"hello": 1}');
  await assert.rejects(plotLosses({ digit: 2, checkpointDir: dir }), /is not an alocc run file/);
  assert.ok(!fs.existsSync(path.join(dir, 'digit-2', 'losses.png')));
});

test('font resolution fails loudly when no font can draw text', () => {
  const noFonts = {
    families: () => [],
    searchDirs: [tempCheckpoints()],
    register: () => null,
    drawsText: () => false,
  };
  assert.throws(() => resolveChartFontFamily(noFonts), (err: unknown) => {
    assert.ok(err instanceof AloccError);
    assert.match(err.message, /no usable font found .*ALOCC_FONT=/);
    return true;
  });
  assert.throws(() => resolveChartFontFamily({ ...noFonts, explicitFile: '/nonexistent/font.ttf' }), /ALOCC_FONT=\/nonexistent\/font.ttf/);
});

test('font resolution uses a known family, else registers a font file found on disk', () => {
  const registered: string[] = [];
  const base = { searchDirs: [], register: (f: string) => (registered.push(f), 'from-file'), drawsText: () => true };
  assert.equal(resolveChartFontFamily({ ...base, families: () => ['Noto Color Emoji', 'DejaVu Sans'] }), 'DejaVu Sans');

  const dir = tempCheckpoints();
  fs.mkdirSync(path.join(dir, 'truetype', 'dejavu'), { recursive: true });
  for (const name of ['AAA-Symbols.ttf', 'truetype/dejavu/DejaVuSans.ttf', 'readme.txt']) fs.writeFileSync(path.join(dir, name), '');
  assert.deepEqual(findFontFiles([dir]).map((f) => path.relative(dir, f)), ['truetype/dejavu/DejaVuSans.ttf', 'AAA-Symbols.ttf']);
  assert.equal(resolveChartFontFamily({ ...base, searchDirs: [dir], families: () => ['Noto Color Emoji'] }), 'from-file');
  assert.deepEqual(registered, [path.join(dir, 'truetype/dejavu/DejaVuSans.ttf')]);
});
