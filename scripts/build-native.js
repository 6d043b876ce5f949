#!/usr/bin/env node
// Builds build/alocc_kernels.node (native/*.c) with the machine's C compiler, for the baseline instruction set of
// its architecture, so the addon loads on any CPU of that architecture. On x86-64 the hot code (gemm.c, conv.c, pooled.c) is
// also compiled for AVX2+FMA and AVX-512, and the addon picks the best the CPU runs at load time (native/isa.c).
// Runs from `npm install` (prepare) and `npm run build`. Never fails the install: without a compiler or Node's
// headers it says so in one line and alocc trains with its wasm kernels instead (slower).
// Rebuilds when the sources, this script, the compiler's version or the flags change (a hash of them is kept in
// build/alocc_kernels.node.key), not by file times. ALOCC_SKIP_NATIVE_BUILD=1 skips it, CC picks the compiler.
'use strict';
const { execFile, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const nativeDir = path.join(root, 'native');
const target = path.join(root, 'build', 'alocc_kernels.node');
const keyFile = `${target}.key`;

/** The hot code, compiled once per instruction set; everything else once, for the baseline. */
const PER_ISA = ['conv.c', 'conv-narrow.c', 'gemm.c', 'pooled.c'];
const COMMON_FLAGS = ['-O3', '-std=gnu11', '-fPIC', '-pthread', '-fno-math-errno'];
/** ops.c's elementwise ops round once per operation, as tfjs's ops do (the optimiser's step is bit-identical). */
const FILE_FLAGS = { 'ops.c': ['-ffp-contract=off'] };
/** Instruction sets per architecture (process.arch names), best first; native/isa.c lists the same. */
const ISA_FLAGS = {
  x64: { avx512: ['-mavx512f', '-mavx2', '-mfma'], avx2: ['-mavx2', '-mfma'], baseline: [] },
  other: { baseline: [] },
};

/**
 * The compile commands for `arch`: [{ source, object, args }] with args for `cc` (-c, flags, -I include). The
 * per-ISA copies get -DALOCC_ISA=<name>, which suffixes their symbols (native/kernels.h).
 */
function compilePlan(arch, include, objectDir) {
  const isas = ISA_FLAGS[arch] ?? ISA_FLAGS.other;
  const sources = fs.readdirSync(nativeDir).filter((f) => f.endsWith('.c')).sort();
  const plan = [];
  for (const file of sources) {
    const variants = PER_ISA.includes(file) ? Object.entries(isas) : [[null, []]];
    for (const [isa, flags] of variants) {
      const object = path.join(objectDir, `${path.basename(file, '.c')}${isa ? `.${isa}` : ''}.o`);
      const define = isa ? [`-DALOCC_ISA=${isa}`] : [];
      plan.push({ source: file, object, args: ['-c', ...COMMON_FLAGS, ...(FILE_FLAGS[file] ?? []), ...flags, ...define, '-I', include, path.join(nativeDir, file), '-o', object] });
    }
  }
  return plan;
}

/** Node's own headers: next to the binary (official tarballs, Debian's /usr), or where npm's nodedir points. */
function nodeInclude() {
  const dirs = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    process.config.variables.node_prefix && path.join(process.config.variables.node_prefix, 'include', 'node'),
  ].filter(Boolean);
  return { dir: dirs.find((dir) => fs.existsSync(path.join(dir, 'node_api.h'))), tried: dirs };
}

function skip(why) {
  console.error(`alocc: compiled conv kernels not built (${why}); training will use the slower wasm kernels`);
  process.exit(0);
}

function run(cc, args) {
  return new Promise((resolve, reject) =>
    execFile(cc, args, { maxBuffer: 1 << 24 }, (err, _stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve())));
}

/** Runs the compile commands, as many at a time as there are cores. */
async function compileAll(cc, plan) {
  const queue = [...plan];
  const worker = async () => {
    for (let step = queue.shift(); step; step = queue.shift()) await run(cc, step.args);
  };
  await Promise.all(Array.from({ length: Math.max(1, os.availableParallelism()) }, worker));
}

async function main() {
  if (process.env.ALOCC_SKIP_NATIVE_BUILD === '1') skip('ALOCC_SKIP_NATIVE_BUILD=1');
  if (process.platform === 'win32') skip('no build recipe for Windows');
  const include = nodeInclude();
  if (!include.dir) skip(`node_api.h not found in ${include.tried.join(', ')}`);

  const cc = process.env.CC || 'cc';
  let version;
  try {
    version = execFileSync(cc, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    skip(err.code === 'ENOENT' ? `no C compiler '${cc}'` : `'${cc} --version' failed`);
  }
  const objectDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alocc-native-'));
  const plan = compilePlan(process.arch, include.dir, objectDir);
  const linkFlags = ['-shared', '-pthread', ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : [])];

  // What the addon is made of: every file in native/, this script, the compiler and the flags (object paths aside).
  const hash = crypto.createHash('sha256');
  for (const f of fs.readdirSync(nativeDir).sort()) hash.update(`${f}\0`).update(fs.readFileSync(path.join(nativeDir, f)));
  hash.update(fs.readFileSync(__filename)).update(`${cc}\0${version}\0${process.arch}\0${include.dir}\0`);
  hash.update(JSON.stringify(plan.map((p) => p.args.filter((a) => !a.startsWith(objectDir)))) + linkFlags.join(' '));
  const key = hash.digest('hex');
  const upToDate = fs.existsSync(target) && fs.existsSync(keyFile) && fs.readFileSync(keyFile, 'utf8').trim() === key;
  if (upToDate) {
    fs.rmSync(objectDir, { recursive: true, force: true });
    return;
  }

  fs.mkdirSync(path.dirname(target), { recursive: true });
  // Written beside the target and renamed, so a failed or interrupted build never leaves a half-written addon.
  const partial = `${target}.${process.pid}.tmp`;
  try {
    await compileAll(cc, plan);
    await run(cc, [...linkFlags, ...plan.map((p) => p.object), '-o', partial, '-lm']);
    fs.renameSync(partial, target);
    fs.writeFileSync(keyFile, `${key}\n`);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    fs.rmSync(target, { force: true }); // an addon from older source must not run with newer JS
    fs.rmSync(keyFile, { force: true });
    skip(String(err.stderr || err.message).trim().split('\n')[0]);
  } finally {
    fs.rmSync(objectDir, { recursive: true, force: true });
  }
}

module.exports = { compilePlan, nodeInclude, ISA_FLAGS };

if (require.main === module) main();
