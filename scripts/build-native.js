#!/usr/bin/env node
// Builds build/alocc_kernels.node (native/*.c) with the machine's C compiler, for this machine's CPU
// (-march=native). Runs from `npm install` (prepare) and `npm run build`. Never fails the install: without a
// compiler or Node's headers it says so in one line and alocc trains with its wasm kernels instead (slower).
// Set ALOCC_SKIP_NATIVE_BUILD=1 to skip it, CC to pick the compiler.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const nativeDir = path.join(root, 'native');
const sources = fs.readdirSync(nativeDir).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(nativeDir, f));
const target = path.join(root, 'build', 'alocc_kernels.node');

function skip(why) {
  console.error(`alocc: compiled conv kernels not built (${why}); training will use the slower wasm kernels`);
  process.exit(0);
}

if (process.env.ALOCC_SKIP_NATIVE_BUILD === '1') skip('ALOCC_SKIP_NATIVE_BUILD=1');
if (process.platform === 'win32') skip('no build recipe for Windows');

// Node's own headers: next to the binary (official tarballs, Debian's /usr), or where npm's nodedir points.
const includeDirs = [
  process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
  path.join(path.dirname(process.execPath), '..', 'include', 'node'),
  process.config.variables.node_prefix && path.join(process.config.variables.node_prefix, 'include', 'node'),
].filter(Boolean);
const include = includeDirs.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
if (!include) skip(`node_api.h not found in ${includeDirs.join(', ')}`);

const inputs = [...fs.readdirSync(nativeDir).map((f) => path.join(nativeDir, f)), __filename];
const upToDate = fs.existsSync(target) && inputs.every((f) => fs.statSync(target).mtimeMs >= fs.statSync(f).mtimeMs);
if (upToDate) process.exit(0);

const cc = process.env.CC || 'cc';
const flags = ['-O3', '-march=native', '-std=gnu11', '-shared', '-fPIC', '-pthread', '-fno-math-errno'];
if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
fs.mkdirSync(path.dirname(target), { recursive: true });
// Written beside the target and renamed, so a failed or interrupted build never leaves a half-written addon.
const partial = `${target}.${process.pid}.tmp`;
try {
  execFileSync(cc, [...flags, '-I', include, ...sources, '-o', partial, '-lm'], { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.renameSync(partial, target);
} catch (err) {
  fs.rmSync(partial, { force: true });
  fs.rmSync(target, { force: true }); // an addon from older source must not run with newer JS
  const detail = err.code === 'ENOENT' ? `no C compiler '${cc}'` : String(err.stderr || err.message).trim().split('\n')[0];
  skip(detail);
}
