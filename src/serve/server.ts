/**
 * The HTTP service around a Detector: POST /score (an image body, or multipart with several files), GET /model,
 * GET /healthz and the page at /. Every limit is enforced before the expensive step it protects: body size while
 * reading, the pixel count from the header before decoding, decodes in flight, requests in flight, and the time a
 * client has to send its request.
 */
import * as http from 'http';
import fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { sharp } from '../data/sharp';
import { Detector, ScoreWithImages } from '../api/detector';
import { ScoreFailure, ScoreResult } from '../api/verdicts';
import { DecodedImage, ImageTooLargeError } from '../data/decode';
import { sniffImageFormat, unsupportedImage } from '../data/image-format';
import { AloccError, firstLine } from '../errors';
import { MicroBatcher, Semaphore } from './batcher';
import { pageHtml } from './page';

export interface ServeLimits {
  /** Largest request body (an image body, or each file of a multipart request). */
  bodyBytes: number;
  /** Pictures scored in one forward pass at most. */
  maxBatch: number;
  /** Requests in flight at most; beyond it 503 with Retry-After, before the body is read. */
  maxPending: number;
  /** Time a client has to send its whole request; then 408 and the connection is closed. */
  requestTimeoutMs: number;
  /** Files in one multipart request at most. */
  maxFiles?: number;
  /** Pictures decoded at once at most (each holds its decoded pixels, up to 50 megapixels). */
  maxDecodes?: number;
  /** How long a batch waits for more requests. */
  batchWaitMs?: number;
}

export const DEFAULT_LIMITS: ServeLimits = { bodyBytes: 20 * 1024 * 1024, maxBatch: 64, maxPending: 256, requestTimeoutMs: 30_000 };

/** What a client sent that cannot be scored: status and one line. */
class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

/** Image bodies are read whole; their Content-Type only has to say "a picture", the bytes say which. */
const IMAGE_CONTENT_TYPE = /^(image\/[\w.+-]+|application\/octet-stream)$/;

interface Job {
  name: string;
  image: DecodedImage;
}

