/**
 * The command-line options alocc's commands share, and their checks: each parser turns a bad value into commander's
 * InvalidArgumentError (exit 2, one line). src/cli.ts wires them to the commands.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_CHOICES } from './backend-choice';
import { ROTATION_AUGMENTS, BATCHNORM_STATISTICS, CELL_POOLINGS, DEFAULT_PRESET, DEFAULT_TRAIN_CONFIG as D, PRESET_NAMES, PRESETS, PresetName, RecipeSettings, TrainConfig, NOVELTY_SCORES } from './config';

export function intIn(name: string, min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** `--seeds 42,1,2`: distinct whole numbers, comma-separated. */
export function seedList(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) > 2 ** 31 - 1)) {
    throw new InvalidArgumentError(`--seeds must be whole numbers from 0 to ${2 ** 31 - 1} separated by commas (e.g. 42,1,2), not '${value}'.`);
  }
  const seeds = parts.map(Number);
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw new InvalidArgumentError(`--seeds lists ${twice} twice; each seed trains one set of runs.`);
  return seeds;
}

export function numberIn(name: string, min: number, max: number, exclusiveMin = false) {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (exclusiveMin && n === min)) {
      throw new InvalidArgumentError(`${name} must be a number ${exclusiveMin ? 'above' : 'from'} ${min}${max < Infinity ? ` to ${max}` : ''}.`);
    }
    return n;
  };
}

export const digitOption = () => new Option('-d, --digit <digit>', 'MNIST digit that is the normal class (0-9); short for --dataset mnist --class d').argParser(intIn('--digit', 0, 9));
export const dirOption = () => new Option('--checkpoint-dir <dir>', 'folder holding the runs (digit-<d>/, fashion-<c>/, <name>/)').default('checkpoints');
export const datasetOption = () => new Option('--dataset <name>', 'a built-in data set').choices(['mnist', 'fashion-mnist']);
export const classOption = () => new Option('--class <c>', 'the normal class of --dataset (0-9)').argParser(intIn('--class', 0, 9));
export const nameOption = () => new Option('--name <name>', 'the run\'s folder name in --checkpoint-dir');
export const modelOption = () => new Option('--model <dir>', 'a run folder, named directly (wherever it is)');

/** The run a score, eval or plot-losses command names: --model, --name, --digit, or --dataset with --class. */
export function runSelector(o: Record<string, any>) {
  if (o.class !== undefined && o.dataset === undefined) throw new InvalidArgumentError('--class needs --dataset (mnist or fashion-mnist).');
  const named = ['model', 'name', 'digit', 'dataset'].filter((k) => o[k] !== undefined);
  if (named.length > 1) throw new InvalidArgumentError(`--${named.join(', --')} each name a run; give one.`);
  if (o.dataset !== undefined && o.class === undefined) throw new InvalidArgumentError('--dataset needs --class to name a run.');
  return { model: o.model, name: o.name, digit: o.digit, dataset: o.dataset, cls: o.class, checkpointDir: o.checkpointDir };
}

/** The data a train command names: --data DIR, --dataset with --class, or --digit (default: MNIST digit 1). */
export function trainData(o: Record<string, any>): { source: 'mnist' | 'fashion-mnist' | 'folder'; class?: number; folder?: string } {
  if (o.data !== undefined) {
    if (o.dataset !== undefined || o.digit !== undefined || o.class !== undefined) throw new InvalidArgumentError('--data trains on a folder; drop --dataset, --digit and --class.');
    return { source: 'folder', folder: o.data };
  }
  if (o.dataset === 'fashion-mnist') {
    if (o.digit !== undefined) throw new InvalidArgumentError('--digit names an MNIST digit; with --dataset fashion-mnist use --class.');
    return { source: 'fashion-mnist', class: o.class ?? 0 };
  }
  if (o.digit !== undefined && o.class !== undefined && o.digit !== o.class) throw new InvalidArgumentError('--digit and --class disagree; give one.');
  return { source: 'mnist', class: o.digit ?? o.class ?? 1 };
}
export const backendOption = () =>
  new Option('--backend <name>', 'tfjs backend: auto tries gpu, node, wasm, cpu in turn').choices(BACKEND_CHOICES).default('auto');

