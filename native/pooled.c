/* alocc compiled kernels: a stride-1 conv with its bias and LeakyReLU, averaged (and maximised) over p×p cells
 * (see kernels.h). */
#include "kernels.h"

/* The knn features (src/score/feature-memory.ts, denseFirstBlockFeatures): R's first block applied at every pixel,
 * then averaged over p×p cells, and with `with_max` also the maximum over each cell. As separate ops tfjs writes
 * the full-resolution map (28×28×32 floats an image) and reads it back to pool it, and the general conv builds an
 * im2col row of 25 taps per pixel; here each pixel's Co outputs stay in registers from the first tap to the cell's
 * sum. Vectorised over Co where VW divides it, else one
 * output at a time. */

#define MAX_CO_VECTORS (512 / 4)

typedef struct {
  geometry g; /* OH = OW = 0: the conv's own output is H×W (stride 1, 'same'); PT, PL its padding */
  const float *x, *w, *bias;
  float *y;
  float alpha;
  int pool, cells_h, cells_w, with_max;
  long next;
} pooled_job;

/* Every tap of the kernel that falls inside the image for output pixel (oh, ow) ('same' padding: the others are
 * zeros and skipped), with xp at its input pixel's Ci values and wp at its [Ci][Co] weights; BODY accumulates. One
 * copy of the bounds for the vector and the scalar cells. */
#define FOR_TAPS(g, image, w, oh, ow, BODY)                                                                          \
  for (int kh = 0; kh < (g)->KH; kh++) {                                                                             \
    const int ih = (oh) + kh - (g)->PT;                                                                              \
    if (ih < 0 || ih >= (g)->H) continue;                                                                            \
    for (int kw = 0; kw < (g)->KW; kw++) {                                                                           \
      const int iw = (ow) + kw - (g)->PL;                                                                            \
      if (iw < 0 || iw >= (g)->W) continue;                                                                          \
      const float *xp = (image) + ((long)ih * (g)->W + iw) * (g)->Ci;                                                \
      const float *wp = (w) + (long)(kh * (g)->KW + kw) * (g)->Ci * (g)->Co;                                         \
      BODY                                                                                                           \
    }                                                                                                                \
  }

/* One cell of one image: the mean over its P×P pixels of LeakyReLU(bias + conv), into out[Co], and where `top` is
 * not NULL their maximum into top[Co]. NV, the number of SIMD vectors across Co, is a constant in the specialised
 * copies below, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void pooled_cell(const pooled_job *j, const float *image, int ch, int cw,
                                                             const int NV, float *out, float *top) {
  const geometry *g = &j->g;
  const int P = j->pool;
  vf cell[MAX_CO_VECTORS], high[MAX_CO_VECTORS];
  for (int v = 0; v < NV; v++) cell[v] = (vf){0}, high[v] = (vf){0} - __builtin_inff();
  for (int dy = 0; dy < P; dy++)
    for (int dx = 0; dx < P; dx++) {
      const int oh = ch * P + dy, ow = cw * P + dx;
      vf acc[MAX_CO_VECTORS];
      for (int v = 0; v < NV; v++) acc[v] = ld(j->bias + v * VW);
      FOR_TAPS(g, image, j->w, oh, ow, {
        for (int ci = 0; ci < g->Ci; ci++) {
          const float xv = xp[ci];
          for (int v = 0; v < NV; v++) acc[v] += xv * ld(wp + (long)ci * g->Co + v * VW);
        }
      });
      /* LeakyReLU as a mask and a blend, whole vectors (a loop over lanes compiled to scalar code and cost more
       * than the taps); NaN fails the test and stays NaN. */
      for (int v = 0; v < NV; v++) {
        const vf a = acc[v];
        const vi positive = a > (vf){0};
        const vf y = (vf)(((vi)a & positive) | ((vi)(a * j->alpha) & ~positive));
        cell[v] += y;
        const vi above = y > high[v];
        high[v] = (vf)(((vi)y & above) | ((vi)high[v] & ~above));
      }
    }
  const float scale = 1.f / (float)(P * P);
  for (int v = 0; v < NV; v++) st(out + v * VW, cell[v] * scale);
  if (top)
    for (int v = 0; v < NV; v++) st(top + v * VW, high[v]);
}

