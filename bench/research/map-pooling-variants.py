"""
Image AUROC of ways to pool a picture's cell distances into one number, from `alocc score --json --maps` lines:
  alocc score --json --maps M/normal --model RUN BENCH/normal > D/normal.jsonl   (and the same for defective)
  python3 bench/research/map-pooling-variants.py D
Top-k means, the maximum of the cells blurred (Gaussian, sigma in cells), power means, the sum above the cell threshold
(docs/research.md, "Pooling the cells differently"). Needs numpy, scipy and scikit-learn.
"""
import json, sys, numpy as np
from sklearn.metrics import roc_auc_score
from scipy.ndimage import gaussian_filter, zoom
d = sys.argv[1]
rows = {s: [json.loads(l) for l in open(f'{d}/{s}.jsonl')] for s in ('normal', 'defective')}
y = [0]*len(rows['normal']) + [1]*len(rows['defective'])
allr = rows['normal'] + rows['defective']
cells = [np.array(r['map']['cells']) for r in allr]
def auc(v): return round(roc_auc_score(y, v), 4)
print('local (as stored)', auc([r['local']['score'] for r in allr]), 'verdict', auc([r['novelty'] for r in allr]))
for k in (1,2,3,4,5,8):
    print('top', k, auc([np.sort(c.ravel())[-k:].mean() for c in cells]))
for sig in (0.5, 0.75, 1.0, 1.5):
    print('max of blurred cells sigma', sig, auc([gaussian_filter(c, sig, mode='nearest').max() for c in cells]))
for p in (1,2,4):
    print('power mean p', p, auc([ (np.mean(c.ravel()**p))**(1/p) for c in cells]))
print('sum above threshold', auc([np.clip(c - r['map']['cellThreshold'], 0, None).sum() for c, r in zip(cells, allr)]))
