#!/usr/bin/env python3
"""Research probe (issue 22): which set of transformations should the self-supervised net learn to tell apart on
colour pictures? GEOM's score (-mean over the set of log p(the applied transformation)) and kNN (k 10, cosine) on
the last block's pooled features, for the rotation net's shape (4 x [3x3 conv, BN, LeakyReLU, 2x2 max pool], width
w, 2w, 4w, 8w) trained from scratch on the task's normal training pictures. One JSON line per task.

Sets: rot4 (quarter turns), perm6 (RGB channel orders), rot4perm6 (both, 24), rot4perm3 (turns x cyclic channel
shifts, 12), rot4inv (turns x {picture, 1 - picture}, 8), rot4flip (turns x mirror, 8), jig4 (the picture's 2x2
tiles in four orders: as it is, left and right swapped, top and bottom swapped, both), rot4jig4 (turns x jig4, 16),
rot4+jig4 (the four turns and jig4's three other orders, 7).

Usage: transform_probe.py TASKDIR [--set rot4] [--size 32] [--width 8] [--epochs 10] [--seed 0] [--threads 1]
"""
import argparse, itertools, json, os, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from ss_probe import auroc, load
from rot_curve import augment

PERMS = list(itertools.permutations(range(3)))
CYCLIC = [(0, 1, 2), (1, 2, 0), (2, 0, 1)]

JIGSAW = [(0, 1, 2, 3), (1, 0, 3, 2), (2, 3, 0, 1), (3, 2, 1, 0)]

def tiles_in(x, p):
    h, w = x.shape[2] // 2, x.shape[3] // 2
    t = [x[:, :, :h, :w], x[:, :, :h, w:], x[:, :, h:, :w], x[:, :, h:, w:]]
    return torch.cat([torch.cat([t[p[0]], t[p[1]]], 3), torch.cat([t[p[2]], t[p[3]]], 3)], 2)

def colour_ops(name):
    if name.endswith('jig4'): return [lambda x, p=p: tiles_in(x, p) for p in JIGSAW]
    if name.endswith('perm6'): return [lambda x, p=p: x[:, list(p)] for p in PERMS]
    if name.endswith('perm3'): return [lambda x, p=p: x[:, list(p)] for p in CYCLIC]
    if name.endswith('inv'): return [lambda x: x, lambda x: 1 - x]
    if name.endswith('flip'): return [lambda x: x, lambda x: torch.flip(x, dims=[3])]
    return [lambda x: x]

def transforms(x, name):
    if name == 'rot4+jig4':  # the union: the four turns, then the three tile orders other than the picture's own (7)
        return [torch.rot90(x, k, dims=[2, 3]) for k in range(4)] + [tiles_in(x, p) for p in JIGSAW[1:]]
    turns = range(4) if name.startswith('rot4') else range(1)
    return [torch.rot90(op(x), k, dims=[2, 3]) for op in colour_ops(name) for k in turns]

class Net(nn.Module):
    def __init__(s, width, n):
        super().__init__()
        ch = [3, width, 2 * width, 4 * width, 8 * width]
        s.convs = nn.ModuleList(nn.Conv2d(ch[i], ch[i + 1], 3, 1, 1) for i in range(4))
        s.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in ch[1:])
        s.head = nn.Linear(ch[-1], n)
        s.proj = nn.Sequential(nn.Linear(2 * ch[-1], 128), nn.ReLU(), nn.Linear(128, 64))
    def embed(s, x):
        h = s.last(x)
        return s.proj(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], 1))
    def last(s, x):
        for c, b in zip(s.convs, s.bns): x = F.max_pool2d(F.leaky_relu(b(c(x)), 0.2), 2)
        return x
    def forward(s, x): return s.head(s.last(x).mean(dim=(2, 3)))