#define POOLED_CELL(nv)                                                                                            \
  static void pooled_cell_##nv(const pooled_job *j, const float *image, int ch, int cw, float *out, float *top) { \
    pooled_cell(j, image, ch, cw, nv, out, top);                                                                   \
  }
POOLED_CELL(1) POOLED_CELL(2) POOLED_CELL(4)
static void pooled_cell_any(const pooled_job *j, const float *image, int ch, int cw, float *out, float *top) {
  pooled_cell(j, image, ch, cw, j->g.Co / VW, out, top);
}

/* Any Co (narrow test networks, widths the SIMD lanes do not divide): the same sums one output at a time. */
static void pooled_cell_scalar(const pooled_job *j, const float *image, int ch, int cw, float *out, float *top) {
  const geometry *g = &j->g;
  const int P = j->pool;
  for (int co = 0; co < g->Co; co++) out[co] = 0;
  if (top)
    for (int co = 0; co < g->Co; co++) top[co] = -__builtin_inff();
  for (int dy = 0; dy < P; dy++)
    for (int dx = 0; dx < P; dx++) {
      const int oh = ch * P + dy, ow = cw * P + dx;
      for (int co = 0; co < g->Co; co++) {
        float acc = j->bias[co];
        FOR_TAPS(g, image, j->w, oh, ow, {
          for (int ci = 0; ci < g->Ci; ci++) acc += xp[ci] * wp[(long)ci * g->Co + co];
        });
        const float y = acc > 0 ? acc : acc * j->alpha;
        out[co] += y;
        if (top && y > top[co]) top[co] = y;
      }
    }
  const float scale = 1.f / (float)(P * P);
  for (int co = 0; co < g->Co; co++) out[co] *= scale;
}

static void pooled_images(void *p, int tid) {
  (void)tid;
  pooled_job *j = p;
  const geometry *g = &j->g;
  const int nv = g->Co / VW;
  void (*cell)(const pooled_job *, const float *, int, int, float *, float *) =
      g->Co % VW ? pooled_cell_scalar : nv == 1 ? pooled_cell_1 : nv == 2 ? pooled_cell_2 : nv == 4 ? pooled_cell_4 : pooled_cell_any;
  /* An image's features: its cells' means, then (with_max) its cells' maxima, each [cells_h][cells_w][Co]. */
  const long block = (long)j->cells_h * j->cells_w * g->Co;
  for (long n; next_block(&j->next, g->N, &n);) {
    const float *image = j->x + n * (long)g->H * g->W * g->Ci;
    float *means = j->y + n * block * (1 + j->with_max);
    for (int ch = 0; ch < j->cells_h; ch++)
      for (int cw = 0; cw < j->cells_w; cw++) {
        const long at = ((long)ch * j->cells_w + cw) * g->Co;
        cell(j, image, ch, cw, means + at, j->with_max ? means + block + at : NULL);
      }
  }
}

int pooled_conv_forward(const geometry *g, const float *x, const float *w, const float *bias, float alpha, int pool,
                        int with_max, float *y) {
  if (g->Co > 512) return KERNEL_UNSUPPORTED; /* MAX_CO_VECTORS at the narrowest SIMD width */
  pooled_job j = {.g = *g, .x = x, .w = w, .bias = bias, .y = y, .alpha = alpha, .pool = pool, .with_max = with_max != 0};
  j.cells_h = g->H / pool;
  j.cells_w = g->W / pool;
  parallel(pooled_images, &j);
  return KERNEL_OK;
}
