/* alocc compiled kernels: convolutions (see kernels.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"

/* ---- im2col ---- */

/* Rows m0..m0+mb of the im2col matrix (one row per output pixel, KH*KW*Ci taps, zero-padded to kdp). Reads are
 * clipped to the image, whatever the padding: taps kw_lo..kw_hi of a row lie inside it, the rest are zeros. */
static void im2col(const geometry *g, const float *x, long m0, int mb, float *col, int kdp) {
  const int kd = g->KH * g->KW * g->Ci, pixels = g->OH * g->OW;
  for (int r = 0; r < mb; r++) {
    long m = m0 + r;
    int n = (int)(m / pixels), rem = (int)(m % pixels), oh = rem / g->OW, ow = rem % g->OW;
    float *dst = col + (long)r * kdp;
    int iw0 = ow * g->SW - g->PL;
    int kw_lo = imin(g->KW, iw0 < 0 ? -iw0 : 0), kw_hi = imin(g->KW, g->W - iw0);
    if (kw_hi < kw_lo) kw_hi = kw_lo;
    for (int kh = 0; kh < g->KH; kh++) {
      int ih = oh * g->SH - g->PT + kh;
      if (ih < 0 || ih >= g->H) {
        memset(dst, 0, sizeof(float) * (size_t)g->KW * g->Ci);
      } else {
        const float *src = x + (((long)n * g->H + ih) * g->W + iw0) * g->Ci;
        if (kw_lo > 0) memset(dst, 0, sizeof(float) * (size_t)kw_lo * g->Ci);
        if (kw_hi > kw_lo)
          memcpy(dst + (long)kw_lo * g->Ci, src + (long)kw_lo * g->Ci, sizeof(float) * (size_t)(kw_hi - kw_lo) * g->Ci);
        if (kw_hi < g->KW) memset(dst + (long)kw_hi * g->Ci, 0, sizeof(float) * (size_t)(g->KW - kw_hi) * g->Ci);
      }
      dst += (long)g->KW * g->Ci;
    }
    if (kdp > kd) memset(col + (long)r * kdp + kd, 0, sizeof(float) * (size_t)(kdp - kd));
  }
}

static int block_rows(int kdp) {
  int rows = (64 * 1024) / kdp;
  if (rows < 32) rows = 32;
  if (rows > 512) rows = 512;
  return rows / MR * MR;
}

const int conv_vector_width = VW;


/* ---- Forward: y[m][co] = act(bias[co] + Σ col[m][k] · w[k][co]) ---- */

typedef struct {
  geometry g;
  const float *x, *w, *bias;
  float *y;
  const float *wt; /* [Co][kdp] transposed filter, for Co not a multiple of VW */
  int act;
  float alpha;
  long next, blocks;
  int rows, kdp;
  int direct; /* a 1×1 conv at stride 1 with no padding and kd a multiple of VW: x is its own im2col matrix */
} forward_job;

static void forward_block(void *p, int tid) {
  forward_job *j = p;
  const geometry *g = &j->g;
  const long M = (long)g->N * g->OH * g->OW;
  const int kd = g->KH * g->KW * g->Ci, co_n = g->Co;
  float *scratch = j->direct ? NULL : thread_scratch(tid, 0, (size_t)j->rows * j->kdp);
  for (long b; next_block(&j->next, j->blocks, &b);) {
    long m0 = b * j->rows;
    int mb = (int)(M - m0 < j->rows ? M - m0 : j->rows);
    /* The direct case reads the rows where they are: the same floats im2col would copy (the coreset's products
     * copied 76 MB a call at digit 1). */
    const float *col = j->direct ? j->x + m0 * kd : scratch;
    if (!j->direct) im2col(g, j->x, m0, mb, scratch, j->kdp);
    float *y = j->y + m0 * co_n;
    if (co_n % VW == 0) {
      gemm(mb, co_n, kd, col, j->kdp, 1, j->w, co_n, y, co_n, 0);
    } else {
      for (int r = 0; r < mb; r++)
        for (int c = 0; c < co_n; c++) {
          const float *a = col + (long)r * j->kdp, *w = j->wt + (long)c * j->kdp;
          vf s0 = {0}, s1 = {0};
          int k = 0;
          for (; k + 2 * VW <= j->kdp; k += 2 * VW) {
            s0 += ld(a + k) * ld(w + k);
            s1 += ld(a + k + VW) * ld(w + k + VW);
          }
          for (; k < j->kdp; k += VW) s0 += ld(a + k) * ld(w + k);
          s0 += s1;
          float s = 0;
          for (int l = 0; l < VW; l++) s += s0[l];
          y[(long)r * co_n + c] = s;
        }
    }
    for (int r = 0; r < mb; r++) {
      float *row = y + (long)r * co_n;
      for (int c = 0; c < co_n; c++) {
        float v = row[c] + (j->bias ? j->bias[c] : 0.f);
        switch (j->act) {
          case ACT_RELU: v = v < 0 ? 0 : v; break; /* NaN stays NaN, as in tfjs: divergence must show */
          case ACT_SIGMOID: v = 1.f / (1.f + expf(-v)); break;
          case ACT_LEAKYRELU: v = v > 0 ? v : v * j->alpha; break;
          default: break;
        }
        row[c] = v;
      }
    }
  }
}

