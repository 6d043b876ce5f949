import { test } from 'node:test';
import assert from 'node:assert/strict';
import { largeFloats, loadNativeKernels } from '../src/kernels/addon';

const loaded = loadNativeKernels().loaded;
const skip = !loaded && 'addon not built';

test('largeFloats gives zeroed, writable floats of the length asked, large (huge pages) or small', { skip }, () => {
  for (const n of [2, 1000, (2 << 20) / 4, (2 << 20) / 4 + 1, 3 << 20]) {
    const a = largeFloats(n);
    assert.equal(a.length, n);
    assert.equal(a.byteLength, 4 * n);
    let nonZero = 0;
    for (let i = 0; i < n; i++) if (a[i] !== 0) nonZero++;
    assert.equal(nonZero, 0, `${n} floats: ${nonZero} not zero`);
    a.fill(1.5);
    a[n - 1] = -2;
    assert.equal(a[0], 1.5);
    assert.equal(a[n - 1], -2);
    // A second buffer is its own memory, not the first's.
    const b = largeFloats(n);
    assert.equal(b[0], 0);
    b[0] = 7;
    assert.equal(a[0], 1.5);
  }
});

test('hugeFloats refuses a count that is not a whole number from 1', { skip }, () => {
  const addon = require('../build/alocc_kernels.node') as { hugeFloats(n: number): Float32Array };
  for (const bad of [0, -1, 2 ** 31]) assert.throws(() => addon.hugeFloats(bad), /hugeFloats\(n\): n must be a whole number/, String(bad));
});
