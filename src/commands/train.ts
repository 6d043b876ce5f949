import * as fs from 'fs';
import * as path from 'path';
import { BackendChoice, describeBackend, selectBackend } from '../backend';
import { BUILT_IN_PREPROCESSING, configDifferences, DataConfig, DatasetName, DEFAULT_FOLDER_SIZE, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, FOLDER_PREPROCESSING, PreprocessingConfig, RunConfig, TrainConfig } from '../config';
import { scoreTitle } from '../score/registry';
import { loadImageFolder } from '../data/folder';
import { builtInTrainingImages, describeData, ImageSet, pickRows } from '../data/source';
import { splitTraining } from '../train/dataset';
import { AloccError, EXIT, UsageError } from '../errors';
import { describeWriteError, sha256, writeFileAtomic } from '../fsutil';
import { watchInterrupts } from '../signals';
import { createNets, loadTrainingState } from '../run/checkpoint';
import { clearRunDir, lockRun, tidyRunDir } from '../run/folder';
import { defaultRunName, MEMORY_IMAGES_FILE, runDirFor, runFilePath } from '../run/paths';
import { FolderReport, RUN_FILE_VERSION, RunFile } from '../run/runfile';
import { readRunFileIfExists, writeRunFile } from '../run/runfile-io';
import { readVerified } from '../run/checkpoint';
import { memoryRows } from '../score/feature-memory';
import { progressReporter } from '../train/progress';
import { runTraining, TrainingEvents, TrainingInterrupted } from '../train/trainer';

export interface TrainOptions extends Partial<TrainConfig> {
  /** Where the normal images come from: a built-in set and its class, or a folder. */
  data: { source: DatasetName; class?: number; folder?: string };
  /** The run's folder name in checkpointDir; default digit-<d>, fashion-<c> or the folder's name. */
  name?: string;
  /** Side the pictures are resized to (folders; built-in sets are 28). */
  size?: number;
  /** 1 grey, 3 colour; folders default to 3 if any training picture has colour. */
  channels?: 1 | 3;
  resize?: PreprocessingConfig['resize'];
  /** Train on the readable pictures of a folder and record the others, instead of refusing to start. */
  skipBad?: boolean;
  checkpointDir: string;
  backend: BackendChoice;
  /** Continue the run in checkpointDir from its last complete epoch. */
  resume?: boolean;
  /** Delete an existing run for this digit and start over. */
  overwrite?: boolean;
  /** Where progress goes; stderr by default. */
  log?: NodeJS.WriteStream;
  /** Where the closing summary goes; stdout by default. */
  out?: NodeJS.WritableStream;
  /** Called as training goes, beside the progress written to `log` (the library's train passes its callbacks here). */
  events?: TrainingEvents;
  /** Polled between batches: true stops as Ctrl-C would. Given, the process's signals are left alone (library use). */
  shouldStop?: () => boolean;
}

function newRunFile(cfg: RunConfig, backend: string, train: ImageSet, validation: ImageSet, memory: RunFile['memoryImages'], folder: FolderReport | null): RunFile {
  const now = new Date().toISOString();
  return {
    format: 'alocc-run',
    version: RUN_FILE_VERSION,
    config: cfg,
    backend,
    createdAt: now,
    updatedAt: now,
    trainImages: train.count,
    validationImages: validation.count,
    memoryImages: memory,
    folder,
    epochs: [],
    batches: [],
    bestEpoch: null,
  };
}

/** The command-line option of each setting the CLI can change. */
const OPTION_OF: Partial<Record<keyof TrainConfig, string>> = {
  batchSize: '--batch-size',
  rAlpha: '--r-alpha',
  learningRate: '--lr',
  noiseStd: '--noise-std',
  seed: '--seed',
  limit: '--limit',
  noveltyScore: '--score',
  bce: '--bce',
  neighbours: '--neighbours',
  memorySize: '--memory-size',
};

