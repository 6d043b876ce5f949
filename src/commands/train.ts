import * as fs from 'fs';
import * as path from 'path';
import { BackendChoice, describeBackend, selectBackend } from '../backend';
import { configDifferences, DEFAULT_MODEL_CONFIG, DEFAULT_TRAIN_CONFIG, NOVELTY_SCORE_LABELS, RunConfig, TrainConfig } from '../config';
import { loadTrainingSplit } from '../train/dataset';
import { AloccError, EXIT } from '../errors';
import { describeWriteError } from '../fsutil';
import { watchInterrupts } from '../signals';
import { createNets, loadTrainingState, runDirFor } from '../run/checkpoint';
import { clearRunDir, lockRun, tidyRunDir } from '../run/folder';
import { progressReporter } from '../train/progress';
import { RunFile, validationMean } from '../run/runfile';
import { readRunFileIfExists, runFilePath, writeRunFile } from '../run/runfile-io';
import { ImageSet, runTraining, TrainingInterrupted } from '../train/trainer';

export interface TrainOptions extends Partial<TrainConfig> {
  digit: number;
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
}

function newRunFile(cfg: RunConfig, backend: string, train: ImageSet, validation: ImageSet): RunFile {
  const now = new Date().toISOString();
  return {
    format: 'alocc-run',
    version: 1,
    config: cfg,
    backend,
    createdAt: now,
    updatedAt: now,
    trainImages: train.count,
    validationImages: validation.count,
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
};

/** The command that continues a run: it repeats every setting that is not the default, as --resume demands. */
export function resumeCommand(train: TrainConfig, checkpointDir: string): string {
  const parts = ['alocc train --digit', String(train.digit), '--resume --epochs', String(train.epochs)];
  for (const [key, option] of Object.entries(OPTION_OF) as [keyof TrainConfig, string][]) {
    if (train[key] !== DEFAULT_TRAIN_CONFIG[key]) parts.push(option, String(train[key]));
  }
  if (path.resolve(checkpointDir) !== path.resolve('checkpoints')) {
    parts.push('--checkpoint-dir', /^[\w./:@%+=,-]+$/.test(checkpointDir) ? checkpointDir : `'${checkpointDir.replace(/'/g, `'\\''`)}'`);
  }
  return parts.join(' ');
}

/** Refuses to start when the run folder's state and the options disagree: nothing to resume, or a run in the way. */
function checkStart(existing: RunFile | null, opts: TrainOptions, cfg: RunConfig, runDir: string): void {
  if (opts.resume && !existing) {
    throw new AloccError(`nothing to resume: ${runFilePath(runDir)} does not exist; start with: alocc train --digit ${cfg.train.digit}`);
  }
  if (existing && !opts.resume && !opts.overwrite) {
    throw new AloccError(
      `${runDir} already holds a run of ${existing.epochs.length} epoch(s); continue it with: ` +
        `${resumeCommand({ ...existing.config.train, epochs: Math.max(cfg.train.epochs, existing.epochs.length + 1) }, opts.checkpointDir)}, ` +
        'or start over with --overwrite',
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
          `${resumeCommand({ ...existing.config.train, epochs: cfg.train.epochs }, opts.checkpointDir)}, or start over with --overwrite`,
      );
    }
  }
}

/** `alocc train`: trains R and D on one digit, with a checkpoint per epoch. Returns the run file. */
export async function train(opts: TrainOptions): Promise<RunFile> {
  const runDir = runDirFor(opts.checkpointDir, opts.digit);
  // On --resume, settings left unset come from the run itself, so `alocc train --digit d --resume` is enough.
  const saved = opts.resume ? readRunFileIfExists(runDir)?.config : undefined;
  const trainCfg: TrainConfig = { ...(saved?.train ?? DEFAULT_TRAIN_CONFIG), digit: opts.digit };
  for (const key of Object.keys(trainCfg) as (keyof TrainConfig)[]) {
    if (opts[key] !== undefined) (trainCfg as unknown as Record<string, unknown>)[key] = opts[key];
  }
  const cfg: RunConfig = { model: { ...(saved?.model ?? DEFAULT_MODEL_CONFIG) }, train: trainCfg };
  checkStart(readRunFileIfExists(runDir), opts, cfg, runDir); // fails fast, before touching anything

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
    checkStart(existing, opts, cfg, runDir);
    return await trainLocked(opts, cfg, runDir, existing);
  } finally {
    release();
  }
}

async function trainLocked(opts: TrainOptions, cfg: RunConfig, runDir: string, existing: RunFile | null): Promise<RunFile> {
  const log = opts.log ?? process.stderr;
  const backend = await selectBackend(opts.backend);
  log.write(describeBackend(backend) + '\n');
  const { train: trainSet, validation } = loadTrainingSplit(cfg);

  let run: RunFile;
  const done = existing?.epochs.length ?? 0;
  if (existing && opts.resume) {
    if (done >= cfg.train.epochs) {
      log.write(`${runDir} already has ${done} epoch(s); nothing to do (raise --epochs to train longer)\n`);
      return existing;
    }
    run = { ...existing, config: cfg };
    log.write(`resuming ${runDir} after epoch ${done}\n`);
  } else {
    if (existing) clearRunDir(runDir);
    run = newRunFile(cfg, backend.label, trainSet, validation);
  }
  // Written before the first epoch, so a run stopped during it still exists (no epochs yet) and --resume can start it.
  writeRunFile(runDir, run);
  const nets = done > 0 && opts.resume ? await loadTrainingState(runDir, existing!, done, cfg.train) : createNets(cfg.model, cfg.train);

  // Watched from here on, before the line that tells the user training started.
  const interrupts = watchInterrupts('stopping: the current epoch is abandoned, completed checkpoints are kept');
  log.write(
    `training digit ${cfg.train.digit} on ${trainSet.count} images (${validation.count} held out) for ` +
      `${cfg.train.epochs} epoch(s), batch ${cfg.train.batchSize}; checkpoints in ${runDir}\n`,
  );
  const progress = progressReporter(cfg.train.epochs, log, cfg.train.noveltyScore);
  try {
    run = await runTraining({
      config: cfg,
      runDir,
      nets,
      run,
      train: trainSet,
      validation,
      events: progress,
      shouldStop: () => interrupts.signal() !== null,
    });
  } catch (err) {
    progress.stop();
    if (err instanceof TrainingInterrupted) {
      const sig = interrupts.signal();
      throw new AloccError(
        `interrupted; ${err.completedEpochs} complete epoch(s) kept in ${runDir}; continue with: ` +
          resumeCommand(cfg.train, opts.checkpointDir),
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
    `done: best epoch ${best.epoch} (validation ${NOVELTY_SCORE_LABELS[cfg.train.noveltyScore]} ` +
      `${validationMean(best, cfg.train.noveltyScore).toFixed(5)}, novelty threshold ${best.threshold.toFixed(5)}); run file ${runFilePath(runDir)}\n`,
  );
  return run;
}
