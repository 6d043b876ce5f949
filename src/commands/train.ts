/**
 * `alocc train`: the library's train (src/api/train.ts) with its events drawn as the CLI's output: a progress bar or
 * one line per epoch and the other lines on stderr, the summary on stdout; Ctrl-C and SIGTERM stop it between batches.
 */
import { train, TrainOptions } from '../api/train';
import { AloccError, EXIT } from '../errors';
import { RunFile } from '../run/runfile';
import { watchInterrupts } from '../signals';
import { TrainInfo, trainInfoLine } from '../train/info';
import { ProgressReporter, progressReporter } from '../train/progress';

export interface TrainCommandOptions extends Omit<TrainOptions, 'on' | 'signal'> {
  /** Where progress goes; stderr by default. */
  log?: NodeJS.WriteStream;
  /** Where the closing summary goes; stdout by default. */
  out?: NodeJS.WritableStream;
}

/** Trains R and D on one normal class, with a checkpoint per epoch, printing as it goes. Returns the run file. */
export async function trainCommand(opts: TrainCommandOptions): Promise<RunFile> {
  const { log = process.stderr, out = process.stdout, ...options } = opts;
  const stop = new AbortController();
  // Both begin with the 'start' event: the bar needs the run's epochs, and Ctrl-C before it simply ends the process.
  const cli: { progress: ProgressReporter | null; interrupts: ReturnType<typeof watchInterrupts> | null } = { progress: null, interrupts: null };
  const info = (i: TrainInfo) => {
    if (i.kind === 'start') {
      // Watched from here on, before the line that tells the user training started.
      cli.interrupts = watchInterrupts('stopping: the current epoch is abandoned, completed checkpoints are kept', (sig) => stop.abort(sig));
      cli.progress = progressReporter(i.config.train.epochs, log, i.config.train.noveltyScore);
    }
    (i.kind === 'done' ? out : log).write(trainInfoLine(i) + '\n');
  };
  try {
    const { run } = await train({
      ...options,
      signal: stop.signal,
      on: {
        info,
        epochStart: (epoch, batches) => cli.progress?.epochStart(epoch, batches),
        batch: (epoch, batch, losses, ips) => cli.progress?.batch(epoch, batch, losses, ips),
        epoch: (record) => cli.progress?.epoch(record),
      },
    });
    return run;
  } catch (err) {
    cli.progress?.stop();
    // The library reports a stop with Ctrl-C's exit code; a SIGTERM exits with its own.
    if (err instanceof AloccError && err.exitCode === EXIT.sigint && stop.signal.reason === 'SIGTERM') throw new AloccError(err.message, EXIT.sigterm, err.advice);
    throw err;
  } finally {
    cli.interrupts?.dispose();
  }
}
