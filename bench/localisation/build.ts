/**
 * The localisation benchmark (issue 23): held-out normal test pictures intact, the same pictures with a seeded
 * synthetic defect, and the defects' masks, for `alocc eval --masks`.
 *
 *   npx tsx bench/localisation/build.ts --data mnist --class 3 [--count 200] [--seed 0] [--out DIR]
 *   npx tsx bench/localisation/build.ts --data fashion --class 7
 *   npx tsx bench/localisation/build.ts --data emoji --task food [--tasks .bench/colour/tasks]
 *
 * Writes `<out>/normal/<name>.png` (intact), `<out>/defective/<name>.png` (the same picture with its defect),
 * `<out>/masks/<name>.png` (255 on the changed pixels, 0 elsewhere) and `<out>/manifest.json` (each defect's kind,
 * coverage and source). The default out is `.bench/localisation/<data>-<class or task>`.
 *
 * MNIST and Fashion-MNIST: the class's test pictures (never trained on), a patch of a test picture of another class
 * pasted at a random place. Emoji: the task's held-out `normal/` pictures (bench/colour/build.ts lays them out) on
 * white, as alocc reads them; half (seeded) get a CutPaste patch of a picture from the task's `novel/` folder (other
 * groups), half a thin scar of a random colour. Every defect changes 2-10 % of the picture (defects.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { decodeRawPixels } from '../../src/data/decode';
import { fashionSplit } from '../../src/data/fashion-mnist';
import { loadMnistRaw, MNIST_PIXELS } from '../../src/data/mnist';
import { deriveSeed, mulberry32, randomInt, Rng, seededPermutation } from '../../src/data/random';
import { Defect, drawScar, pastePatch, Picture } from './defects';

export interface BenchSource {
  /** Held-out normal pictures, and pictures of other classes to take patches from. */
  normal: Picture[];
  normalNames: string[];
  others: Picture[];
  /** Whether scars join patches (the emoji benchmark). */
  scars: boolean;
}

export interface BuiltPicture {
  name: string;
  kind: Defect['kind'];
  coverage: number;
}

/** Grey 28×28 pictures from a byte array of them. */
function greyPictures(pixels: Uint8Array, count: number): Picture[] {
  return Array.from({ length: count }, (_, i) => ({ pixels: pixels.slice(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), size: 28, channels: 1 }));
}

export function mnistSource(digit: number): BenchSource {
  const raw = loadMnistRaw('test');
  const rows = (keep: (label: number) => boolean) => Array.from({ length: raw.count }, (_, i) => i).filter((i) => keep(raw.labels[i]));
  const picture = (i: number): Picture => ({ pixels: raw.pixels.slice(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), size: 28, channels: 1 });
  const normal = rows((l) => l === digit);
  return {
    normal: normal.map(picture),
    normalNames: normal.map((i) => `mnist-${digit}-test${String(i).padStart(5, '0')}`),
    others: rows((l) => l !== digit).map(picture),
    scars: false,
  };
}

export function fashionSource(cls: number): BenchSource {
  const own = fashionSplit(cls, 'test');
  const others = Array.from({ length: 10 }, (_, c) => c).filter((c) => c !== cls).flatMap((c) => {
    const split = fashionSplit(c, 'test');
    return greyPictures(split.pixels, split.count);
  });
  return {
    normal: greyPictures(own.pixels, own.count),
    normalNames: Array.from({ length: own.count }, (_, i) => `fashion-${cls}-test${String(i).padStart(4, '0')}`),
    others,
    scars: false,
  };
}

/** An emoji PNG as RGB bytes on white (transparency as alocc's photos read it). */
async function emojiPicture(file: string): Promise<Picture> {
  const raw = await decodeRawPixels(fs.readFileSync(file), file);
  if (raw.width !== raw.height) throw new Error(`${file}: ${raw.width}x${raw.height} is not square`);
  const pixels = new Uint8Array(raw.width * raw.height * 3);
  for (let p = 0; p < raw.width * raw.height; p++) {
    const alpha = raw.channels === 4 ? raw.data[4 * p + 3] / 255 : 1;
    for (let c = 0; c < 3; c++) pixels[3 * p + c] = Math.round(alpha * raw.data[raw.channels * p + c] + (1 - alpha) * 255);
  }
  return { pixels, size: raw.width, channels: 3 };
}

