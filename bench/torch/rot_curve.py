#!/usr/bin/env python3
"""Research probe (issue 22): how fast do rotation-trained features beat the same net untrained, on a folder task?
Trains a small CNN to tell which of T transforms (4 rotations, or x flip = 8) was applied to a normal picture and
prints, at each listed epoch, kNN AUROC (k 10, cosine) on pooled features of each block (global mean+max), and
the rotation score, as JSON lines. Epoch 0 is the untrained net (BatchNorm statistics from the training pictures).

Usage: rot_curve.py TASKDIR [--size 32] [--arch rot|r] [--transforms 4|8] [--at 0,5,10,20] [--threads 2]
"""
import argparse, json, os, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from ss_probe import auroc, load  # the same loading (alpha over white) and AUROC as the other probe

def transforms(x, n):
    outs = []
    for flip in ((False, True) if n == 8 else (False,)):
        y = torch.flip(x, dims=[3]) if flip else x
        for k in range(4): outs.append(torch.rot90(y, k, dims=[2, 3]))
    return outs

class Net(nn.Module):
    def __init__(s, arch, n):
        super().__init__()
        if arch == 'rot': ch, k, st = [3, 32, 64, 128, 256], 3, 1
        else: ch, k, st = [3, 32, 64, 128], 5, 2
        s.arch = arch
        s.convs = nn.ModuleList(nn.Conv2d(ch[i], ch[i + 1], k, st, k // 2) for i in range(len(ch) - 1))
        s.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in ch[1:])
        s.head = nn.Linear(ch[-1], n)
        s.proj = nn.Sequential(nn.Linear(2 * ch[-1], 128), nn.ReLU(), nn.Linear(128, 64))
    def blocks(s, x):
        outs = []
        for c, b in zip(s.convs, s.bns):
            x = F.leaky_relu(b(c(x)), 0.2)
            if s.arch == 'rot': x = F.max_pool2d(x, 2)
            outs.append(x)
        return outs
    def forward(s, x): return s.head(s.blocks(x)[-1].mean(dim=(2, 3)))
    def embed(s, x):
        h = s.blocks(x)[-1]
        return s.proj(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], 1))

def augment(x):
    """Random resized crop (area 0.4-1, aspect 3/4-4/3) back to the side, and a horizontal flip: no colour change."""
    n, c, h, w = x.shape
    area = torch.empty(n).uniform_(0.4, 1.0); ratio = torch.exp(torch.empty(n).uniform_(np.log(3 / 4), np.log(4 / 3)))
    sw = torch.sqrt(area * ratio).clamp(max=1); sh = torch.sqrt(area / ratio).clamp(max=1)
    tx = (torch.rand(n) * 2 - 1) * (1 - sw); ty = (torch.rand(n) * 2 - 1) * (1 - sh)
    flip = torch.where(torch.rand(n) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3); theta[:, 0, 0] = sw * flip; theta[:, 0, 2] = tx; theta[:, 1, 1] = sh; theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x - 1, grid, align_corners=False, padding_mode='zeros') + 1  # white outside

