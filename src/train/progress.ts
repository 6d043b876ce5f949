import * as cliProgress from 'cli-progress';
import { NoveltyScore } from '../config';
import { EpochRecord, BatchLosses } from '../run/runfile';

const fmt = (v: number) => (Math.abs(v) >= 100 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(4));

/** The line printed when an epoch completes, on a TTY and in logs alike. */
export function epochSummary(r: EpochRecord, total: number, score: NoveltyScore = 'bce'): string {
  return (
    `epoch ${r.epoch}/${total}: recon ${fmt(r.mean.reconLoss)} val-recon ${fmt(r.valReconLoss)} ` +
    `d-real ${fmt(r.mean.dLossReal)} d-fake ${fmt(r.mean.dLossFake)} adv ${fmt(r.mean.advLoss)} ` +
    `${rotationSummary(r)}${scoreSummary(r, score)}| ${r.wallSeconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(1)} images/s`
  );
}

/** The rotation net's loss and how many of the validation pictures' turns it tells right, where the run has one. */
function rotationSummary(r: EpochRecord): string {
  return r.rotationAccuracy === undefined || r.mean.rotationLoss === undefined ? '' : `rot ${fmt(r.mean.rotationLoss)} val-rot-acc ${r.rotationAccuracy.toFixed(3)} `;
}

/** The verdict score's validation mean (bce's is val-recon; knnRotation's is 0 by construction) and its threshold. */
function scoreSummary(r: EpochRecord, score: NoveltyScore): string {
  const own = score === 'bce' || score === 'knnRotation' ? undefined : r.validation?.[score];
  return `${own ? `val-${score} ${fmt(own.mean)} ` : ''}threshold ${fmt(r.threshold)} `;
}

/** The training events the CLI draws, named as the library's TrainProgress names them. */
export interface ProgressReporter {
  epochStart(epoch: number, batches: number): void;
  batch(epoch: number, batch: number, losses: BatchLosses, imagesPerSecond: number): void;
  epoch(record: EpochRecord): void;
  /** Takes the bar off the terminal (training failed or stopped). */
  stop(): void;
}

/**
 * Training progress on stderr: a live bar per epoch (ETA, images/s, losses) when stderr is a terminal, and one plain
 * line per epoch otherwise, so logs and CI output stay readable.
 */
export function progressReporter(totalEpochs: number, stream: NodeJS.WriteStream = process.stderr, score: NoveltyScore = 'bce'): ProgressReporter {
  const tty = Boolean(stream.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    epochStart(epoch, batches) {
      if (!tty) return;
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `epoch ${epoch}/${totalEpochs} [{bar}] {value}/{total} batches | ETA {eta_formatted} | {ips} img/s | recon {recon} d {d} adv {adv}`,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(batches, 0, { ips: '-', recon: '-', d: '-', adv: '-' });
    },
    batch(_epoch, batch, l, ips) {
      bar?.update(batch + 1, {
        ips: ips.toFixed(1),
        recon: fmt(l.reconLoss),
        d: fmt(l.dLossReal + l.dLossFake),
        adv: fmt(l.advLoss),
      });
    },
    epoch(record) {
      stop();
      stream.write(epochSummary(record, totalEpochs, score) + '\n');
    },
    stop,
  };
}
