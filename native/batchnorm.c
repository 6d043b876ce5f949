/* alocc compiled kernels: BatchNorm in training mode, forward and gradient, for the rotation net (see kernels.h).
 * tfjs-layers trains a BatchNorm as tf.moments (Mean, Sub, Square, Mean) and FusedBatchNorm, and its gradient through
 * all of them: about twelve passes over each activation a step, over a quarter of a rotation step at 28×28. The forward
 * is three passes (mean, variance, normalise), the gradient three (Σdy, Σdy·(x − mean), dx). The values run in lanes
 * of BN_LANES floats (a multiple of every channel count taken, so lane k always holds channel k mod ch) and the
 * compiler vectorises the fixed-length lane loops; lane sums are float within a block of BN_BLOCK lanes, double across
 * blocks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"

#define BN_LANES 256
#define BN_BLOCK 256

int bn_channels_usable(int ch) { return ch > 0 && ch <= BN_LANES && BN_LANES % ch == 0; }

/* tot[k] (double, BN_LANES of them) = Σ over the lanes of x (minus mean_lane, squared, when `square`; times
 * b (minus mean_lane) when b, the gradient's second sum); the tail of n % BN_LANES values in lanes 0 … */
static void lane_sums(const float *x, const float *b, const float *mean_lane, long n, int square, double *tot) {
  float acc[BN_LANES];
  memset(tot, 0, sizeof(double) * BN_LANES);
  long full = n / BN_LANES;
  for (long start = 0; start < full; start += BN_BLOCK) {
    long end = start + BN_BLOCK < full ? start + BN_BLOCK : full;
    memset(acc, 0, sizeof acc);
    for (long r = start; r < end; r++) {
      const float *v = x + r * BN_LANES;
      if (b) {
        const float *w = b + r * BN_LANES;
        for (int k = 0; k < BN_LANES; k++) acc[k] += v[k] * (w[k] - mean_lane[k]);
      } else if (square) {
        for (int k = 0; k < BN_LANES; k++) acc[k] += (v[k] - mean_lane[k]) * (v[k] - mean_lane[k]);
      } else {
        for (int k = 0; k < BN_LANES; k++) acc[k] += v[k];
      }
    }
    for (int k = 0; k < BN_LANES; k++) tot[k] += acc[k];
  }
  for (long i = full * BN_LANES; i < n; i++) {
    int k = (int)(i - full * BN_LANES);
    float v = x[i];
    tot[k] += b ? v * (b[i] - mean_lane[k]) : square ? (v - mean_lane[k]) * (v - mean_lane[k]) : v;
  }
}

/* out[c] = Σ_{k ≡ c mod ch} tot[k] · scale */
static void fold(const double *tot, int ch, double scale, double *out) {
  for (int c = 0; c < ch; c++) out[c] = 0;
  for (int k = 0; k < BN_LANES; k++) out[k % ch] += tot[k];
  for (int c = 0; c < ch; c++) out[c] *= scale;
}

static void spread(const float *per_channel, int ch, float *lane) {
  for (int k = 0; k < BN_LANES; k++) lane[k] = per_channel[k % ch];
}

/* y = x·a + b per lane over n values (the tail in lanes 0 …). */
static void lane_affine(const float *x, const float *d, const float *mean_lane, const float *a, const float *b,
                        const float *e, long n, float *y) {
  long full = n / BN_LANES;
  for (long r = 0; r <= full; r++) {
    long at = r * BN_LANES;
    int len = r < full ? BN_LANES : (int)(n - at);
    const float *v = x + at;
    float *o = y + at;
    if (d) {
      /* the gradient: dx = a·dy + b·(x − mean) + e */
      const float *g = d + at;
      for (int k = 0; k < len; k++) o[k] = a[k] * g[k] + b[k] * (v[k] - mean_lane[k]) + e[k];
    } else {
      for (int k = 0; k < len; k++) o[k] = (v[k] - mean_lane[k]) * a[k] + b[k];
    }
  }
}

void bn_train_forward(const float *x, long rows, int ch, const float *gamma, const float *beta, float eps, float *y,
                      float *mean, float *variance) {
  const long n = rows * ch;
  double tot[BN_LANES], m[BN_LANES], v[BN_LANES];
  float mean_lane[BN_LANES], a[BN_LANES], b[BN_LANES], scale[BN_LANES];
  lane_sums(x, NULL, NULL, n, 0, tot);
  fold(tot, ch, 1.0 / (double)rows, m);
  for (int c = 0; c < ch; c++) mean[c] = (float)m[c];
  spread(mean, ch, mean_lane);
  lane_sums(x, NULL, mean_lane, n, 1, tot);
  fold(tot, ch, 1.0 / (double)rows, v);
  for (int c = 0; c < ch; c++) {
    variance[c] = (float)v[c];
    scale[c] = gamma[c] / sqrtf(variance[c] + eps);
  }
  spread(scale, ch, a);
  spread(beta, ch, b);
  lane_affine(x, NULL, mean_lane, a, b, NULL, n, y);
}

/* With r = 1/sqrt(var + ε), S1 = Σ dy, S2 = Σ dy·(x − mean): dβ = S1, dγ = r·S2 and
 * dx = γr·dy − γr³·S2/N·(x − mean) − γr·S1/N, tfjs's gradient of moments and batchNorm (the mean's path through
 * the variance is stopped there, and its sum is zero anyway). */
void bn_train_backward(const float *x, const float *dy, long rows, int ch, const float *gamma, const float *mean,
                       const float *variance, float eps, float *dx, float *dgamma, float *dbeta) {
  const long n = rows * ch;
  double tot[BN_LANES], s1[BN_LANES], s2[BN_LANES];
  float mean_lane[BN_LANES], ka[BN_LANES], kb[BN_LANES], ke[BN_LANES], a[BN_LANES], b[BN_LANES], e[BN_LANES];
  spread(mean, ch, mean_lane);
  lane_sums(dy, NULL, NULL, n, 0, tot);
  fold(tot, ch, 1, s1);
  lane_sums(dy, x, mean_lane, n, 0, tot);
  fold(tot, ch, 1, s2);
  for (int c = 0; c < ch; c++) {
    double r = 1.0 / sqrt((double)variance[c] + eps), gr = gamma[c] * r;
    dbeta[c] = (float)s1[c];
    dgamma[c] = (float)(r * s2[c]);
    ka[c] = (float)gr;
    kb[c] = (float)(-gr * r * r * s2[c] / (double)rows);
    ke[c] = (float)(-gr * s1[c] / (double)rows);
  }
  spread(ka, ch, a);
  spread(kb, ch, b);
  spread(ke, ch, e);
  lane_affine(x, dy, mean_lane, a, b, e, n, dx);
}
