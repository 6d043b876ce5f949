// `alocc serve` as a process: loopback by default, and SIGTERM finishes the request in flight, then exits 0.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CLI, writeTestDigits } from '../helpers/cli';
import { makeFakeRun, SMALL_MODEL } from '../helpers/fake-run';
import { tempDir } from '../helpers/fixtures';

const work = tempDir('alocc-serve-signal-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });

test('SIGTERM during a request: the request is answered, new connections are refused, the process exits 0', async () => {
  await makeFakeRun(path.join(work, 'ckpt'), 1, { model: SMALL_MODEL });
  const [picture] = writeTestDigits(path.join(work, 'img'), 1, 1);
  const bytes = fs.readFileSync(picture);
  const child = spawn(process.execPath, [CLI, 'serve', '--model', path.join(work, 'ckpt', 'digit-1'), '--port', '0', '--backend', 'cpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        const m = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      child.on('close', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    // Half a request, then SIGTERM, then the rest.
    const reply = new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`);
        socket.write(bytes.subarray(0, 40));
        setTimeout(() => child.kill('SIGTERM'), 200);
        const waitForStop = setInterval(async () => {
          if (!/SIGTERM: finishing/.test(stderr)) return;
          clearInterval(waitForStop);
          assert.equal(await connects(port), false, 'no new connection once stopping');
          socket.write(bytes.subarray(40));
        }, 50);
      });
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const text = await reply;
    assert.match(text, /^HTTP\/1\.1 200/, text);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    assert.ok(body.verdict === 'novel' || body.verdict === 'normal', text);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /stopped/);
  } finally {
    clearTimeout(kill);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
