#!/usr/bin/env node
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  addRecipeOptions, backendOption, classOption, datasetOption, digitOption, dirOption, intIn, modelOption, nameOption, numberIn, recipeFrom,
  runSelector, seedList, trainData,
} from './cli-options';
import { DEFAULT_FOLDER_SIZE, DEFAULT_TRAIN_CONFIG as D, MAX_INPUT_SIZE, MIN_INPUT_SIZE } from './config';
import { explain } from './commands/advice';
import { AloccError, EXIT } from './errors';

// Commands are loaded when they run: `alocc --help` and usage errors should not pay for loading TensorFlow.js.

let verbose = false;

/** The version in alocc's package.json, found from here whether running from src/ (tsx) or dist/src/. */
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  }
  return 'unknown';
}

/** The program: one function per command below, each defining its options and handing them to src/commands/. */
export function buildProgram(): Command {
  const program = new Command('alocc')
    .description('Train and run ALOCC one-class novelty detectors (Sabokrou et al., CVPR 2018) with TensorFlow.js')
    .version(packageVersion())
    .option('--verbose', 'print stack traces on errors')
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride()
    .hook('preAction', (cmd) => {
      verbose = Boolean(cmd.opts().verbose);
    });
  for (const define of [trainCommandOf, scoreCommandOf, serveCommandOf, plotLossesCommandOf, evalCommandOf]) define(program);
  return program;
}

function trainCommandOf(program: Command): void {
  addRecipeOptions(
    program
      .command('train')
      .description('train R and D on the normal class (an MNIST digit, a Fashion-MNIST class, or a folder); a checkpoint per epoch')
      .addOption(digitOption())
      .addOption(datasetOption())
      .addOption(classOption())
      .option('--data <dir>', 'train on every picture below this folder (PNG, JPEG, WebP, GIF, TIFF, AVIF)')
      .addOption(nameOption())
      .option('--size <n>', `side the pictures are resized to, ${MIN_INPUT_SIZE}-${MAX_INPUT_SIZE} (folders; default ${DEFAULT_FOLDER_SIZE})`, intIn('--size', MIN_INPUT_SIZE, MAX_INPUT_SIZE))
      .option('--channels <n>', 'grey (1) or colour (3); folders default to 3 if any picture has colour', (v: string) => {
        if (v !== '1' && v !== '3') throw new InvalidArgumentError('--channels must be 1 (grey) or 3 (colour).');
        return Number(v) as 1 | 3;
      })
      .addOption(new Option('--resize <how>', 'to a square: stretch (fill), crop the centre (cover) or pad (contain); folders default to fill').choices(['fill', 'cover', 'contain']))
      .option('--skip-bad', 'train on the readable pictures of --data and record the others, instead of refusing to start')
      .option('--memory-size <n>', 'training images stored with the run (a seeded sample beyond it; 0: all): the pixel baseline\'s memory', intIn('--memory-size', 0, 1e7), D.memorySize)
      .option('--memory-coreset <n>', 'training images the knn memory keeps at each epoch, a greedy k-centre coreset in R\'s features (0: the stored sample)', intIn('--memory-coreset', 0, 1e6), D.memoryCoreset)
      .option('-e, --epochs <n>', 'epochs to train', intIn('--epochs', 1, 10000), D.epochs)
      .option('--batch-size <n>', 'most images per step (a folder too small for four steps an epoch takes smaller batches)', intIn('--batch-size', 2, 4096), D.batchSize),
  )
    .option('--noise-std <x>', 'std of the Gaussian noise added to R\'s input (pixels in [0, 1])', numberIn('--noise-std', 0, 10), D.noiseStd)
    .option('--seed <n>', 'seed for weights, split, shuffling and noise', intIn('--seed', 0, 2 ** 31 - 1), D.seed)
    .option('--limit <n>', 'train on the first N images of the digit (0: all)', intIn('--limit', 0, 1e7), D.limit)
    .addOption(dirOption())
    .addOption(backendOption())
    .option('--resume', 'continue the run in --checkpoint-dir from its last complete epoch')
    .option('--overwrite', 'delete an existing run for this digit and start over')
    .action(async (o, cmd: Command) => {
      if (o.resume && o.overwrite) throw new InvalidArgumentError('--resume and --overwrite exclude each other.');
      // With --resume, options the user did not type are taken from the run, not from the defaults.
      const given = (name: string) => (o.resume && cmd.getOptionValueSource(name) === 'default' ? undefined : o[name]);
      const { trainCommand } = await import('./commands/train');
      await trainCommand({
        data: trainData(o),
        name: o.name,
        size: o.size,
        channels: o.channels,
        resize: o.resize,
        skipBad: Boolean(o.skipBad),
        memorySize: given('memorySize'),
        memoryCoreset: given('memoryCoreset'),
        epochs: given('epochs'),
        batchSize: given('batchSize'),
        ...recipeFrom(o, cmd, Boolean(o.resume)),
        noiseStd: given('noiseStd'),
        seed: given('seed'),
        limit: given('limit'),
        checkpointDir: o.checkpointDir,
        backend: o.backend,
        resume: o.resume,
        overwrite: o.overwrite,
      });
    });
}

