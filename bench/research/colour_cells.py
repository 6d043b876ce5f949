#!/usr/bin/env python3
"""Research probe (issue 22): how coarse should the knn verdict's cells be on 64x64 colour pictures? R's first block
(5x5 conv stride 2, 32 filters, BatchNorm on the training pictures, LeakyReLU 0.2; untrained and seeded, which on
this benchmark ranks as R trained does: docs/research.md, "Colour pictures, an untrained control") pooled into a
GxG grid of cells, each cell's mean and maximum, each part unit length over the grid (the verdict's normalisation);
kNN (k 10, cosine) to every training picture. Prints one JSON line per task and grid.
Usage: colour_cells.py TASKS_DIR [--grids 8,4,2,1] [--seed 0]
"""
import argparse, json, os
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import sys; sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'torch'))
from ss_probe import auroc, load

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('tasks'); ap.add_argument('--grids', default='8,4,2,1')
    ap.add_argument('--seed', type=int, default=0); a = ap.parse_args(); torch.set_num_threads(1)
    for task in ['smileys', 'people', 'animals', 'food', 'travel', 'activities', 'objects', 'symbols']:
        d = os.path.join(a.tasks, task); tr = load(os.path.join(d, 'train'), 64)
        nm, nv = load(os.path.join(d, 'normal'), 64), load(os.path.join(d, 'novel'), 64)
        te = torch.cat([nm, nv]); pos = np.r_[np.zeros(len(nm)), np.ones(len(nv))].astype(bool)
        torch.manual_seed(a.seed); conv = nn.Conv2d(3, 32, 5, 2, 2); bn = nn.BatchNorm2d(32, momentum=None)
        with torch.no_grad():
            bn.train(); bn(conv(tr)); bn.eval()
            block = lambda x: F.leaky_relu(bn(conv(x)), 0.2)
            htr, hte = block(tr), block(te)
            row = {'task': task, 'seed': a.seed}
            for g in [int(v) for v in a.grids.split(',')]:
                def feats(h):
                    u = lambda t: F.normalize(t.flatten(1), dim=1) * (0.5 ** 0.5)
                    return torch.cat([u(F.adaptive_avg_pool2d(h, g)), u(F.adaptive_max_pool2d(h, g))], 1)
                ftr, fte = feats(htr), feats(hte)
                dist = (1 - fte @ ftr.T).sort(1).values[:, :10].mean(1)
                row[f'g{g}'] = round(auroc(dist.numpy(), pos), 4)
        print(json.dumps(row), flush=True)

if __name__ == '__main__':
    main()
