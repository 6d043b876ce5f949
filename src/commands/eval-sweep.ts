/**
 * `alocc eval --all-digits/--all-classes [--seeds]`: trains (or resumes) each class's run of the sweep, then
 * evaluates them all (eval-all.ts), once per training seed in seed-<s>/ folders when there are several (eval-seeds.ts).
 */
import { RecipeSettings, TrainConfig } from '../config';
import { defaultRunName, runDirFor } from '../run/paths';
import { readRunFileIfExists } from '../run/runfile-io';
import { EvalAllOptions, evalAllClasses } from './eval-all';
import { evalAllSeeds, seedDir } from './eval-seeds';
import { trainCommand } from './train';

/** The recipe settings a sweep trains with; `resume`: the class's run exists, so what was not typed is the run's. */
export type SweepRecipe = (resume: boolean) => Partial<RecipeSettings & Pick<TrainConfig, 'neighbours' | 'cellPooling' | 'rotationPasses' | 'rotationFilters' | 'rotationAugment' | 'rotationCap'>>;

export interface SweepOptions extends EvalAllOptions {
  dataset: 'mnist' | 'fashion-mnist';
  /** One sweep per training seed; without, one sweep at the recipe's seed. */
  seeds?: number[];
  recipe: SweepRecipe;
}

export async function evalSweep(opts: SweepOptions): Promise<void> {
  const { seeds, recipe, ...common } = opts;
  // Trains class `cls` of the sweep in `dir` (resuming what is there), with `seed` when the sweep repeats per seed.
  const trainIn = (dir: string, seed?: number) => async (cls: number, epochs: number) => {
    const resume = readRunFileIfExists(runDirFor(dir, defaultRunName({ source: opts.dataset, class: cls, folder: null }))) !== null;
    await trainCommand({ data: { source: opts.dataset, class: cls }, epochs, checkpointDir: dir, backend: opts.backend, resume, out: process.stderr, ...recipe(resume), ...(seed === undefined || resume ? {} : { seed }) });
  };
  if (seeds) await evalAllSeeds(common, seeds, (seed) => trainIn(seedDir(opts.checkpointDir, seed), seed));
  else await evalAllClasses(common, trainIn(opts.checkpointDir));
}