/** The options that pick a recipe, on `train` and on `eval --all-digits` (which trains). */
export function addRecipeOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--preset <name>', `a named recipe of --r-alpha, --lr, --score, --bce and --batchnorm-statistics (default: ${DEFAULT_PRESET}; see README)`).choices(PRESET_NAMES),
    )
    .option('--r-alpha <x>', 'weight of the reconstruction loss in R\'s loss', numberIn('--r-alpha', 0, Infinity), D.rAlpha)
    .option('--lr <x>', 'RMSprop learning rate', numberIn('--lr', 0, 10, true), D.learningRate)
    .addOption(
      new Option('--score <name>', 'novelty score behind the verdict and the threshold').choices(NOVELTY_SCORES).default(D.noveltyScore),
    )
    .addOption(new Option('--bce <form>', 'training BCE from logits, or from clipped probabilities as Keras').choices(['logits', 'clipped']).default(D.bce))
    .option('--neighbours <k>', 'nearest training images the knn score averages over', intIn('--neighbours', 1, 1000), D.neighbours)
    .option('--rotation-passes <n>', 'passes over the pictures the rotation net makes per epoch (0: no rotation net; the rotation scores need one)', intIn('--rotation-passes', 0, 100), D.rotationPasses)
    .option('--rotation-filters <n>', "filters in the rotation net's first block (2×, 4×, 8× in the next three)", intIn('--rotation-filters', 1, 256), D.rotationFilters)
    .addOption(new Option('--rotation-augment <kind>', 'what the rotation net sees of a training picture: itself, or mirrored and shifted at random').choices(ROTATION_AUGMENTS).default(D.rotationAugment))
    .option('--rotation-cap <sds>', "the most knnRotation's rotation part adds, in validation sds", numberIn('--rotation-cap', 0, 1000, true), D.rotationCap ?? undefined)
    .addOption(
      new Option('--cell-pooling <kind>', 'what the knn features keep of each cell of R\'s first block: its mean, or mean and maximum')
        .choices(CELL_POOLINGS)
        .default(D.cellPooling),
    )
    .addOption(
      new Option('--batchnorm-statistics <from>', "R's BatchNorm inference statistics: training's moving averages, or those of the clean training pictures")
        .choices(BATCHNORM_STATISTICS)
        .default(D.batchNormStatistics),
    );
}

/**
 * The recipe settings to train with: what was typed, else the preset's value, else the default, except that with
 * --resume an untyped setting is left to the run (undefined).
 */
export function recipeFrom(o: Record<string, unknown>, cmd: Command, resume: boolean): Partial<RecipeSettings & Pick<TrainConfig, 'neighbours' | 'cellPooling' | 'rotationPasses' | 'rotationFilters' | 'rotationAugment' | 'rotationCap'>> {
  const preset = o.preset ? PRESETS[o.preset as PresetName] : undefined;
  const pick = <K extends keyof RecipeSettings>(key: K, option: string): TrainConfig[K] | undefined => {
    if (cmd.getOptionValueSource(option) !== 'default') return o[option] as TrainConfig[K];
    if (preset) return preset[key] as TrainConfig[K];
    return resume ? undefined : (o[option] as TrainConfig[K]);
  };
  const typed = <T>(option: string) => (resume && cmd.getOptionValueSource(option) === 'default' ? undefined : (o[option] as T));
  return {
    rAlpha: pick('rAlpha', 'rAlpha'),
    learningRate: pick('learningRate', 'lr'),
    noveltyScore: pick('noveltyScore', 'score'),
    bce: pick('bce', 'bce'),
    batchNormStatistics: pick('batchNormStatistics', 'batchnormStatistics'),
    neighbours: typed<number>('neighbours'),
    cellPooling: typed<TrainConfig['cellPooling']>('cellPooling'),
    // Left to the run (run/start.ts settleRotationNet) unless typed: a verdict that is not a rotation score needs none.
    rotationPasses: cmd.getOptionValueSource('rotationPasses') === 'default' ? undefined : (o.rotationPasses as number),
    rotationFilters: typed<number>('rotationFilters'),
    rotationAugment: typed<TrainConfig['rotationAugment']>('rotationAugment'),
    rotationCap: typed<number>('rotationCap'),
  };
}