const quote = (s: string) => (/^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The options that name a run's data, as typed. */
function dataOptions(data: DataConfig, name: string): string[] {
  const named = name === defaultRunName(data) ? [] : ['--name', quote(name)];
  if (data.source === 'mnist') return ['--digit', String(data.class), ...named];
  if (data.source === 'fashion-mnist') return ['--dataset fashion-mnist --class', String(data.class), ...named];
  return ['--data', quote(data.folder!), ...named];
}

/** The command that continues a run: it repeats every setting that is not the default, as --resume demands. */
export function resumeCommand(cfg: RunConfig, name: string, checkpointDir: string): string {
  const train = cfg.train;
  const parts = ['alocc train', ...dataOptions(cfg.data, name), '--resume --epochs', String(train.epochs)];
  for (const [key, option] of Object.entries(OPTION_OF) as [keyof TrainConfig, string][]) {
    if (train[key] !== DEFAULT_TRAIN_CONFIG[key]) parts.push(option, String(train[key]));
  }
  if (path.resolve(checkpointDir) !== path.resolve('checkpoints')) {
    parts.push('--checkpoint-dir', quote(checkpointDir));
  }
  return parts.join(' ');
}

/** Refuses to start when the run folder's state and the options disagree: nothing to resume, or a run in the way. */
function checkStart(existing: RunFile | null, opts: TrainOptions, cfg: RunConfig, runDir: string, name: string): void {
  if (opts.resume && !existing) {
    throw new AloccError(`nothing to resume: ${runFilePath(runDir)} does not exist; start with: alocc train ${dataOptions(cfg.data, name).join(' ')}`);
  }
  if (existing && !opts.resume && !opts.overwrite) {
    const epochs = Math.max(cfg.train.epochs, existing.epochs.length + 1);
    throw new AloccError(
      `${runDir} already holds a run of ${existing.epochs.length} epoch(s); continue it with: ` +
        `${resumeCommand({ ...existing.config, train: { ...existing.config.train, epochs } }, name, opts.checkpointDir)}, or start over with --overwrite`,
    );
  }
  if (existing && opts.resume) {
    const diffs = configDifferences(existing.config, cfg).map((d) => {
      const key = d.split(' ')[0] as keyof TrainConfig;
      return OPTION_OF[key] ? OPTION_OF[key] + d.slice(key.length) : d;
    });
    if (diffs.length) {
      throw new AloccError(
        `cannot resume ${runDir}: settings differ from the run's: ${diffs.join(', ')}; continue it with: ` +
          `${resumeCommand({ ...existing.config, train: { ...existing.config.train, epochs: cfg.train.epochs } }, name, opts.checkpointDir)}, or start over with --overwrite`,
      );
    }
  }
}

/** The run's data settings, from the options (a folder is recorded as an absolute path). */
function dataConfigOf(opts: TrainOptions): DataConfig {
  const d = opts.data;
  if (d.source === 'folder') return { source: 'folder', class: null, folder: path.resolve(d.folder ?? '') };
  return { source: d.source, class: d.class ?? DEFAULT_TRAIN_CLASS, folder: null };
}
const DEFAULT_TRAIN_CLASS = 1;

/** Model and preprocessing from the options, the run being resumed, or the source's defaults. */
function shapeOf(opts: TrainOptions, data: DataConfig, saved: RunConfig | undefined): Pick<RunConfig, 'model' | 'preprocessing'> {
  const folder = data.source === 'folder';
  if (!folder && ((opts.size !== undefined && opts.size !== 28) || (opts.channels !== undefined && opts.channels !== 1))) {
    throw new UsageError(`--size and --channels apply to --data folders; ${data.source} images are 28×28 grey`);
  }
  const preprocessing = { ...(saved?.preprocessing ?? (folder ? FOLDER_PREPROCESSING : BUILT_IN_PREPROCESSING)) };
  if (opts.resize !== undefined) preprocessing.resize = opts.resize;
  const model = { ...(saved?.model ?? DEFAULT_MODEL_CONFIG) };
  if (!saved) {
    model.inputSize = folder ? (opts.size ?? DEFAULT_FOLDER_SIZE) : 28;
    model.channels = folder ? (opts.channels ?? 0) : 1; // 0: decided by the pictures
  } else {
    if (opts.size !== undefined) model.inputSize = opts.size;
    if (opts.channels !== undefined) model.channels = opts.channels;
  }
  return { model, preprocessing };
}

/** Every event to `a`, then to `b`. */
function bothEvents(a: TrainingEvents, b: TrainingEvents): TrainingEvents {
  return {
    epochStart: (...args) => (a.epochStart?.(...args), b.epochStart?.(...args)),
    batchEnd: (...args) => (a.batchEnd?.(...args), b.batchEnd?.(...args)),
    epochEnd: (...args) => (a.epochEnd?.(...args), b.epochEnd?.(...args)),
  };
}

/** `alocc train`: trains R and D on one normal class, with a checkpoint per epoch. Returns the run file. */
export async function train(opts: TrainOptions): Promise<RunFile> {
  const data = dataConfigOf(opts);
  const name = opts.name ?? defaultRunName(data);
  const runDir = runDirFor(opts.checkpointDir, name);
  if (data.source === 'folder') {
    const stat = fs.statSync(data.folder!, { throwIfNoEntry: false });
    if (!stat) throw new UsageError(`--data ${opts.data.folder}: no such folder`);
    if (!stat.isDirectory()) throw new UsageError(`--data ${opts.data.folder} is a file; name the folder that holds the training pictures`);
  }
  // On --resume, settings left unset come from the run itself, so `alocc train --digit d --resume` is enough.
  const saved = opts.resume ? readRunFileIfExists(runDir)?.config : undefined;
  const trainCfg: TrainConfig = { ...(saved?.train ?? DEFAULT_TRAIN_CONFIG) };
  for (const key of Object.keys(trainCfg) as (keyof TrainConfig)[]) {
    if (opts[key] !== undefined) (trainCfg as unknown as Record<string, unknown>)[key] = opts[key];
  }
  const cfg: RunConfig = { data, ...shapeOf(opts, data, saved), train: trainCfg };
  checkStart(readRunFileIfExists(runDir), opts, cfg, runDir, name); // fails fast, before touching anything

  try {
    // Before any slow work: a checkpoint folder that cannot be made should fail now, not after the first epoch.
    fs.mkdirSync(runDir, { recursive: true });
  } catch (err) {
    throw describeWriteError(runDir, err);
  }
  const release = lockRun(runDir);
  try {
    tidyRunDir(runDir);
    // Read again under the lock: another training may have changed the run in the meantime.
    const existing = readRunFileIfExists(runDir);
    checkStart(existing, opts, cfg, runDir, name);
    return await trainLocked(opts, cfg, runDir, name, existing);
  } finally {
    release();
  }
}

/** The normal images, in the run's shape; a folder's channels are settled here when they were left to the pictures. */
async function loadNormalImages(opts: TrainOptions, cfg: RunConfig, log: NodeJS.WritableStream): Promise<{ all: ImageSet; folder: FolderReport | null }> {
  if (cfg.data.source !== 'folder') return { all: builtInTrainingImages(cfg.data), folder: null };
  const loaded = await loadImageFolder(cfg.data.folder!, {
    size: cfg.model.inputSize,
    channels: cfg.model.channels === 0 ? 'auto' : (cfg.model.channels as 1 | 3),
    resize: cfg.preprocessing.resize,
    skipBad: Boolean(opts.skipBad),
  });
  cfg.model.channels = loaded.channels;
  const folder: FolderReport = { ignoredFiles: loaded.ignored, skipped: loaded.skipped, ...loaded.converted };
  const notes = [
    `${loaded.count} picture(s) at ${cfg.model.inputSize}×${cfg.model.inputSize}×${loaded.channels}`,
    folder.resized ? `${folder.resized} resized` : '',
    folder.colourToGrey ? `${folder.colourToGrey} colour made grey` : '',
    folder.greyToColour ? `${folder.greyToColour} grey made colour` : '',
    folder.ignoredFiles ? `${folder.ignoredFiles} file(s) ignored (not a picture format)` : '',
    folder.skipped.length ? `${folder.skipped.length} unreadable skipped (--skip-bad; listed in run.json)` : '',
  ].filter(Boolean);
  log.write(`${cfg.data.folder}: ${notes.join(', ')}\n`);
  return { all: { pixels: loaded.pixels, count: loaded.count, size: cfg.model.inputSize, channels: loaded.channels }, folder };
}

async function trainLocked(opts: TrainOptions, cfg: RunConfig, runDir: string, name: string, existing: RunFile | null): Promise<RunFile> {
  const log = opts.log ?? process.stderr;
  const backend = await selectBackend(opts.backend);
  log.write(describeBackend(backend) + '\n');
  const { all, folder } = await loadNormalImages(opts, cfg, log);
  if (all.count === 0) throw new AloccError(`${describeData(cfg.data)}: no pictures to train on; ${cfg.data.source === 'folder' ? 'put the normal pictures in it' : 'reinstall with npm install'}`);
  const { train: trainSet, validation } = splitTraining(all, cfg.train);
  if (trainSet.count < 2 * cfg.train.batchSize) {
    throw new AloccError(
      `${describeData(cfg.data)}: ${trainSet.count} training picture(s) (after ${validation.count} held out for validation) make fewer than ` +
        `two batches of ${cfg.train.batchSize}; add pictures or lower --batch-size`,
    );
  }
  const memoryImages = pickRows(trainSet, memoryRows(trainSet.count, cfg.train.memorySize, cfg.train.seed));
  const memoryRecord = { count: memoryImages.count, sha256: sha256(memoryImages.pixels) };

  let run: RunFile;
  const done = existing?.epochs.length ?? 0;
  if (existing && opts.resume) {
    if (done >= cfg.train.epochs) {
      log.write(`${runDir} already has ${done} epoch(s); nothing to do (raise --epochs to train longer)\n`);
      return existing;
    }
    // The same pictures must give the same memory: a folder that changed since would mix two data sets.
    readVerified(runDir, MEMORY_IMAGES_FILE, { [MEMORY_IMAGES_FILE]: existing.memoryImages.sha256 });
    if (memoryRecord.sha256 !== existing.memoryImages.sha256) {
      throw new AloccError(`cannot resume ${runDir}: its training pictures changed since the run began; start over with --overwrite`);
    }
    run = { ...existing, config: cfg };
    log.write(`resuming ${runDir} after epoch ${done}\n`);
  } else {
    if (existing) clearRunDir(runDir);
    writeFileAtomic(path.join(runDir, MEMORY_IMAGES_FILE), memoryImages.pixels);
    run = newRunFile(cfg, backend.label, trainSet, validation, memoryRecord, folder);
  }
  // Written before the first epoch, so a run stopped during it still exists (no epochs yet) and --resume can start it.
  writeRunFile(runDir, run);
  const nets = done > 0 && opts.resume ? await loadTrainingState(runDir, existing!, done, cfg.train) : createNets(cfg.model, cfg.train);

  // Watched from here on, before the line that tells the user training started.
  const interrupts = opts.shouldStop
    ? { signal: () => (opts.shouldStop!() ? ('SIGINT' as const) : null), dispose() {} }
    : watchInterrupts('stopping: the current epoch is abandoned, completed checkpoints are kept');
  log.write(
    `training on ${describeData(cfg.data)}: ${trainSet.count} images (${validation.count} held out, ${memoryImages.count} in the knn memory) for ` +
      `${cfg.train.epochs} epoch(s), batch ${cfg.train.batchSize}; checkpoints in ${runDir}\n`,
  );
  const progress = progressReporter(cfg.train.epochs, log as NodeJS.WriteStream, cfg.train.noveltyScore);
  try {
    run = await runTraining({
      config: cfg,
      runDir,
      nets,
      run,
      train: trainSet,
      validation,
      memoryImages,
      events: opts.events ? bothEvents(progress, opts.events) : progress,
      shouldStop: () => interrupts.signal() !== null,
    });
  } catch (err) {
    progress.stop();
    if (err instanceof TrainingInterrupted) {
      const sig = interrupts.signal();
      throw new AloccError(
        `interrupted; ${err.completedEpochs} complete epoch(s) kept in ${runDir}; continue with: ` + resumeCommand(cfg, name, opts.checkpointDir),
        sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint,
      );
    }
    throw err;
  } finally {
    interrupts.dispose();
    nets.r.dispose();
    nets.d.dispose();
  }
  const best = run.epochs.find((e) => e.epoch === run.bestEpoch)!;
  (opts.out ?? process.stdout).write(
    `done: best epoch ${best.epoch} (lowest validation reconstruction loss ${best.valReconLoss.toFixed(5)}; ` +
      `novelty threshold ${best.threshold.toFixed(5)} on the ${scoreTitle(cfg.train.noveltyScore)}); run folder ${runDir}\n`,
  );
  return run;
}
