import { BackendChoice, describeBackend } from '../backend-choice';
import { loadDetector } from '../api/detector';
import { AloccError, firstLine } from '../errors';
import { buildServer, DEFAULT_LIMITS, ServeLimits } from '../serve/server';

export interface ServeOptions {
  /** The run folder to serve. */
  model: string;
  port: number;
  /** 127.0.0.1 unless told: a model is not put on the network by accident. */
  host: string;
  epoch?: number;
  backend: BackendChoice;
  limits?: Partial<ServeLimits>;
  log?: NodeJS.WritableStream;
}

/**
 * `alocc serve`: loads the run, listens, and on SIGTERM or Ctrl-C stops accepting connections, finishes the
 * requests in flight and resolves (exit 0). A second signal quits at once.
 */
export async function serveCommand(opts: ServeOptions): Promise<void> {
  const log = opts.log ?? process.stderr;
  // Every answer carries the details and R's reconstruction: TensorFlow.js, whatever the run's score.
  const detector = await loadDetector(opts.model, { epoch: opts.epoch, backend: opts.backend, details: true });
  log.write(describeBackend(detector.backend) + '\n');
  const app = buildServer(detector, { ...DEFAULT_LIMITS, ...opts.limits }, (line) => log.write(line + '\n'));
  let address: string;
  try {
    address = await app.listen({ port: opts.port, host: opts.host });
  } catch (err) {
    detector.dispose();
    throw new AloccError(`cannot listen on ${opts.host}:${opts.port}: ${firstLine(err)}`);
  }
  const { runDir, epoch, score, threshold } = detector.info;
  log.write(`serving ${runDir} (epoch ${epoch}, ${score} threshold ${threshold.toPrecision(4)}) on ${address}\n`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) process.exit(0);
      stopping = true;
      log.write(`${sig}: finishing the requests in flight, then exiting (again to quit at once)\n`);
      app.close().then(resolve, (err: unknown) => {
        log.write(`alocc serve: while closing: ${firstLine(err)}\n`);
        resolve();
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  detector.dispose();
  log.write('stopped\n');
}
