/**
 * Research probe (issue 22): on small colour folders the knn memory holds a few hundred pictures; does it cover the
 * normal group better with each memory picture's mirror image (and copies moved by a few pixels) beside it? For each
 * run of a colour-benchmark runs folder, at its chosen epoch: the knn part with the run's memory and with augmented
 * memories, alone and in knnRotation (each part standardised on the run's validation pictures, the rotation part
 * capped as the product caps it). No label chooses anything; AUROC only grades.
 *
 *   npx tsx bench/research/colour-memory-mirror.ts TASKS_DIR RUNS_DIR
 */
import { selectBackend } from '../../src/backend';
import { floatsOf, ImageSet } from '../../src/data/source';
import { knnNovelty } from '../../src/score/scorer';
import { buildFeatureMemory, disposeFeatureMemory } from '../../src/score/feature-memory';
import { auroc } from '../../src/eval/metrics';
import { openTaskRun, standardised, tasksIn, verdictParts } from './colour-task-runs';

type Move = { mirror: boolean; dy: number; dx: number };

/** Each picture of `set` moved as `move` says (mirrored left-right first, then shifted; the uncovered border white). */
function moved(set: ImageSet, move: Move): Uint8Array {
  const { size: s, channels: c, count } = set;
  const out = new Uint8Array(set.pixels.length).fill(255);
  for (let n = 0; n < count; n++)
    for (let y = 0; y < s; y++) {
      const sy = y - move.dy;
      if (sy < 0 || sy >= s) continue;
      for (let x = 0; x < s; x++) {
        let sx = x - move.dx;
        if (sx < 0 || sx >= s) continue;
        if (move.mirror) sx = s - 1 - sx;
        for (let k = 0; k < c; k++) out[((n * s + y) * s + x) * c + k] = set.pixels[((n * s + sy) * s + sx) * c + k];
      }
    }
  return out;
}

function withCopies(set: ImageSet, moves: Move[]): ImageSet {
  const pixels = new Uint8Array(set.pixels.length * (1 + moves.length));
  pixels.set(set.pixels);
  moves.forEach((m, i) => pixels.set(moved(set, m), (i + 1) * set.pixels.length));
  return { ...set, pixels, count: set.count * (1 + moves.length) };
}

const VARIANTS: Record<string, Move[]> = {
  mirror: [{ mirror: true, dy: 0, dx: 0 }],
  shift2: [{ mirror: false, dy: 2, dx: 0 }, { mirror: false, dy: -2, dx: 0 }, { mirror: false, dy: 0, dx: 2 }, { mirror: false, dy: 0, dx: -2 }],
  mirrorShift2: [{ mirror: true, dy: 0, dx: 0 }, { mirror: false, dy: 2, dx: 0 }, { mirror: false, dy: -2, dx: 0 }, { mirror: false, dy: 0, dx: 2 }, { mirror: false, dy: 0, dx: -2 }],
};

async function main() {
  const [tasksDir, runsDir] = process.argv.slice(2);
  await selectBackend('wasm');
  const rows: Record<string, number>[] = [];
  for (const task of tasksIn(runsDir)) {
    const run = await openTaskRun(tasksDir, runsDir, task);
    const { opened, test, validation: val } = run;
    const memorySet = opened.memoryImages();
    const block = opened.firstBlock();
    const parts = verdictParts(run);
    const rot = parts.rotation.map((r) => Math.min(r, parts.cap));
    const row: Record<string, number> = { memory: opened.memory.images, stored: memorySet.count };
    const record = (name: string, knnT: ArrayLike<number>, knnV: ArrayLike<number>) => {
      const zk = standardised(knnT, knnV);
      row[`knn ${name}`] = auroc(knnT, test.isNovel);
      row[`knnRot ${name}`] = auroc(zk.map((k, i) => k + rot[i]), test.isNovel);
    };
    row['knn run'] = auroc(knnNovelty(opened.memory, floatsOf(test), test.count, test, block), test.isNovel);
    row['knnRot run'] = auroc(parts.knn.map((k, i) => k + rot[i]), test.isNovel);
    for (const [name, moves] of Object.entries(VARIANTS)) {
      const memory = buildFeatureMemory(opened.memory.features, withCopies(memorySet, moves), opened.memory.k);
      try {
        record(name, knnNovelty(memory, floatsOf(test), test.count, test, block), knnNovelty(memory, floatsOf(val), val.count, val, block));
      } finally {
        disposeFeatureMemory(memory);
      }
    }
    rows.push(row);
    console.log(JSON.stringify({ task, ...Object.fromEntries(Object.entries(row).map(([k, x]) => [k, +x.toFixed(4)])) }));
    opened.dispose();
  }
  const keys = Object.keys(rows[0]);
  console.log(JSON.stringify({ task: 'mean', ...Object.fromEntries(keys.map((k) => [k, +(rows.reduce((s, r) => s + r[k], 0) / rows.length).toFixed(4)])) }));
}

main().catch((err) => { console.error(err); process.exit(1); });
