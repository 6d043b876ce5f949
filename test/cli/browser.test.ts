// The page at / in a real browser (Debian's headless Chromium driven by playwright-core): a person drops a picture,
// or draws one, and sees the verdict, the score against the threshold, R's reconstruction and the anomaly map's
// overlay (the very PNG `alocc score --maps` writes) with its caption; the run named by its name, not its folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FastifyInstance } from 'fastify';
import { chromium, BrowserContext } from 'playwright-core';
import { Detector, loadDetector } from '../../src/api/detector';
import { buildServer, DEFAULT_LIMITS } from '../../src/serve/server';
import { alocc, writeTestDigits } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';

// Code run inside the page sees the browser's globals, which Node's types do not declare.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, DataTransfer: any, DragEvent: any;

const CHROMIUM = process.env.ALOCC_CHROMIUM ?? '/usr/bin/chromium';
const NO_BROWSER = fs.existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set ALOCC_CHROMIUM`;

const work = tempDir('alocc-browser-');
let detector: Detector;
let app: FastifyInstance;
let browser: BrowserContext;
let base = '';
let picture = '';
let expected: Record<string, any>;

before(async () => {
  if (NO_BROWSER) return;
  await makeFakeRun(path.join(work, 'ckpt'), 1, { model: SMALL_MODEL });
  [picture] = writeTestDigits(path.join(work, 'img'), 7, 1);
  const r = alocc('score', '--json', '--maps', path.join(work, 'maps'), '--model', path.join(work, 'ckpt', 'digit-1'), '--backend', 'wasm', picture);
  assert.equal(r.code, 0, r.stderr);
  expected = JSON.parse(r.stdout);
  detector = await loadDetector(path.join(work, 'ckpt', 'digit-1'), { backend: 'wasm' });
  app = buildServer(detector, DEFAULT_LIMITS);
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  // A fresh profile folder (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
});
after(async () => {
  await browser?.close();
  await app?.close();
  detector?.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

/** Whether an <img> has finished loading a real picture (not a broken one), and its natural size. */
const rendered = (page: import('playwright-core').Page, id: string) =>
  page.$eval(`#${id}`, (img) => {
    const i = img as unknown as { complete: boolean; naturalWidth: number; naturalHeight: number; src: string };
    return { complete: i.complete, width: i.naturalWidth, height: i.naturalHeight, src: i.src.slice(0, 22) };
  });

test('dropping a picture on the page shows its verdict, its score against the threshold, and R\'s reconstruction', { skip: NO_BROWSER }, async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/');
  await page.waitForFunction(() => /epoch \d+/.test(document.getElementById('model').textContent ?? ''));
  // A synthetic drop event carrying the file, as the browser makes one when a file is dragged onto the zone.
  const bytes = [...fs.readFileSync(picture)];
  await page.evaluate(async ({ bytes, name }) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, { bytes, name: path.basename(picture) });
  await page.waitForSelector('#result:not([hidden])');
  await page.waitForFunction(() => document.getElementById('reconstruction').naturalWidth > 0);
  const verdict = await page.textContent('#verdict');
  assert.equal(verdict, expected.verdict === 'novel' ? 'Novel' : 'Normal');
  assert.equal(Number(await page.textContent('#novelty')), Number(expected.novelty.toPrecision(4)));
  assert.equal(Number(await page.textContent('#threshold')), Number(expected.threshold.toPrecision(4)));
  assert.deepEqual(await rendered(page, 'reconstruction'), { complete: true, width: 28, height: 28, src: 'data:image/png;base64,' });
  assert.deepEqual(await rendered(page, 'input'), { complete: true, width: 28, height: 28, src: 'data:image/png;base64,' });
  // The overlay beside the reconstruction: the CLI's overlay file byte for byte (28 pixels zoomed 9 times, a
  // 28-pixel caption below), and a caption counting the cells at or above the cell threshold in the CLI's cells.
  await page.waitForFunction(() => document.getElementById('overlay').naturalWidth > 0);
  assert.deepEqual(await rendered(page, 'overlay'), { complete: true, width: 252, height: 280, src: 'data:image/png;base64,' });
  const shown = await page.$eval('#overlay', (img) => (img as unknown as { src: string }).src);
  assert.ok(Buffer.from(shown.split(',')[1], 'base64').equals(fs.readFileSync(expected.map.overlay)), 'the page shows the overlay alocc score --maps writes');
  const cells: number[] = expected.map.cells.flat();
  const hot = cells.filter((v) => v >= expected.map.cellThreshold).length;
  const caption = (await page.textContent('#map-caption')) ?? '';
  assert.ok(caption.startsWith(`where it is novel: ${hot} of 49 cells at or above the cell threshold ${Number(expected.map.cellThreshold.toPrecision(4))}`), caption);
  assert.equal(await page.isVisible('#map-figure'), true);
  // The run by its name: the server's folders are nobody's business.
  const header = (await page.textContent('#model')) ?? '';
  assert.match(header, /^digit-1, epoch \d+: 28×28 grey/);
  assert.ok(!header.includes(work) && !(await page.content()).includes(work), `the page shows the folder ${work}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('choosing a file, then drawing on the pad, each get an answer; a file that is no picture shows the service\'s error', { skip: NO_BROWSER }, async () => {
  const page = await browser.newPage();
  await page.goto(base + '/');
  const bad = path.join(work, 'notes.png');
  fs.writeFileSync(bad, 'just some text');
  await page.setInputFiles('#file', bad);
  await page.waitForFunction(() => (document.getElementById('error').textContent ?? '') !== '');
  assert.match((await page.textContent('#error')) ?? '', /notes\.png: not a supported image/);

  await page.setInputFiles('#file', picture);
  await page.waitForSelector('#result:not([hidden])');
  assert.equal(await page.textContent('#verdict'), expected.verdict === 'novel' ? 'Novel' : 'Normal');

  // A stroke drawn with the mouse, then "Score the drawing".
  const box = (await page.locator('#pad').boundingBox())!;
  await page.mouse.move(box.x + 112, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(box.x + 112, box.y + 180, { steps: 12 });
  await page.mouse.up();
  await page.click('#score-drawing');
  await page.waitForFunction(() => (document.getElementById('file-name').textContent ?? '').includes('drawing.png'));
  assert.match((await page.textContent('#verdict')) ?? '', /^(Novel|Normal)$/);
  assert.equal((await rendered(page, 'reconstruction')).width, 28);
  await page.close();
});
