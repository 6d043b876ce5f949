#!/usr/bin/env node
/**
 * The import check `npm test` runs: no import circle among src/'s files, and every import from one room of src/ to
 * another runs down the floors below (a room is a folder of src/, or a file at its top). Prints what it checked and
 * every breach; exits 1 on any. Type-only imports count too: a type that must be imported from above is in the wrong
 * room.
 */
'use strict';
const fs = require('fs');
const path = require('path');

/** The floors of src/, top first; rooms on one floor import neither each other nor anything above. */
const FLOORS = [
  ['cli', 'library'],
  ['commands'],
  ['serve'],
  ['api'],
  ['eval'],
  ['train', 'plot'],
  ['run'],
  ['score', 'backend'],
  ['models', 'kernels', 'data'],
  ['config', 'fsutil', 'signals'],
  ['errors'],
];
/** Files at src/'s top that belong to another file's room. */
const ROOM_OF_FILE = { 'cli-options': 'cli', 'backend-choice': 'config' };

// The folder checked: src/, or another given as the argument (the check's own test plants breaches in a copy).
const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'src'));
const floorOf = new Map(FLOORS.flatMap((rooms, i) => rooms.map((room) => [room, i])));

function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

function roomOf(file) {
  const rel = path.relative(root, file).split(path.sep);
  if (rel.length > 1) return rel[0];
  const base = rel[0].replace(/\.ts$/, '');
  return ROOM_OF_FILE[base] ?? base;
}

/** The src/ files `file` imports (static, dynamic and export-from; relative specifiers only). */
function importsOf(file) {
  const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out = new Set();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.[^'"]*)['"]/gm;
  for (const m of text.matchAll(re)) {
    const target = path.resolve(path.dirname(file), m[1]);
    const hit = [target + '.ts', path.join(target, 'index.ts')].find((p) => fs.existsSync(p));
    if (!hit) throw new Error(`${path.relative(root, file)}: cannot resolve ${m[1]}`);
    out.add(hit);
  }
  return [...out];
}

const files = sources(root);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f) => path.relative(path.dirname(root), f);
const problems = [];

for (const file of files) {
  const room = roomOf(file);
  if (!floorOf.has(room)) problems.push(`${rel(file)}: room '${room}' has no floor in scripts/check-imports.js`);
}
let edges = 0;
for (const [file, targets] of graph) {
  const from = roomOf(file);
  for (const target of targets) {
    edges++;
    const to = roomOf(target);
    if (from === to || !floorOf.has(from) || !floorOf.has(to)) continue;
    if (floorOf.get(to) <= floorOf.get(from)) problems.push(`${rel(file)} → ${rel(target)}: ${from} imports ${to}, ${floorOf.get(to) < floorOf.get(from) ? 'a higher floor' : 'its own floor'}`);
  }
}

// Circles: depth-first search; a back edge closes one.
const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, 'open');
  stack.push(file);
  for (const target of graph.get(file)) {
    if (state.get(target) === 'open') problems.push(`circle: ${[...stack.slice(stack.indexOf(target)), target].map(rel).join(' → ')}`);
    else if (!state.has(target)) visit(target);
  }
  stack.pop();
  state.set(file, 'done');
}
files.forEach((f) => state.has(f) || visit(f));

console.log(`import check: ${files.length} files, ${edges} imports, floors ${FLOORS.map((f) => f.join(' | ')).join(' → ')}`);
if (problems.length) {
  for (const p of problems) console.log(`  ${p}`);
  console.log(`import check: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('import check: no circle, every import runs down the floors');
