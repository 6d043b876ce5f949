import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { allTurns, quarterTurn, turnedRows, TURNS } from '../src/models/rotation-net';
import { values } from './helpers/numeric';

// turnedRows gathers a chunk's rows and turns them in JavaScript; the reference is tfjs's own gather, quarterTurn's
// transpose and reverse, and concat, on the stock cpu and wasm kernels. A permutation: equal bit for bit.
for (const backend of ['cpu', 'wasm']) {
  test(`turnedRows equals gather, quarter turns and concat on stock ${backend}`, async () => {
    await tf.setBackend(backend);
    for (const [n, s, c] of [[6, 5, 3], [4, 28, 1], [3, 1, 2]]) {
      const shape = [n, s, s, c];
      const pixels = values(shape, 21 + s);
      const x = tf.tensor4d(pixels, shape as [number, number, number, number]);
      const rows = Int32Array.from([n - 1, 0, Math.floor(n / 2)]);
      const reference = tf.tidy(() => {
        const picked = tf.gather(x, tf.tensor1d(rows, 'int32')) as tf.Tensor4D;
        return tf.concat(Array.from({ length: TURNS }, (_, k) => quarterTurn(picked, k))).dataSync();
      });
      const { turned, turns } = turnedRows(pixels, shape, rows);
      assert.deepEqual(turned.shape, [TURNS * rows.length, s, s, c]);
      assert.deepEqual(Array.from(turned.dataSync()), Array.from(reference), `${n}×${s}×${s}×${c}`);
      assert.deepEqual(Array.from(turns.dataSync()), Array.from({ length: TURNS * rows.length }, (_, i) => Math.floor(i / rows.length)));
      const all = allTurns(x);
      const whole = tf.tidy(() => tf.concat(Array.from({ length: TURNS }, (_, k) => quarterTurn(x, k))).dataSync());
      assert.deepEqual(Array.from(all.turned.dataSync()), Array.from(whole), `allTurns ${n}×${s}×${s}×${c}`);
      tf.dispose([x, turned, turns, all.turned, all.turns]);
    }
  });
}