function scoreCommandOf(program: Command): void {
  program
    .command('score')
    .description('score pictures (files or folders): the run\'s novelty score against its threshold, a novel/normal verdict')
    .argument('<picture...>', 'picture files, or folders to search for pictures')
    .addOption(modelOption())
    .addOption(nameOption())
    .addOption(digitOption())
    .addOption(dirOption())
    .option('--epoch <n>', 'use this epoch instead of the best one (lowest validation reconstruction loss)', intIn('--epoch', 1, 1e6))
    .option('--invert', 'treat images as dark-on-light drawings and invert them')
    .option('--no-invert', 'never invert (default: detect dark-on-light drawings)')
    .addOption(
      new Option('--fit <mode>', 'frame drawings like MNIST digits (crop, 20×20 box, centre of mass); auto: for images not 28×28; default: the run\'s')
        .choices(['auto', 'mnist', 'none']),
    )
    .option('--json', 'one JSON object per line')
    .option('--details', 'add R\'s reconstruction loss, D(R(x)) and D(x) (runs all of R and D; a knn verdict alone needs only R\'s first block)')
    .option('--maps <dir>', 'write each picture\'s anomaly-map overlay into DIR (its path + .map.png); with --json, each line\'s map: cells and cellThreshold')
    .option('--shard <i/n>', 'score only shard i of n (0-based) of the pictures, split by a hash of each path below the folder named')
    .option('--shard-count <n>', 'split into n shards, this one numbered by $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)')
    .addOption(backendOption())
    .action(async (paths: string[], o, cmd: Command) => {
      const { score } = await import('./commands/score');
      const { parseShard, shardFromEnv } = await import('./data/shard');
      if (o.shard !== undefined && o.shardCount !== undefined) throw new InvalidArgumentError('--shard and --shard-count exclude each other; give one.');
      // --invert and --no-invert set one value; typed either way, it is forced, else detected per picture.
      const invertGiven = cmd.getOptionValueSource('invert') === 'cli';
      const { failed } = await score({
        paths,
        ...runSelector(o),
        epoch: o.epoch,
        invert: invertGiven ? Boolean(o.invert) : 'auto',
        fit: o.fit,
        shard: o.shard !== undefined ? parseShard(o.shard) : o.shardCount !== undefined ? shardFromEnv(o.shardCount) : undefined,
        json: Boolean(o.json),
        details: Boolean(o.details),
        mapsDir: o.maps,
        backend: o.backend,
      });
      if (failed > 0) process.exitCode = EXIT.failure;
    });
}

function serveCommandOf(program: Command): void {
  program
    .command('serve')
    .description('serve a run over HTTP: POST /score, GET /model, GET /healthz, and a page at / to try pictures')
    .addOption(modelOption().makeOptionMandatory())
    .option('--port <n>', 'TCP port (0: any free one)', intIn('--port', 0, 65535), 8080)
    .option('--host <address>', 'address to listen on; 0.0.0.0 to be reachable from other machines', '127.0.0.1')
    .option('--epoch <n>', 'serve this epoch instead of the best one', intIn('--epoch', 1, 1e6))
    .option('--max-body <MiB>', 'largest request body accepted', numberIn('--max-body', 0, 1024, true), 20)
    .option('--max-batch <n>', 'pictures scored in one forward pass at most', intIn('--max-batch', 1, 4096), 64)
    .option('--max-pending <n>', 'requests being decoded or scored at once; beyond it 503 with Retry-After', intIn('--max-pending', 1, 1e6), 256)
    .option('--request-timeout <s>', 'seconds a client has to send its whole request', numberIn('--request-timeout', 0, 3600, true), 30)
    .addOption(backendOption())
    .action(async (o) => {
      const { serveCommand } = await import('./commands/serve');
      await serveCommand({
        model: o.model,
        port: o.port,
        host: o.host,
        epoch: o.epoch,
        backend: o.backend,
        limits: { bodyBytes: Math.round(o.maxBody * 1024 * 1024), maxBatch: o.maxBatch, maxPending: o.maxPending, requestTimeoutMs: Math.round(o.requestTimeout * 1000) },
      });
    });
}

function plotLossesCommandOf(program: Command): void {
  program
    .command('plot-losses')
    .description('draw the training losses of a run as a PNG chart')
    .addOption(modelOption())
    .addOption(nameOption())
    .addOption(digitOption())
    .addOption(datasetOption())
    .addOption(classOption())
    .addOption(dirOption())
    .option('-o, --out <file>', 'where to write the PNG (default: <run folder>/losses.png)')
    .option('--width <px>', 'chart width in pixels', intIn('--width', 200, 8000), 1200)
    .option('--height <px>', 'chart height in pixels', intIn('--height', 200, 8000), 700)
    .action(async (o) => {
      const { plotLosses } = await import('./commands/plot-losses');
      const file = await plotLosses({ ...runSelector(o), out: o.out, width: o.width, height: o.height });
      process.stdout.write(file + '\n');
    });
}

