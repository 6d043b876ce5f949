#!/usr/bin/env python3
"""Research probe (issue 22): would a rotation score (rot_curve.py --dump) added to alocc's knn verdict (alocc score
--json over the task's normal and novel folders) rank better, with a label-free rule? Each score is put on its
validation scale: (s - mean_val) / sd_val, the knn's from the run's validation mean and 95th-percentile threshold
(sd ~ (threshold - mean) / 1.645), the rotation score's from the probe's held-out training pictures.

Usage: combine_rot_knn.py DUMPDIR KNNDIR RUNSDIR  (DUMPDIR/<task>.json, KNNDIR/<task>-{normal,novel}.json, RUNSDIR/<task>/run.json)
"""
import json, os, sys
import numpy as np

def auroc(score, pos):
    order = np.argsort(score, kind='mergesort'); ranks = np.empty(len(score)); ranks[order] = np.arange(1, len(score) + 1)
    npos = pos.sum(); nneg = len(pos) - npos
    return float((ranks[pos].sum() - npos * (npos + 1) / 2) / (npos * nneg))

dumps, knns, runs = sys.argv[1:4]
tasks = ['smileys', 'people', 'animals', 'food', 'travel', 'activities', 'objects', 'symbols']
rows = []
for t in tasks:
    d = json.load(open(os.path.join(dumps, f'{t}.json')))
    knn = {}
    for k in ('normal', 'novel'):
        for line in open(os.path.join(knns, f'{t}-{k}.json')):
            r = json.loads(line); knn[os.path.basename(r['file'])] = r['novelty']
    run = json.load(open(os.path.join(runs, t, 'run.json'))); v = run['epochs'][run['bestEpoch'] - 1]['validation']['knn']
    pos = np.array(d['novel']); kn = np.array([knn[n] for n in d['names']]); rot = np.array(d['test']['rot'])
    zk = (kn - v['mean']) / ((v['threshold'] - v['mean']) / 1.645)
    vr = np.array(d['val']['rot']); zr = (rot - vr.mean()) / (vr.std() + 1e-9)
    acc = d['val_acc']; w = max(0.0, (acc - 0.25) / 0.75)
    row = {'task': t, 'val_acc': round(acc, 3), 'knn': auroc(kn, pos), 'rot': auroc(rot, pos), 'rot_knn_feat': auroc(np.array(d['test']['knn']), pos),
           'sum': auroc(zk + zr, pos), 'weighted': auroc(zk + w * zr, pos), 'gate0.6': auroc(zk + (zr if acc >= 0.6 else 0), pos)}
    rows.append(row)
keys = ['knn', 'rot', 'rot_knn_feat', 'sum', 'weighted', 'gate0.6']
print('| task | val acc | ' + ' | '.join(keys) + ' |'); print('|---' * (len(keys) + 2) + '|')
for r in rows: print(f"| {r['task']} | {r['val_acc']} | " + ' | '.join(f'{r[k]:.4f}' for k in keys) + ' |')
print('| mean | | ' + ' | '.join(f'{np.mean([r[k] for r in rows]):.4f}' for k in keys) + ' |')