def pooled(h):
    u = lambda t: F.normalize(t, dim=1)
    return u(torch.cat([u(h.mean(dim=(2, 3))), u(h.amax(dim=(2, 3)))], 1))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('task'); ap.add_argument('--set', default='rot4'); ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--width', type=int, default=8); ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--lr', type=float, default=1e-3); ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--dump', default=''); ap.add_argument('--objective', default='cls')
    ap.add_argument('--tau', type=float, default=0.5); ap.add_argument('--cw', type=float, default=1.0)
    a = ap.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
    tr = load(os.path.join(a.task, 'train'), a.size)
    # 15 % of the training pictures held out (seeded), as the product's validation split: each part's scale for the sums.
    order = torch.randperm(len(tr), generator=torch.Generator().manual_seed(a.seed)); nval = int(round(0.15 * len(tr)))
    va, tr = tr[order[:nval]], tr[order[nval:]]
    nm, nv = load(os.path.join(a.task, 'normal'), a.size), load(os.path.join(a.task, 'novel'), a.size)
    te = torch.cat([nm, nv]); pos = np.r_[np.zeros(len(nm)), np.ones(len(nv))].astype(bool)
    T = len(transforms(tr[:1], a.set)); net = Net(a.width, T); opt = torch.optim.Adam(net.parameters(), a.lr); t0 = time.time()
    for ep in range(a.epochs):
        net.train(); perm = torch.randperm(len(tr))
        for i in range(0, len(tr), a.batch):
            xb = tr[perm[i:i + a.batch]]
            x = torch.cat(transforms(xb, a.set)); lab = torch.arange(T).repeat_interleave(len(xb))
            loss = F.cross_entropy(net(x), lab)
            if a.objective == 'csi':  # two augmented views of every transformed copy; other copies are negatives
                n = len(x); v = torch.cat([augment(x), augment(x)]); z = F.normalize(net.embed(v), dim=1)
                sim = z @ z.T / a.tau; sim.fill_diagonal_(-1e9)
                loss = loss + a.cw * F.cross_entropy(sim, torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]))
            opt.zero_grad(); loss.backward(); opt.step()
    net.eval(); row = {'task': os.path.basename(a.task.rstrip('/')), 'set': a.set + ('' if a.objective == 'cls' else '+' + a.objective), 'T': T, 'width': a.width, 'size': a.size,
                       'epochs': a.epochs, 'seed': a.seed, 's': round(time.time() - t0, 1)}
    with torch.no_grad():
        def geom(x):
            return -torch.stack([F.log_softmax(net(t), 1)[:, k] for k, t in enumerate(transforms(x, a.set))], 1).mean(1)
        def rot_only(x):  # the quarter turns' part of the score alone (colour op 0)
            ts = transforms(x, a.set)[:4] if a.set.startswith('rot4') else transforms(x, a.set)
            return -torch.stack([F.log_softmax(net(t), 1)[:, k] for k, t in enumerate(ts)], 1).mean(1)
        s = geom(te); row['geom'] = round(auroc(s.numpy(), pos), 4); row['rot_part'] = round(auroc(rot_only(te).numpy(), pos), 4)
        ftr, fte = pooled(net.last(tr)), pooled(net.last(te))
        d = (1 - fte @ ftr.T).sort(1).values[:, :10].mean(1); row['knn'] = round(auroc(d.numpy(), pos), 4)
        # kNN over the features of every transformed copy, concatenated (CSI-style ensemble over the set)
        cat = lambda x: F.normalize(torch.cat([pooled(net.last(t)) for t in transforms(x, a.set)], 1), dim=1)
        d2 = (1 - cat(te) @ cat(tr).T).sort(1).values[:, :10].mean(1); row['knn_all'] = round(auroc(d2.numpy(), pos), 4)
        # Label-free sums: each part standardised by its validation mean and sd, the rotation part capped at 2 sds.
        sv = geom(va); fva = pooled(net.last(va)); dv = (1 - fva @ ftr.T).sort(1).values[:, :10].mean(1)
        dv2 = (1 - cat(va) @ cat(tr).T).sort(1).values[:, :10].mean(1)
        z = lambda t, v: (t - v.mean()) / v.std()
        row['geom+knn'] = round(auroc((z(s, sv).clamp(max=2) + z(d, dv)).numpy(), pos), 4)
        row['geom+knn_all'] = round(auroc((z(s, sv).clamp(max=2) + z(d2, dv2)).numpy(), pos), 4)
        row['val_acc'] = round(float(torch.stack([net(t).argmax(1) == k for k, t in enumerate(transforms(va, a.set))], 1).float().mean()), 4)
        if a.dump:
            files = sorted(os.listdir(os.path.join(a.task, 'normal'))) + sorted(os.listdir(os.path.join(a.task, 'novel')))
            json.dump({'geom': s.tolist(), 'knn': d.tolist(), 'novel': pos.tolist(), 'files': files,
                       'geom_val_mean': float(sv.mean()), 'geom_val_sd': float(sv.std()),
                       'knn_all': d2.tolist(), 'knn_all_val_mean': float(dv2.mean()), 'knn_all_val_sd': float(dv2.std())}, open(a.dump, 'w'))
    print(json.dumps(row), flush=True)

if __name__ == '__main__':
    main()
