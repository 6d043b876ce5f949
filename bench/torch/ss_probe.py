#!/usr/bin/env python3
"""Research probe (issue 22): where should a self-supervised rotation objective live in ALOCC, and which features
should the kNN verdict read? alocc's R and D (the shapes src/models builds, any side and channel count) trained with
the ALOCC step plus a 4-way rotation classifier head on D (SS-GAN style), on R's encoder, or neither; the verdict is
kNN (cosine, k 10) on pooled features of a chosen layer, also for the same networks untrained (BatchNorm statistics
taken on the training pictures). Prints one JSON line per (variant, feature) with AUROCs.

Usage: /usr/bin/python3 bench/torch/ss_probe.py TRAIN NORMAL NOVEL [--size 64] [--epochs 10] [--ss d|r|none]
"""
import argparse, json, os, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image

def load(d, size):
    out = []
    for f in sorted(os.listdir(d)):
        im = Image.open(os.path.join(d, f)).convert('RGBA')
        base = Image.new('RGBA', im.size, (255,) * 4)
        im = Image.alpha_composite(base, im).convert('RGB').resize((size, size), Image.BILINEAR)
        out.append(np.asarray(im, dtype=np.float32) / 255)
    return torch.tensor(np.stack(out)).permute(0, 3, 1, 2).contiguous()

def auroc(score, pos):
    order = np.argsort(score, kind='mergesort'); ranks = np.empty(len(score)); ranks[order] = np.arange(1, len(score) + 1)
    npos = pos.sum(); nneg = len(pos) - npos
    return float((ranks[pos].sum() - npos * (npos + 1) / 2) / (npos * nneg))

def block(i, o, bn=True):
    return nn.ModuleDict({'c': nn.Conv2d(i, o, 5, 2, 2), 'bn': nn.BatchNorm2d(o, momentum=0.01, eps=1e-3) if bn else nn.Identity()})

class Trunk(nn.Module):
    """Stride-2 5x5 conv blocks; forward returns every block's output."""
    def __init__(s, chans, first_bn=True):
        super().__init__()
        s.blocks = nn.ModuleList(block(chans[i], chans[i + 1], bn=(i > 0 or first_bn)) for i in range(len(chans) - 1))
    def forward(s, x):
        outs = []
        for b in s.blocks:
            x = F.leaky_relu(b['bn'](b['c'](x)), 0.3); outs.append(x)
        return outs

