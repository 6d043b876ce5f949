/* alocc compiled kernels: a stride-1 conv with its bias and LeakyReLU, averaged over p×p cells (see kernels.h). */
#include "kernels.h"

/* The knn features (src/score/feature-memory.ts, denseFirstBlockFeatures): R's first block applied at every pixel,
 * then averaged over p×p cells. As separate ops tfjs writes the full-resolution map (28×28×32 floats an image) and
 * reads it back to pool it, and the general conv builds an im2col row of 25 taps per pixel; here each pixel's Co
 * outputs stay in registers from the first tap to the cell's sum. Vectorised over Co, which must be a multiple of VW. */

#define MAX_CO_VECTORS (512 / 4)

typedef struct {
  geometry g; /* OH = OW = 0: the conv's own output is H×W (stride 1, 'same'); PT, PL its padding */
  const float *x, *w, *bias;
  float *y;
  float alpha;
  int pool, cells_h, cells_w;
  long next;
} pooled_job;

static void pooled_images(void *p, int tid) {
  (void)tid;
  pooled_job *j = p;
  const geometry *g = &j->g;
  const int nv = g->Co / VW, P = j->pool;
  const float scale = 1.f / (float)(P * P);
  for (;;) {
    long n = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (n >= g->N) break;
    const float *image = j->x + n * (long)g->H * g->W * g->Ci;
    for (int ch = 0; ch < j->cells_h; ch++)
      for (int cw = 0; cw < j->cells_w; cw++) {
        vf cell[MAX_CO_VECTORS];
        for (int v = 0; v < nv; v++) cell[v] = (vf){0};
        for (int dy = 0; dy < P; dy++)
          for (int dx = 0; dx < P; dx++) {
            const int oh = ch * P + dy, ow = cw * P + dx;
            vf acc[MAX_CO_VECTORS];
            for (int v = 0; v < nv; v++) acc[v] = ld(j->bias + v * VW);
            for (int kh = 0; kh < g->KH; kh++) {
              const int ih = oh + kh - g->PT;
              if (ih < 0 || ih >= g->H) continue;
              for (int kw = 0; kw < g->KW; kw++) {
                const int iw = ow + kw - g->PL;
                if (iw < 0 || iw >= g->W) continue;
                const float *xp = image + ((long)ih * g->W + iw) * g->Ci;
                const float *wp = j->w + (long)(kh * g->KW + kw) * g->Ci * g->Co;
                for (int ci = 0; ci < g->Ci; ci++) {
                  const float xv = xp[ci];
                  for (int v = 0; v < nv; v++) acc[v] += xv * ld(wp + (long)ci * g->Co + v * VW);
                }
              }
            }
            for (int v = 0; v < nv; v++) {
              vf a = acc[v];
              for (int l = 0; l < VW; l++) a[l] = a[l] > 0 ? a[l] : a[l] * j->alpha; /* NaN stays NaN */
              cell[v] += a;
            }
          }
        float *out = j->y + (((long)n * j->cells_h + ch) * j->cells_w + cw) * g->Co;
        for (int v = 0; v < nv; v++) st(out + v * VW, cell[v] * scale);
      }
  }
}

int pooled_conv_forward(const geometry *g, const float *x, const float *w, const float *bias, float alpha, int pool,
                        float *y) {
  if (g->Co % VW != 0 || g->Co / VW > MAX_CO_VECTORS) return KERNEL_UNSUPPORTED;
  pooled_job j = {.g = *g, .x = x, .w = w, .bias = bias, .y = y, .alpha = alpha, .pool = pool};
  j.cells_h = g->H / pool;
  j.cells_w = g->W / pool;
  parallel(pooled_images, &j);
  return KERNEL_OK;
}
