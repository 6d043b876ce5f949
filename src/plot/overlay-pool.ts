/**
 * The overlays of a streamed folder drawn beside the scoring, not after it. `alocc score --maps` drew each chunk's
 * overlays on the main thread between the chunks' searches: about a quarter of a 28×28 folder's time (picture,
 * ramp, outline, caption, PNG filter and deflate; docs/performance.md), while the second core idled outside the
 * kernels' products. Here a worker thread draws chunk k's overlays while the main thread scores chunk k + 1.
 *
 * The bytes are renderOverlayPng's, whichever thread draws them. Where a worker cannot start or fails, the overlays
 * are drawn on the calling thread, so a map is never lost to the pool.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AnomalyMap } from '../score/map-geometry';
import { MapScale, OverlayCaption, OverlayPicture, renderOverlayPng } from './overlay';

/** One overlay to draw: what renderOverlayPng takes. */
export interface OverlayJob {
  picture: OverlayPicture;
  anomaly: AnomalyMap;
  scale: MapScale;
  caption: OverlayCaption;
}

/** What the worker answers for a batch of jobs: their PNGs in order, or why it could not. */
export type OverlayReply = { id: number; pngs: Uint8Array[] } | { id: number; error: string };

export interface OverlayPool {
  /** The jobs' PNGs, in order. */
  render(jobs: OverlayJob[]): Promise<Uint8Array[]>;
  /** Stops the worker; later renders draw on the calling thread. */
  dispose(): void;
  /** Batches drawn so far by the worker and on the calling thread (where the worker could not start or failed). */
  readonly drawn: { worker: number; inline: number };
}

export function renderInline(jobs: OverlayJob[]): Uint8Array[] {
  return jobs.map((j) => renderOverlayPng(j.picture, j.anomaly, j.scale, j.caption));
}

/**
 * The worker beside this file: the built .js, or under tsx (the tests run the sources) the .ts through tsx's
 * require hook, which a worker does not inherit from `--import tsx`.
 */
function startWorker(): Worker | null {
  const built = path.join(__dirname, 'overlay-worker.js');
  if (fs.existsSync(built)) return new Worker(built);
  const source = path.join(__dirname, 'overlay-worker.ts');
  if (fs.existsSync(source)) return new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true });
  return null;
}

/**
 * A pool of one worker, started on the first render (a single picture's `score --maps` never pays for it). One is
 * enough on two cores: the main thread keeps one, the kernels' products share both.
 */
export function overlayPool(): OverlayPool {
  let worker: Worker | null = null;
  let broken = false;
  let next = 0;
  const drawn = { worker: 0, inline: 0 };
  const waiting = new Map<number, { jobs: OverlayJob[]; resolve: (pngs: Uint8Array[]) => void; reject: (err: unknown) => void }>();

  // Whatever stops the worker, the jobs it held are drawn here instead.
  const fallBack = () => {
    broken = true;
    worker = null;
    for (const [id, w] of waiting) {
      waiting.delete(id);
      try {
        drawn.inline++;
        w.resolve(renderInline(w.jobs));
      } catch (err) {
        w.reject(err);
      }
    }
  };

  const start = (): Worker | null => {
    if (worker || broken) return worker;
    try {
      worker = startWorker();
    } catch {
      worker = null;
    }
    if (!worker) {
      broken = true;
      return null;
    }
    worker.unref(); // an idle worker never holds the process open; one with jobs does (render)
    worker.on('message', (reply: OverlayReply) => {
      const w = waiting.get(reply.id);
      if (!w) return;
      waiting.delete(reply.id);
      if (waiting.size === 0) worker?.unref();
      if ('pngs' in reply) {
        drawn.worker++;
        w.resolve(reply.pngs);
      } else {
        w.reject(new Error(reply.error));
      }
    });
    worker.on('error', fallBack);
    worker.on('exit', fallBack);
    return worker;
  };

  return {
    drawn,
    render(jobs) {
      const w = start();
      if (!w) {
        drawn.inline++;
        return Promise.resolve().then(() => renderInline(jobs));
      }
      const id = next++;
      return new Promise((resolve, reject) => {
        if (waiting.size === 0) w.ref();
        waiting.set(id, { jobs, resolve, reject });
        w.postMessage({ id, jobs });
      });
    },
    dispose() {
      const w = worker;
      broken = true;
      worker = null;
      if (w) {
        w.removeAllListeners('exit');
        void w.terminate();
      }
      fallBack();
    },
  };
}