class R(nn.Module):
    def __init__(s, ch, size):
        super().__init__()
        s.enc = Trunk([ch, 32, 64, 128]); gf = 16
        s.d0 = nn.Conv2d(128, gf, 5, 1, 2); s.d1 = nn.Conv2d(gf, gf, 5, 1, 2)
        code = -(-(-(-(-(-size // 2) // 2)) // 2)); half = -(-size // 2); excess = 4 * code - half
        s.d2 = nn.Conv2d(gf, gf * 2, 3, 1, 0 if excess >= 2 else 1); s.crop = excess % 2 == 1
        s.d3 = nn.Conv2d(gf * 2, ch, 5, 1, 2); s.size = size
        s.rot = nn.Linear(128, 4)
    def forward(s, x):
        h = s.enc(x)[-1]
        x = F.interpolate(F.relu(s.d0(h)), scale_factor=2); x = F.interpolate(F.relu(s.d1(x)), scale_factor=2)
        x = F.relu(s.d2(x))
        if s.crop: x = x[:, :, :-1, :-1]
        x = F.interpolate(x, scale_factor=2)[:, :, :s.size, :s.size]
        return s.d3(x)  # logits

class D(nn.Module):
    def __init__(s, ch, size):
        super().__init__()
        s.trunk = Trunk([ch, 16, 32, 64, 128], first_bn=False)
        side = size
        for _ in range(4): side = -(-side // 2)
        s.fc = nn.Linear(128 * side * side, 1); s.rot = nn.Linear(128, 4)
    def forward(s, x):
        h = s.trunk(x)[-1]
        return s.fc(h.flatten(1)).squeeze(1), h

def rotations(x):
    return [torch.rot90(x, k, dims=[2, 3]) for k in range(4)]

def pooled(h, cells):
    """Mean and max over a cells x cells grid, each part L2-normalised."""
    m = F.adaptive_avg_pool2d(h, cells).flatten(1); M = F.adaptive_max_pool2d(h, cells).flatten(1)
    return torch.cat([F.normalize(m, dim=1), F.normalize(M, dim=1)], 1)

def features(r, d, x, which):
    """which: net:block:cells[:tta], or several joined by '+' (unit parts, concatenated)"""
    if '+' in which:
        return F.normalize(torch.cat([features(r, d, x, w) for w in which.split('+')], 1), dim=1)
    net, b, cells, *rest = which.split(':'); b = int(b); cells = int(cells)
    tta = rest and rest[0] == 'tta'
    xs = rotations(x) if tta else [x]
    parts = []
    for xx in xs:
        outs = r.enc(xx) if net == 'r' else d.trunk(xx)
        parts.append(F.normalize(pooled(outs[b], cells), dim=1))
    return F.normalize(torch.cat(parts, 1), dim=1)

def knn(ftr, fte, k=10):
    sim = fte @ ftr.T
    return (1 - sim.topk(k, dim=1).values).mean(1).numpy()

def rot_score(r, d, x, ss):
    lp = []
    for k, xx in enumerate(rotations(x)):
        h = (r.enc(xx)[-1] if ss == 'r' else d.trunk(xx)[-1]).mean((2, 3))
        lp.append(F.log_softmax((r.rot if ss == 'r' else d.rot)(h), 1)[:, k])
    return (-torch.stack(lp, 1).mean(1)).numpy()

def bn_stats(model, x):
    """Untrained control: BatchNorm statistics taken on the training pictures (cumulative average)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d): m.reset_running_stats(); m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), 128): model(x[i:i + 128])
    model.eval()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('train'); ap.add_argument('normal'); ap.add_argument('novel')
    ap.add_argument('--size', type=int, default=64); ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--ss', default='d'); ap.add_argument('--ss-weight', type=float, default=1.0)
    ap.add_argument('--batch', type=int, default=64); ap.add_argument('--lr', type=float, default=5e-4)
    ap.add_argument('--r-alpha', type=float, default=10); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2); ap.add_argument('--tag', default='')
    ap.add_argument('--opt', default='rmsprop'); ap.add_argument('--no-gan', action='store_true')
    ap.add_argument('--feats', default='d:1:4,d:2:4,d:3:2,d:3:1,d:2:4:tta,d:3:1:tta,r:0:8,r:1:4,r:2:2,r:2:1:tta')
    a = ap.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
    tr = load(a.train, a.size); te = torch.cat([load(a.normal, a.size), load(a.novel, a.size)])
    pos = np.r_[np.zeros(len(os.listdir(a.normal)), bool), np.ones(len(os.listdir(a.novel)), bool)]
    ch = tr.shape[1]; r, d = R(ch, a.size), D(ch, a.size)
    r0, d0 = R(ch, a.size), D(ch, a.size); r0.load_state_dict(r.state_dict()); d0.load_state_dict(d.state_dict())
    mk = (lambda ps: torch.optim.Adam(ps, lr=a.lr)) if a.opt == 'adam' else (lambda ps: torch.optim.RMSprop(ps, lr=a.lr, alpha=0.9, eps=1e-7))
    optr = mk(r.parameters()); optd = mk(d.parameters())
    bce = F.binary_cross_entropy_with_logits
    t0 = time.time()
    for ep in range(a.epochs):
        r.train(); d.train(); perm = torch.randperm(len(tr))
        for i in range(0, len(tr) - a.batch // 2, a.batch):
            x = tr[perm[i:i + a.batch]]; xn = x + 0.155 * torch.randn_like(x)
            with torch.no_grad(): fake = torch.sigmoid(r(xn))
            # D: real -> 1 (+ rotation classes of the real pictures), fake -> 0
            optd.zero_grad(); lr_, _ = d(x); loss = 0 if a.no_gan else bce(lr_, torch.ones_like(lr_))
            if a.ss == 'd':
                xs = torch.cat(rotations(x)); lab = torch.arange(4).repeat_interleave(len(x))
                loss = loss + a.ss_weight * F.cross_entropy(d.rot(d.trunk(xs)[-1].mean((2, 3))), lab)
            loss.backward(); [p.grad.clamp_(-1, 1) for p in d.parameters() if p.grad is not None]; optd.step()
            if a.no_gan: continue
            optd.zero_grad(); lf, _ = d(fake); bce(lf, torch.zeros_like(lf)).backward()
            [p.grad.clamp_(-1, 1) for p in d.parameters() if p.grad is not None]; optd.step()
            for _ in range(2):
                optr.zero_grad(); z = r(xn); y = torch.sigmoid(z); v, _ = d(y)
                loss = a.r_alpha * bce(z, x) + bce(v, torch.ones_like(v))
                if a.ss == 'r':
                    xs = torch.cat(rotations(x)); lab = torch.arange(4).repeat_interleave(len(x))
                    loss = loss + a.ss_weight * F.cross_entropy(r.rot(r.enc(xs)[-1].mean((2, 3))), lab)
                loss.backward(); [p.grad.clamp_(-1, 1) for p in r.parameters() if p.grad is not None]
                d.zero_grad(); optr.step()
    train_s = time.time() - t0
    r.eval(); d.eval(); bn_stats(r0, tr); bn_stats(d0, tr)
    res = {'tag': a.tag, 'ss': a.ss, 'epochs': a.epochs, 'seed': a.seed, 'train_s': round(train_s, 1)}
    with torch.no_grad():
        for which in a.feats.split(','):
            tr_ = features(r, d, tr, which); te_ = features(r, d, te, which)
            u_tr = features(r0, d0, tr, which); u_te = features(r0, d0, te, which)
            res[which] = [round(auroc(knn(tr_, te_), pos), 4), round(auroc(knn(u_tr, u_te), pos), 4)]
        if a.ss in ('d', 'r'): res['rot'] = round(auroc(rot_score(r, d, te, a.ss), pos), 4)
    print(json.dumps(res), flush=True)

if __name__ == '__main__':
    main()