function evalCommandOf(program: Command): void {
  addRecipeOptions(program
    .command('eval')
    .description('detection numbers on labelled test images: AUROC, AUPRC, recall at false-alarm rates, F1 at the threshold, the paper\'s protocol')
    .addOption(modelOption())
    .addOption(nameOption())
    .addOption(digitOption())
    .addOption(datasetOption())
    .addOption(classOption())
    .addOption(dirOption())
    .option('--normal <dir>', 'a folder of your own normal test pictures (with --novel)')
    .option('--novel <dir>', 'a folder of your own novel test pictures (with --normal)')
    .option('--masks <dir>', 'defect masks of the --novel pictures (a black-and-white PNG each, named as the picture): adds pixel AUROC and PRO')
    .option('--epoch <n>', 'evaluate this epoch instead of the best one (lowest validation reconstruction loss)', intIn('--epoch', 1, 1e6))
    .option('--draws <n>', 'random draws per novel share in the paper\'s protocol', intIn('--draws', 1, 1000), 10)
    .option('--seed <n>', 'seed of those draws', intIn('--seed', 0, 2 ** 31 - 1), 42)
    .option('--limit <n>', 'evaluate on the first N test images only (0: all)', intIn('--limit', 0, 1e6), 0)
    .option('--all-digits', 'train (or resume) and evaluate every MNIST digit in turn, then print the table')
    .option('--all-classes', 'with --dataset: train (or resume) and evaluate every class in turn, then print the table')
    .option('-e, --epochs <n>', 'with --all-digits/--all-classes: epochs each class trains for', intIn('--epochs', 1, 10000), D.epochs)
    .option('--seeds <list>', 'with --all-digits/--all-classes: one sweep per training seed (e.g. 42,1,2) in <checkpoint-dir>/seed-<s>/, then mean ± sd over seeds', seedList)
    .option('--json', 'print the report as JSON'))
    .addOption(backendOption())
    .action(async (o, cmd: Command) => {
      const all = Boolean(o.allDigits || o.allClasses);
      const recipeTyped = ['preset', 'rAlpha', 'lr', 'score', 'bce', 'neighbours', 'cellPooling', 'batchnormStatistics'].filter((k) => cmd.getOptionValueSource(k) === 'cli');
      if (!all && recipeTyped.length) {
        throw new InvalidArgumentError('--preset, --r-alpha, --lr, --score, --bce, --neighbours, --cell-pooling and --batchnorm-statistics choose how --all-digits/--all-classes trains; eval of one run uses its own.');
      }
      if (o.seeds && !all) throw new InvalidArgumentError('--seeds goes with --all-digits or --all-classes: it repeats the whole sweep per training seed.');
      if (o.allClasses && o.dataset === undefined) throw new InvalidArgumentError('--all-classes needs --dataset mnist or fashion-mnist.');
      if (all && ['model', 'name', 'digit', 'class', 'epoch', 'normal', 'novel', 'masks'].some((k) => o[k] !== undefined)) {
        throw new InvalidArgumentError('--all-digits/--all-classes evaluate every class at its best epoch; drop --model, --name, --digit, --class, --epoch, --normal and --novel.');
      }
      const common = { checkpointDir: o.checkpointDir, json: Boolean(o.json), draws: o.draws, seed: o.seed, limit: o.limit, backend: o.backend };
      if (all) {
        const { evalSweep } = await import('./commands/eval-sweep');
        const dataset = o.allDigits ? 'mnist' : (o.dataset as 'mnist' | 'fashion-mnist');
        await evalSweep({ ...common, dataset, epochs: o.epochs, seeds: o.seeds, recipe: (resume) => recipeFrom(o, cmd, resume) });
        return;
      }
      const { evalCommand } = await import('./commands/eval');
      const report = await evalCommand({ ...common, ...runSelector(o), epoch: o.epoch, normal: o.normal, novel: o.novel, masks: o.masks });
      // A mask left out is a warning line each and the numbers without it; the exit code says something was missing.
      if (report.localisation?.problems.length) process.exitCode = EXIT.failure;
    });
}

/** The one place where errors become messages and exit codes. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    // Thrown by an action (commander prints only the errors of its own parsing): checked before the codes below,
    // since it carries commander.invalidArgument too.
    if (err instanceof InvalidArgumentError) {
      process.stderr.write(`alocc: ${err.message}\n`);
      return EXIT.usage;
    }
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // Help and version exit 0; commander has already printed its message.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`alocc: ${explain(err)}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return err instanceof AloccError ? err.exitCode : EXIT.failure;
  }
}

if (require.main === module) {
  // A reader that stops early (`alocc score --json DIR | head`) closes the pipe: stop quietly, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