/** A float HWC picture in [0, 1] as a PNG data URL, for the page. */
async function pngDataUrl(pixels: Float32Array, size: number, channels: number): Promise<string> {
  const bytes = Buffer.alloc(pixels.length);
  for (let i = 0; i < pixels.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
  const png = await sharp(bytes, { raw: { width: size, height: size, channels: channels as 1 | 3 } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** A result as the service sends it. */
type Presented = Omit<ScoreResult, 'map'> & { input?: string; reconstruction?: string; map?: { cells: number[][]; cellThreshold: number; overlay: string } };

/** The status a refusal of a picture gets: 413 for size, 415 for a format alocc does not read, else 400. */
function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.statusCode;
  if (err instanceof ImageTooLargeError) return 413;
  if (err instanceof AloccError) return 400;
  const code = (err as { statusCode?: number }).statusCode;
  return typeof code === 'number' && code >= 400 && code < 600 ? code : 500;
}

export function buildServer(detector: Detector, limits: ServeLimits = DEFAULT_LIMITS, log: (line: string) => void = () => {}): FastifyInstance {
  const { size, channels } = detector.info.preprocessing;
  const maxFiles = limits.maxFiles ?? 64;
  const batchOptions = { maxBatch: limits.maxBatch, maxWaitMs: limits.batchWaitMs ?? 2 };
  const batcher = new MicroBatcher<Job, ScoreWithImages>((jobs) => detector.scoreDecoded(jobs, { images: true }), batchOptions);
  // ?map=1 requests batch apart: a map costs the cells' search, which the other requests need not wait for.
  const mapBatcher = new MicroBatcher<Job, ScoreWithImages>((jobs) => detector.scoreDecoded(jobs, { images: true, map: true }), batchOptions);
  const decodes = new Semaphore(limits.maxDecodes ?? 8);
  let pending = 0;

  const app = fastify({
    logger: false,
    bodyLimit: limits.bodyBytes,
    // Node checks request deadlines every connectionsCheckingInterval (30 s by default): a slow client must be cut
    // off close to its deadline, not up to 30 s after it.
    serverFactory: (handler) =>
      http.createServer(
        {
          requestTimeout: limits.requestTimeoutMs,
          headersTimeout: Math.min(limits.requestTimeoutMs, 60_000),
          connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.requestTimeoutMs / 4)),
        },
        handler,
      ),
    connectionTimeout: limits.requestTimeoutMs,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(IMAGE_CONTENT_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.register(multipart, { limits: { fileSize: limits.bodyBytes, files: maxFiles, fields: 16, parts: maxFiles + 16 } });

  app.addHook('onRequest', async (_req, reply) => {
    if (pending >= limits.maxPending) {
      reply.header('retry-after', '1');
      throw new HttpError(503, `busy: ${pending} requests in flight (the limit is ${limits.maxPending}); retry shortly`);
    }
    pending++;
    reply.raw.once('close', () => pending--);
  });
  app.setErrorHandler((err, _req, reply) => {
    const status = statusOf(err);
    if (status >= 500 && status !== 503) log(`alocc serve: ${firstLine(err)}`);
    reply.code(status).send({ error: status === 500 ? `internal error: ${firstLine(err)}` : firstLine(err) });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: `no ${req.method} ${req.url.split('?')[0]}; try GET /, GET /model, GET /healthz or POST /score` });
  });

  /** Decodes (limited), then waits for its place in a batch. */
  const scoreBytes = async (bytes: Buffer, name: string, withMap: boolean): Promise<ScoreWithImages> => {
    if (bytes.length === 0) throw new HttpError(400, `${name}: empty body; send the picture's bytes`);
    if (!sniffImageFormat(bytes)) throw new HttpError(415, unsupportedImage(name, bytes).message);
    const image = await decodes.use(() => detector.decode(bytes, name));
    return (withMap ? mapBatcher : batcher).submit({ name, image });
  };

  /** The result as JSON: images as PNG data URLs, the map's overlay too. */
  const present = async (r: ScoreWithImages, withImages: boolean): Promise<Presented> => {
    const { input, reconstruction, map, ...fields } = r;
    const out: Presented = map ? { ...fields, map: { cells: map.cells, cellThreshold: map.cellThreshold, overlay: `data:image/png;base64,${Buffer.from(map.overlayPng).toString('base64')}` } } : fields;
    if (!withImages) return out;
    return { ...out, input: await pngDataUrl(input, size, channels), reconstruction: await pngDataUrl(reconstruction, size, channels) };
  };

  app.post('/score', async (req: FastifyRequest<{ Querystring: { reconstruction?: string; map?: string } }>, reply: FastifyReply) => {
    const flag = (v: string | undefined) => v === '1' || v === 'true';
    const withImages = flag(req.query.reconstruction);
    const withMap = flag(req.query.map);
    if (req.isMultipart()) {
      const work: Promise<Presented | ScoreFailure>[] = [];
      for await (const part of req.parts()) {
        if (part.type !== 'file') continue;
        const name = part.filename || part.fieldname;
        const bytes = await part.toBuffer(); // throws 413 past fileSize, before the rest is read
        work.push(
          scoreBytes(bytes, name, withMap).then(
            (r) => present(r, withImages),
            (err: unknown) => {
              if (statusOf(err) >= 500) throw err;
              return { file: name, error: firstLine(err) };
            },
          ),
        );
      }
      if (work.length === 0) throw new HttpError(400, 'a multipart request with no file parts; attach pictures as files');
      return { results: await Promise.all(work) };
    }
    const body = req.body;
    if (!Buffer.isBuffer(body)) {
      if (req.headers['content-type'] === undefined) throw new HttpError(415, 'no Content-Type; send image/png, image/jpeg, … or multipart/form-data');
      throw new HttpError(400, 'empty body; send the picture\'s bytes');
    }
    const name = typeof req.headers['x-filename'] === 'string' ? req.headers['x-filename'] : 'body';
    return reply.send(await present(await scoreBytes(body, name, withMap), withImages));
  });

  // The run by its name: the absolute folder would tell every client the server's file layout.
  const { runDir: _runDir, ...model } = detector.info;
  const page = pageHtml(model.run);
  app.get('/model', async () => model);
  app.get('/healthz', async () => ({ status: 'ok', pending, batches: batcher.stats }));
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  return app;
}