int conv_forward(const geometry *g, const float *x, const float *w, const float *bias, float *y, int act,
                 float alpha) {
  /* Few channels (im2col rows of a few floats, or Co narrower than a vector): direct (conv-narrow.c). */
  if (conv_narrow_forward_wins(g)) return conv_narrow_forward(g, x, w, bias, y, act, alpha);
  forward_job j = {.g = *g, .x = x, .w = w, .bias = bias, .y = y, .act = act, .alpha = alpha};
  const int kd = g->KH * g->KW * g->Ci;
  j.kdp = (int)round_up(kd, VW);
  j.rows = block_rows(j.kdp);
  j.direct = g->KH == 1 && g->KW == 1 && g->SH == 1 && g->SW == 1 && g->PT == 0 && g->PL == 0 && g->OH == g->H &&
             g->OW == g->W && j.kdp == kd && g->Co % VW == 0;
  long M = (long)g->N * g->OH * g->OW;
  j.blocks = (M + j.rows - 1) / j.rows;
  if (!j.direct && reserve_scratch(0, (size_t)j.rows * j.kdp) != KERNEL_OK) return KERNEL_NO_MEMORY;
  float *wt = NULL;
  if (g->Co % VW != 0) {
    wt = calloc((size_t)g->Co * j.kdp, sizeof(float));
    if (!wt) return KERNEL_NO_MEMORY;
    for (int k = 0; k < kd; k++)
      for (int c = 0; c < g->Co; c++) wt[(long)c * j.kdp + k] = w[(long)k * g->Co + c];
    j.wt = wt;
  }
  parallel(forward_block, &j);
  free(wt);
  return KERNEL_OK;
}

/* ---- Filter gradient: dW[k][co] = Σ_m col[m][k] · dy[m][co], as dWᵀ = dyᵀ · col, one accumulator per thread ---- */

typedef struct {
  geometry g;
  const float *x, *dy;
  long blocks;
  int rows, kdp;
  float *acc[MAX_THREADS];
} filter_job;

static void filter_block(void *p, int tid) {
  filter_job *j = p;
  const geometry *g = &j->g;
  const long M = (long)g->N * g->OH * g->OW;
  float *col = thread_scratch(tid, 0, (size_t)j->rows * j->kdp);
  float *acc = j->acc[tid];
  memset(acc, 0, sizeof(float) * (size_t)g->Co * j->kdp);
  /* Blocks dealt out in a fixed order, so the sums (and training) are the same from run to run. */
  for (long b = tid; b < j->blocks; b += active_threads) {
    long m0 = b * j->rows;
    int mb = (int)(M - m0 < j->rows ? M - m0 : j->rows);
    im2col(g, j->x, m0, mb, col, j->kdp);
    gemm(g->Co, j->kdp, mb, j->dy + m0 * g->Co, 1, g->Co, col, j->kdp, acc, j->kdp, 1);
  }
}

int conv_filter_grad(const geometry *g, const float *x, const float *dy, float *dw) {
  if (g->Ci == 1 && conv_narrow_usable(g)) return conv_narrow_filter_grad(g, x, dy, dw);
  filter_job j = {.g = *g, .x = x, .dy = dy};
  const int kd = g->KH * g->KW * g->Ci;
  j.kdp = (int)round_up(kd, VW);
  j.rows = block_rows(j.kdp);
  long M = (long)g->N * g->OH * g->OW;
  j.blocks = (M + j.rows - 1) / j.rows;
  if (reserve_scratch(0, (size_t)j.rows * j.kdp) != KERNEL_OK ||
      reserve_scratch(1, (size_t)g->Co * j.kdp) != KERNEL_OK)
    return KERNEL_NO_MEMORY;
  int threads = active_threads;
  for (int t = 0; t < threads; t++) j.acc[t] = thread_scratch(t, 1, (size_t)g->Co * j.kdp);
  parallel(filter_block, &j);
  for (int k = 0; k < kd; k++)
    for (int c = 0; c < g->Co; c++) {
      float s = 0;
      for (int t = 0; t < threads; t++) s += j.acc[t][(long)c * j.kdp + k];
      dw[(long)k * g->Co + c] = s;
    }
  return KERNEL_OK;
}