def pooled(h):
    u = lambda t: F.normalize(t, dim=1)
    return u(torch.cat([u(h.mean(dim=(2, 3))), u(h.amax(dim=(2, 3)))], 1))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('task'); ap.add_argument('--size', type=int, default=32); ap.add_argument('--arch', default='rot')
    ap.add_argument('--transforms', type=int, default=8); ap.add_argument('--at', default='0,5,10,20')
    ap.add_argument('--threads', type=int, default=2); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--lr', type=float, default=1e-3); ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--val-frac', type=float, default=0); ap.add_argument('--dump', default='')
    ap.add_argument('--objective', default='rot'); ap.add_argument('--tau', type=float, default=0.2)
    a = ap.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
    tr = load(os.path.join(a.task, 'train'), a.size)
    # A held-out part of the training pictures (seeded), as a product's validation split would be: the scores'
    # scale for a label-free combination comes from it.
    nval = int(round(a.val_frac * len(tr))); order = torch.randperm(len(tr), generator=torch.Generator().manual_seed(a.seed))
    va, tr = tr[order[:nval]], tr[order[nval:]]
    names = {k: sorted(os.listdir(os.path.join(a.task, k))) for k in ('normal', 'novel')}
    nm, nv = load(os.path.join(a.task, 'normal'), a.size), load(os.path.join(a.task, 'novel'), a.size)
    te = torch.cat([nm, nv]); pos = np.r_[np.zeros(len(nm)), np.ones(len(nv))].astype(bool)
    net = Net(a.arch, a.transforms); opt = torch.optim.Adam(net.parameters(), a.lr)
    at = [int(v) for v in a.at.split(',')]; t0 = time.time()
    def report(ep):
        net.train()  # BN statistics from the training pictures: one pass at momentum None
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d): m.reset_running_stats(); m.momentum = None
        with torch.no_grad(): net.blocks(tr)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d): m.momentum = 0.1
        net.eval(); row = {'task': os.path.basename(a.task.rstrip('/')), 'arch': a.arch, 'size': a.size, 'T': a.transforms, 'obj': a.objective, 'epoch': ep, 's': round(time.time() - t0, 1)}
        with torch.no_grad():
            btr, bte = net.blocks(tr), net.blocks(te)
            for i, (h1, h2) in enumerate(zip(btr, bte)):
                f1, f2 = pooled(h1), pooled(h2)
                d = 1 - f2 @ f1.T; row[f'b{i + 1}'] = round(auroc(d.sort(1).values[:, :10].mean(1).numpy(), pos), 4)
            ts = transforms(te, a.transforms)
            lp = torch.stack([F.log_softmax(net(t), 1)[:, k] for k, t in enumerate(ts)], 1)
            row['rot'] = round(auroc((-lp.mean(1)).numpy(), pos), 4)
            # Held-out normal pictures' transform accuracy: what a label-free rule could read from a validation split.
            hits = torch.stack([net(t).argmax(1) == k for k, t in enumerate(ts)], 1).float()
            row['acc_normal'] = round(float(hits[~torch.tensor(pos)].mean()), 4)
            tr_hits = torch.stack([net(t).argmax(1) == k for k, t in enumerate(transforms(tr, a.transforms))], 1).float()
            row['acc_train'] = round(float(tr_hits.mean()), 4)
            if a.dump and ep == max(at):
                def scores(x):
                    lpx = torch.stack([F.log_softmax(net(t), 1)[:, k] for k, t in enumerate(transforms(x, a.transforms))], 1)
                    f = pooled(net.blocks(x)[-1]); d = 1 - f @ pooled(btr[-1]).T
                    return (-lpx.mean(1)).tolist(), d.sort(1).values[:, :10].mean(1).tolist()
                out = {'val': dict(zip(('rot', 'knn'), scores(va))) if nval else None,
                       'test': dict(zip(('rot', 'knn'), scores(te))), 'names': names['normal'] + names['novel'], 'novel': pos.tolist(),
                       'val_acc': float(torch.stack([net(t).argmax(1) == k for k, t in enumerate(transforms(va, a.transforms))], 1).float().mean()) if nval else None}
                json.dump(out, open(a.dump, 'w'))
        print(json.dumps(row), flush=True)
    for ep in range(max(at) + 1):
        if ep in at: report(ep)
        if ep == max(at): break
        net.train(); perm = torch.randperm(len(tr))
        for i in range(0, len(tr), a.batch):
            xb = tr[perm[i:i + a.batch]]
            if a.objective == 'simclr':
                v = torch.cat([augment(xb), augment(xb)]); z = F.normalize(net.embed(v), dim=1); n = len(xb)
                sim = z @ z.T / a.tau; sim.fill_diagonal_(-1e9)
                lab = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
                loss = F.cross_entropy(sim, lab)
            else:
                x = torch.cat(transforms(xb, a.transforms)); lab = torch.arange(a.transforms).repeat_interleave(len(xb))
                loss = F.cross_entropy(net(x), lab)
            opt.zero_grad(); loss.backward(); opt.step()

if __name__ == '__main__':
    main()
