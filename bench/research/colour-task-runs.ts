/**
 * What the colour-benchmark probes share: the tasks a runs folder holds, each run opened with its task's test
 * pictures and its stored validation pictures, and the verdict's two parts standardised on those validation pictures
 * as knnRotation standardises them (src/score/rotation-score.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { folderPreprocessing } from '../../src/data/folder';
import { floatsOf, ImageSet, LabelledSet } from '../../src/data/source';
import { labelledFolders } from '../../src/data/test-images';
import { openRun, OpenedRun } from '../../src/run/open';
import { scaleOf } from '../../src/score/rotation-score';
import { scoreImages } from '../../src/score/scorer';

/** The tasks of RUNS_DIR (its sub-folders with a run.json), sorted. */
export function tasksIn(runsDir: string): string[] {
  return fs.readdirSync(runsDir).filter((t) => fs.existsSync(path.join(runsDir, t, 'run.json'))).sort();
}

export interface ColourTaskRun {
  opened: OpenedRun;
  /** The task's normal then novel test pictures, `isNovel` set. */
  test: LabelledSet;
  validation: ImageSet;
}

/** The run RUNS_DIR/<task> at its chosen epoch with TASKS_DIR/<task>/{normal,novel}; the caller disposes `opened`. */
export async function openTaskRun(tasksDir: string, runsDir: string, task: string): Promise<ColourTaskRun> {
  const opened = openRun(path.join(runsDir, task));
  const { size, channels } = opened.preprocessing;
  const { test } = await labelledFolders(path.join(tasksDir, task, 'normal'), path.join(tasksDir, task, 'novel'), folderPreprocessing(size, channels, 'fill'));
  return { opened, test, validation: opened.validationImages()! };
}

/** (x − the validation pictures' mean) / their sd, for each test value. */
export function standardised(test: ArrayLike<number>, validation: ArrayLike<number>): number[] {
  const { mean, sd } = scaleOf(validation);
  return Array.from(test, (x) => (x - mean) / sd);
}

/** The knn and rotation parts of the run's verdict on its test pictures, standardised; the run's rotation cap. */
export function verdictParts({ opened, test, validation }: ColourTaskRun): { knn: number[]; rotation: number[]; cap: number } {
  const t = scoreImages(opened, floatsOf(test), test.count, opened.preprocessing).novelty;
  const v = scoreImages(opened, floatsOf(validation), validation.count, opened.preprocessing).novelty;
  return { knn: standardised(t.knn, v.knn), rotation: standardised(t.rotation, v.rotation), cap: opened.config.train.rotationCap ?? 2 };
}