/* ---- Input gradient ---- */

typedef struct {
  geometry g;
  const float *dy, *wt; /* wt: [Co][kdp] */
  float *dx;
  long next;
  int kdp;
} input_job;

/* Strided: per image, dcol = dy · wᵀ, then col2im adds each row's taps into dx. */
static void input_image(void *p, int tid) {
  input_job *j = p;
  const geometry *g = &j->g;
  const int pixels = g->OH * g->OW, kdp = j->kdp;
  float *dcol = thread_scratch(tid, 0, (size_t)pixels * kdp);
  for (long n; next_block(&j->next, g->N, &n);) {
    gemm(pixels, kdp, g->Co, j->dy + n * pixels * g->Co, g->Co, 1, j->wt, kdp, dcol, kdp, 0);
    float *dx = j->dx + n * g->H * g->W * g->Ci;
    memset(dx, 0, sizeof(float) * (size_t)g->H * g->W * g->Ci);
    for (int r = 0; r < pixels; r++) {
      int oh = r / g->OW, ow = r % g->OW;
      const float *src = dcol + (long)r * kdp;
      for (int kh = 0; kh < g->KH; kh++) {
        int ih = oh * g->SH - g->PT + kh;
        if (ih < 0 || ih >= g->H) continue;
        for (int kw = 0; kw < g->KW; kw++) {
          int iw = ow * g->SW - g->PL + kw;
          if (iw < 0 || iw >= g->W) continue;
          float *d = dx + ((long)ih * g->W + iw) * g->Ci;
          const float *s = src + (kh * g->KW + kw) * g->Ci;
          for (int c = 0; c < g->Ci; c++) d[c] += s[c];
        }
      }
    }
  }
}

int conv_input_grad(const geometry *g, const float *dy, const float *w, float *dx) {
  const int kd = g->KH * g->KW * g->Ci;
  geometry flipped = {g->N, g->OH, g->OW, g->Co, g->KH, g->KW, g->Ci, g->H, g->W, 1, 1, g->KH - 1 - g->PT, g->KW - 1 - g->PL};
  if (g->SH == 1 && g->SW == 1 && (g->Ci % VW == 0 || conv_narrow_forward_wins(&flipped))) {
    /* Stride 1: dx is the forward conv of dy with the filter flipped and its channel axes swapped (Ci narrower than a
     * vector: conv_forward's direct path). */
    float *wf = malloc(sizeof(float) * (size_t)kd * g->Co);
    if (!wf) return KERNEL_NO_MEMORY;
    for (int kh = 0; kh < g->KH; kh++)
      for (int kw = 0; kw < g->KW; kw++)
        for (int ci = 0; ci < g->Ci; ci++)
          for (int co = 0; co < g->Co; co++)
            wf[(((long)kh * g->KW + kw) * g->Co + co) * g->Ci + ci] =
                w[(((long)(g->KH - 1 - kh) * g->KW + (g->KW - 1 - kw)) * g->Ci + ci) * g->Co + co];
    int result = conv_forward(&flipped, dy, wf, NULL, dx, ACT_LINEAR, 0);
    free(wf);
    return result;
  }
  input_job j = {.g = *g, .dy = dy, .dx = dx};
  j.kdp = (int)round_up(kd, VW);
  if (reserve_scratch(0, (size_t)g->OH * g->OW * j.kdp) != KERNEL_OK) return KERNEL_NO_MEMORY;
  float *wt = calloc((size_t)g->Co * j.kdp, sizeof(float));
  if (!wt) return KERNEL_NO_MEMORY;
  for (int k = 0; k < kd; k++)
    for (int c = 0; c < g->Co; c++) wt[(long)c * j.kdp + k] = w[(long)k * g->Co + c];
  j.wt = wt;
  parallel(input_image, &j);
  free(wt);
  return KERNEL_OK;
}