export async function emojiSource(taskDir: string): Promise<BenchSource> {
  const list = (sub: string) => fs.readdirSync(path.join(taskDir, sub)).filter((f) => f.endsWith('.png')).sort();
  const normalFiles = list('normal');
  const normal = await Promise.all(normalFiles.map((f) => emojiPicture(path.join(taskDir, 'normal', f))));
  const others = await Promise.all(list('novel').map((f) => emojiPicture(path.join(taskDir, 'novel', f))));
  return { normal, normalNames: normalFiles.map((f) => f.replace(/\.png$/, '')), others, scars: true };
}

/** The defect of normal picture i: seeded by (seed, i) alone, so a larger --count keeps the first pictures' defects. */
export function defectFor(source: BenchSource, i: number, seed: number): Defect {
  const rng: Rng = mulberry32(deriveSeed(seed, 1000 + i) || 1);
  if (source.scars && rng() < 0.5) return drawScar(source.normal[i], rng);
  return pastePatch(source.normal[i], source.others[randomInt(rng, source.others.length)], rng);
}

function writePng(file: string, pixels: Uint8Array, size: number, channels: number): void {
  const png = new PNG({ width: size, height: size, colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels);
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8 }));
}

/** Writes `count` pictures of `source` (a seeded choice of its normal pictures) under `out`; returns what it wrote. */
export function writeBench(source: BenchSource, out: string, count: number, seed: number): BuiltPicture[] {
  for (const sub of ['normal', 'defective', 'masks']) fs.mkdirSync(path.join(out, sub), { recursive: true });
  const order = seededPermutation(source.normal.length, deriveSeed(seed, 7)).slice(0, Math.min(count, source.normal.length));
  const built: BuiltPicture[] = [];
  for (const i of Array.from(order).sort((a, b) => a - b)) {
    const picture = source.normal[i];
    const defect = defectFor(source, i, seed);
    const name = source.normalNames[i];
    writePng(path.join(out, 'normal', `${name}.png`), picture.pixels, picture.size, picture.channels);
    writePng(path.join(out, 'defective', `${name}.png`), defect.pixels, picture.size, picture.channels);
    writePng(path.join(out, 'masks', `${name}.png`), defect.mask.map((v) => v * 255), picture.size, 1);
    built.push({ name, kind: defect.kind, coverage: defect.mask.reduce((s, v) => s + v, 0) / defect.mask.length });
  }
  return built;
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const data = arg('data');
  const count = Number(arg('count', '200'));
  const seed = Number(arg('seed', '0'));
  let source: BenchSource;
  let label: string;
  if (data === 'mnist' || data === 'fashion') {
    const cls = Number(arg('class'));
    if (!Number.isInteger(cls) || cls < 0 || cls > 9) throw new Error('--class must be 0-9');
    source = data === 'mnist' ? mnistSource(cls) : fashionSource(cls);
    label = `${data}-${cls}`;
  } else if (data === 'emoji') {
    const task = arg('task');
    if (!task) throw new Error('--task names a colour task (bench/colour/build.ts), e.g. food');
    source = await emojiSource(path.join(arg('tasks', '.bench/colour/tasks')!, task));
    label = `emoji-${task}`;
  } else {
    throw new Error('--data must be mnist, fashion or emoji');
  }
  const out = arg('out', path.join('.bench', 'localisation', label))!;
  const built = writeBench(source, out, count, seed);
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify({ data: label, seed, count: built.length, pictures: built }, null, 2) + '\n');
  const mean = built.reduce((s, b) => s + b.coverage, 0) / built.length;
  console.log(`${out}: ${built.length} normal, defective and mask PNGs; defects cover ${(100 * mean).toFixed(1)} % on average`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
