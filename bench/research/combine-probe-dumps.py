#!/usr/bin/env python3
"""Research probe (issue 22): what a self-supervised score measured outside alocc adds to the product's verdict.
Reads the product's standardised parts (bench/research/verdict-parts-dump.ts PARTS_DIR) and transform_probe.py's
--dump files (DUMP_DIR/<set>-<seed>-<task>.json), standardises the probe's GEOM score on its own held-out pictures,
caps it at 2 as the product caps its rotation part, and prints, per set and seed, the eight-task mean AUROC of:
product (knn + rotation, the product's verdict), geom (the probe's score alone), knn_geom (the product's knn part
plus the probe's score instead of the product's rotation part), knn_rot_geom (all three); where the dump has it, knn_all
(kNN over the probe net's features of every transformed copy) alone and as a third part (weight 1 and 0.5), and with
the probe's GEOM score in place of the product's rotation part (knn_geom_knnall).

Usage: /usr/bin/python3 bench/research/combine-probe-dumps.py PARTS_DIR DUMP_DIR SET...
"""
import json, os, sys
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'torch'))
from ss_probe import auroc

TASKS = ['smileys', 'people', 'animals', 'food', 'travel', 'activities', 'objects', 'symbols']

def main():
    parts_dir, dump_dir, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
    for st in sets:
        for seed in (0, 1, 2):
            row = {}
            for t in TASKS:
                f = os.path.join(dump_dir, '%s-%d-%s.json' % (st, seed, t))
                if not os.path.exists(f): continue
                g = json.load(open(f)); p = json.load(open(os.path.join(parts_dir, t + '.json')))
                assert g['files'] == p['files'], t
                pos = np.array(p['novel'], bool); zk = np.array(p['knn']); zr = np.minimum(np.array(p['rotation']), p['cap'])
                zg = np.minimum((np.array(g['geom']) - g['geom_val_mean']) / g['geom_val_sd'], 2)
                row[t] = dict(product=auroc(zk + zr, pos), geom=auroc(np.array(g['geom']), pos), knn_geom=auroc(zk + zg, pos), knn_rot_geom=auroc(zk + zr + zg, pos))
                if 'knn_all' in g:  # kNN over the probe net's pooled features of every transformed copy, as a third part
                    za = (np.array(g['knn_all']) - g['knn_all_val_mean']) / g['knn_all_val_sd']
                    row[t].update(knn_all=auroc(za, pos), knn_rot_knnall=auroc(zk + zr + za, pos), knn_rot_half_knnall=auroc(zk + zr + 0.5 * za, pos),
                                  knn_geom_knnall=auroc(zk + zg + za, pos))
            if len(row) == len(TASKS):
                m = {k: np.mean([row[t][k] for t in TASKS]) for k in row[TASKS[0]]}
                print(st, seed, {k: round(v, 4) for k, v in m.items()}, ' '.join('%s:%.3f' % (t[:4], row[t]['knn_geom']) for t in TASKS))
            elif row:
                print(st, seed, 'partial', len(row))

if __name__ == '__main__':
    main()
