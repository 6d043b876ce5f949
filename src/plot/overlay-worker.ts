/**
 * The overlay pool's worker (./overlay-pool.ts): draws each batch of overlays it is sent and answers with their PNGs,
 * or with the one line that says why it could not.
 */
import { parentPort } from 'node:worker_threads';
import { OverlayJob, OverlayReply, renderInline } from './overlay-pool';

parentPort?.on('message', ({ id, jobs }: { id: number; jobs: OverlayJob[] }) => {
  let reply: OverlayReply;
  try {
    reply = { id, pngs: renderInline(jobs) };
  } catch (err) {
    reply = { id, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply);
});
