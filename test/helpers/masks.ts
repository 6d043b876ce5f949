import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeGreyPng } from './grey-png';

/**
 * Spoils three of a 28×28 benchmark's masks (in name order) the three ways eval must report: the first removed, the
 * second saved at 30×30, the third with one grey pixel of value `grey` at `at` (row-major). Returns the names.
 */
export function spoilThreeMasks(masks: string, at: number, grey: number): string[] {
  const names = fs.readdirSync(masks).sort();
  fs.rmSync(path.join(masks, names[0]));
  fs.writeFileSync(path.join(masks, names[1]), encodeGreyPng(new Uint8Array(30 * 30), 30, 30));
  const soft = new Uint8Array(784);
  soft[at] = grey;
  fs.writeFileSync(path.join(masks, names[2]), encodeGreyPng(soft, 28, 28));
  return names;
}
