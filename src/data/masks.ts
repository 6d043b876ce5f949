/**
 * Ground-truth defect masks for eval's localisation numbers (--masks DIR): one black-and-white PNG per test picture,
 * at the path the picture has below the --novel folder with the extension .png (novel/scratch/a.jpg → DIR/scratch/a.png),
 * or, where that is missing, at DIR/a.png if no other picture is named a (a flat folder of masks for pictures in
 * subfolders); at the picture's own size; 255 marks defect pixels, 0 normal ones. Each mask is
 * brought to the run's input size the way its picture was (fill, cover or contain), nearest-neighbour so it stays
 * binary. A mask that is missing, mis-sized or not binary is one problem line naming the file and what to do; that
 * picture only drops out of pixel AUROC and PRO, everything else is scored as usual.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AloccError, firstLine } from '../errors';
import { decodeRawPixels, Preprocessing } from './decode';
import { readImageFile } from './image-file';

/** A test picture whose mask is wanted, with its own size as decoded (DecodedImage's width and height). */
export interface MaskTarget {
  file: string;
  width: number;
  height: number;
}

/** One target's mask (size×size, 1 on defect pixels) or why there is none. */
export type MaskOutcome = { file: string; mask: Uint8Array; problem?: undefined } | { file: string; mask?: undefined; problem: AloccError };

const LEFT_OUT = 'the picture is left out of pixel AUROC and PRO';

const withPng = (file: string) => {
  const base = path.basename(file);
  return path.join(path.dirname(file), `${base.includes('.') ? base.slice(0, base.lastIndexOf('.')) : base}.png`);
};

/**
 * Where the mask of `pictureFile` is looked for: its path below `root` (the --novel folder) with the extension .png,
 * in `dir`; without `root`, its file name alone.
 */
export function maskFileFor(dir: string, pictureFile: string, root?: string): string {
  const rel = root === undefined ? path.basename(pictureFile) : path.relative(root, pictureFile);
  return path.join(dir, withPng(rel));
}

/**
 * The mask file of each target: maskFileFor's, else (for a picture in a subfolder) its file name alone in `dir` where
 * no other target has that name. A missing one keeps maskFileFor's path, and a note when a flat mask was ambiguous.
 */
function maskFiles(dir: string, targets: readonly MaskTarget[], root?: string): { file: string; note?: string }[] {
  const stems = new Map<string, number>();
  for (const t of targets) stems.set(withPng(path.basename(t.file)), (stems.get(withPng(path.basename(t.file))) ?? 0) + 1);
  return targets.map((t) => {
    const own = maskFileFor(dir, t.file, root);
    if (fs.existsSync(own)) return { file: own };
    const flat = path.join(dir, withPng(path.basename(t.file)));
    if (flat === own || !fs.existsSync(flat)) return { file: own };
    const named = stems.get(path.basename(flat)) ?? 0;
    return named === 1 ? { file: flat } : { file: own, note: `${flat} is not used: ${named} pictures are named ${path.basename(flat, '.png')}` };
  });
}

/**
 * A w×h mask (any value non-zero = defect) → size×size as `resize` treats pictures (src/data/decode.ts): 'fill'
 * stretches each axis, 'cover' scales by the larger factor and crops the centre, 'contain' by the smaller and pads
 * with normal. Nearest neighbour: each output pixel takes the source pixel under its centre.
 */
export function resizeMask(mask: Uint8Array, width: number, height: number, size: number, resize: Preprocessing['resize']): Uint8Array {
  const fit = resize === 'cover' ? Math.max(size / width, size / height) : Math.min(size / width, size / height);
  const sx = resize === 'fill' ? size / width : fit;
  const sy = resize === 'fill' ? size / height : fit;
  const offX = (size - width * sx) / 2, offY = (size - height * sy) / 2;
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    const srcY = Math.floor((y + 0.5 - offY) / sy);
    if (srcY < 0 || srcY >= height) continue;
    for (let x = 0; x < size; x++) {
      const srcX = Math.floor((x + 0.5 - offX) / sx);
      if (srcX >= 0 && srcX < width && mask[srcY * width + srcX]) out[y * size + x] = 1;
    }
  }
  return out;
}

/** One mask file's pixels as 0/1 at its own size, or the problem with it. */
export async function readMask(file: string, target: MaskTarget, note?: string): Promise<Uint8Array> {
  if (!fs.existsSync(file)) {
    throw new AloccError(`${file}: no mask for ${target.file}; save a black-and-white PNG of that name (255 = defect, 0 = normal)${note ? ` (${note})` : ''}; until then ${LEFT_OUT}`);
  }
  let raw;
  try {
    raw = await decodeRawPixels(readImageFile(file), file);
  } catch (err) {
    throw new AloccError(`${firstLine(err)}; ${LEFT_OUT}`);
  }
  if (raw.width !== target.width || raw.height !== target.height) {
    throw new AloccError(
      `${file}: mask is ${raw.width}x${raw.height} but its picture ${target.file} is ${target.width}x${target.height}; save the mask at the picture's own size (${LEFT_OUT})`,
    );
  }
  const { data, channels } = raw;
  const mask = new Uint8Array(raw.width * raw.height);
  let bad = 0, first = -1;
  for (let p = 0; p < mask.length; p++) {
    const r = data[channels * p], g = data[channels * p + 1], b = data[channels * p + 2];
    const opaque = channels === 3 || data[channels * p + 3] === 255;
    if (opaque && r === g && g === b && (r === 0 || r === 255)) {
      mask[p] = r === 255 ? 1 : 0;
    } else {
      bad++;
      if (first < 0) first = p;
    }
  }
  if (bad > 0) {
    const [x, y] = [first % raw.width, Math.floor(first / raw.width)];
    const c = channels * first;
    const value = channels === 4 ? `${[...data.subarray(c, c + 4)].join(',')}` : `${[...data.subarray(c, c + 3)].join(',')}`;
    throw new AloccError(
      `${file}: mask is not binary (${bad} pixels are neither black 0 nor white 255, the first at x=${x} y=${y}: ${value}); save it opaque without anti-aliasing (${LEFT_OUT})`,
    );
  }
  return mask;
}

/**
 * The masks of `targets` (pictures found under `root`, the --novel folder) from `dir`, at size×size, one outcome per
 * target in order; problems never stop the rest.
 */
export async function readMasks(dir: string, targets: readonly MaskTarget[], size: number, resize: Preprocessing['resize'], root?: string): Promise<MaskOutcome[]> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new AloccError(`${dir}: no such folder of masks; give --masks a folder holding one PNG per test picture`);
  }
  const out: MaskOutcome[] = [];
  const files = maskFiles(dir, targets, root);
  for (const [i, target] of targets.entries()) {
    try {
      const mask = await readMask(files[i].file, target, files[i].note);
      out.push({ file: target.file, mask: resizeMask(mask, target.width, target.height, size, resize) });
    } catch (err) {
      out.push({ file: target.file, problem: err instanceof AloccError ? err : new AloccError(`${target.file}: ${firstLine(err)}`) });
    }
  }
  return out;
}
