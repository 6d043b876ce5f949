/* alocc compiled kernels: reductions and elementwise ops (see kernels.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"

/* ---- Reductions and elementwise ops on the heap ---- */

/* out[c] = scale · Σ_r x[r][c]: the bias and BatchNorm gradients' sums over batch and pixels. Rows are summed in
 * float32 blocks of 64 and the blocks in float64, so the rounding error does not grow with the batch. */
typedef struct {
  const float *x;
  const float *y, *mean; /* column_product_sums: sum x·(y − mean) instead of x */
  long rows;
  int cols;
  long blocks;
  double *partial[MAX_THREADS];
} sum_job;
#define SUM_BLOCK 64

static void sum_block(void *p, int tid) {
  sum_job *j = p;
  double *acc = j->partial[tid];
  float *block = thread_scratch(tid, 0, j->cols);
  for (int c = 0; c < j->cols; c++) acc[c] = 0;
  for (long b = tid; b < j->blocks; b += active_threads) { /* fixed order: the same sums every run */
    long r0 = b * SUM_BLOCK, r1 = r0 + SUM_BLOCK < j->rows ? r0 + SUM_BLOCK : j->rows;
    if (j->y) { /* each term rounded as tf.mul(x, tf.sub(y, mean)) rounds it (no fused multiply-add in this file) */
      const float *mean = j->mean, *x = j->x + r0 * j->cols, *y = j->y + r0 * j->cols;
      for (int c = 0; c < j->cols; c++) block[c] = x[c] * (y[c] - mean[c]);
      for (long r = r0 + 1; r < r1; r++) {
        x += j->cols;
        y += j->cols;
        for (int c = 0; c < j->cols; c++) block[c] += x[c] * (y[c] - mean[c]);
      }
    } else {
      memcpy(block, j->x + r0 * j->cols, sizeof(float) * (size_t)j->cols);
      for (long r = r0 + 1; r < r1; r++) {
        const float *row = j->x + r * j->cols;
        for (int c = 0; c < j->cols; c++) block[c] += row[c];
      }
    }
    for (int c = 0; c < j->cols; c++) acc[c] += block[c];
  }
}

static int sums(sum_job j, float scale, float *out);

/* Row by row, so that the inner loop reads in order and the compiler vectorises it (a plain max, any order). One
 * thread: the products before it cost ten times more. */
void column_max(const float *x, long rows, int cols, long stride, float *out) {
  for (int c = 0; c < cols; c++) out[c] = -INFINITY;
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * stride;
    for (int c = 0; c < cols; c++) out[c] = row[c] > out[c] ? row[c] : out[c];
  }
}

/* The rotation net's 2×2 stride-2 'same' max pool (src/score/rotation-compiled.ts): a loop in C because in JavaScript
 * each max is a branch the data decides, mispredicted half the time (1-1.5 ms a 64×64 picture's four turns). The
 * inner loop runs over channels, in order, so the compiler vectorises it. One thread: the convs around it cost far
 * more. */
void max_pool2(const float *x, long t, int side, int ch, float *out) {
  const int half = (side + 1) / 2;
  const size_t row = (size_t)side * ch;
  for (long img = 0; img < t; img++) {
    const float *base = x + (size_t)img * side * row;
    for (int i = 0; i < half; i++) {
      const float *r0 = base + (size_t)2 * i * row;
      const float *r1 = 2 * i + 1 < side ? r0 + row : r0;
      for (int j = 0; j < half; j++) {
        const size_t a = (size_t)2 * j * ch;
        const size_t b = 2 * j + 1 < side ? a + ch : a;
        for (int c = 0; c < ch; c++) {
          const float m1 = r0[a + c] > r0[b + c] ? r0[a + c] : r0[b + c];
          const float m2 = r1[a + c] > r1[b + c] ? r1[a + c] : r1[b + c];
          out[c] = m1 > m2 ? m1 : m2;
        }
        out += ch;
      }
    }
  }
}

/* max_pool2's gradient, for training the rotation net: dx [t, side, side, ch] gets each output cell's dy at the first
 * maximum of its window in row-major order (tfjs's cpu rule), zero elsewhere; the windows do not overlap. tfjs's wasm
 * MaxPoolGrad drops the gradient of every window whose values are all negative (after LeakyReLU, about a fifth of
 * them) and took about half of a rotation step at 28×28. */
void max_pool2_grad(const float *x, const float *dy, long t, int side, int ch, float *dx) {
  const int half = (side + 1) / 2;
  const size_t row = (size_t)side * ch;
  memset(dx, 0, sizeof(float) * (size_t)t * side * row);
  for (long img = 0; img < t; img++) {
    const size_t base = (size_t)img * side * row;
    for (int i = 0; i < half; i++) {
      const size_t r0 = base + (size_t)2 * i * row;
      const size_t r1 = 2 * i + 1 < side ? r0 + row : r0;
      for (int j = 0; j < half; j++) {
        const size_t a = (size_t)2 * j * ch;
        const size_t b = 2 * j + 1 < side ? a + ch : a;
        for (int c = 0; c < ch; c++) {
          size_t at = r0 + a + c;
          float m = x[at];
          if (x[r0 + b + c] > m) { at = r0 + b + c; m = x[at]; }
          if (x[r1 + a + c] > m) { at = r1 + a + c; m = x[at]; }
          if (x[r1 + b + c] > m) at = r1 + b + c;
          dx[at] = dy[c];
        }
        dy += ch;
      }
    }
  }
}

int column_sums(const float *x, long rows, int cols, float scale, float *out) {
  return sums((sum_job){.x = x, .rows = rows, .cols = cols}, scale, out);
}

int column_product_sums(const float *x, const float *y, const float *mean, long rows, int cols, float *out) {
  return sums((sum_job){.x = x, .y = y, .mean = mean, .rows = rows, .cols = cols}, 1, out);
}

static int sums(sum_job j, float scale, float *out) {
  const long rows = j.rows;
  const int cols = j.cols;
  j.blocks = (rows + SUM_BLOCK - 1) / SUM_BLOCK;
  if (reserve_scratch(0, (size_t)cols) != KERNEL_OK) return KERNEL_NO_MEMORY;
  double *all = calloc((size_t)active_threads * cols, sizeof(double));
  if (!all) return KERNEL_NO_MEMORY;
  for (int t = 0; t < active_threads; t++) j.partial[t] = all + (size_t)t * cols;
  parallel(sum_block, &j);
  for (int c = 0; c < cols; c++) {
    double s = 0;
    for (int t = 0; t < active_threads; t++) s += all[(size_t)t * cols + c];
    out[c] = (float)(s * scale);
  }
  free(all);
  return KERNEL_OK;
}

typedef struct {
  int op;
  const float *a, *b;
  float *out;
  long n, next, blocks, block; /* block: elements a job takes at a time */
  float alpha;
  int channels; /* MAP_CHANNEL_AFFINE: the innermost dimension; b holds mean, multiplier and offset, `channels` each */
} map_job;
#define MAP_BLOCK 16384

/* out[r][k] = x[r][k] op v[k] (SUB_FROM, DIV_INTO: v[k] op x[r][k]; SPREAD: v[k]) over `rows` rows of c: one float32
 * operation an element, so the same bits as wasm's broadcasting kernels, whose per-element index arithmetic is
 * slower than the operation. One loop per op, so each vectorises. */
static void channel_rows(int op, const float *restrict x, const float *restrict v, float *restrict o, long rows, int c) {
  for (long r = 0; r < rows; r++, x += c, o += c) {
    switch (op) {
      case MAP_CHANNEL_MUL: for (int k = 0; k < c; k++) o[k] = x[k] * v[k]; break;
      case MAP_CHANNEL_ADD: for (int k = 0; k < c; k++) o[k] = x[k] + v[k]; break;
      case MAP_CHANNEL_SUB: for (int k = 0; k < c; k++) o[k] = x[k] - v[k]; break;
      case MAP_CHANNEL_SUB_FROM: for (int k = 0; k < c; k++) o[k] = v[k] - x[k]; break;
      case MAP_CHANNEL_DIV: for (int k = 0; k < c; k++) o[k] = x[k] / v[k]; break;
      case MAP_CHANNEL_DIV_INTO: for (int k = 0; k < c; k++) o[k] = v[k] / x[k]; break;
      default: memcpy(o, v, sizeof(float) * (size_t)c); break; /* MAP_CHANNEL_SPREAD */
    }
  }
}

static void map_block(void *p, int tid) {
  (void)tid;
  map_job *j = p;
  for (long b; next_block(&j->next, j->blocks, &b);) {
    long i0 = b * j->block, i1 = i0 + j->block < j->n ? i0 + j->block : j->n;
    const float *a = j->a, *g = j->b;
    float *o = j->out, alpha = j->alpha;
    if (j->op == MAP_LEAKYRELU || j->op == MAP_LEAKYRELU_GRAD) {
      /* A mask and a blend, never a branch: on activations of either sign a per-element branch mispredicts half the
       * time (~5 ns an element here, 20× a plain pass; bench/NOTES.md). GRAD: a = x, g = dy. */
      const float *y = j->op == MAP_LEAKYRELU ? a : g;
      long i = i0;
      for (; i + VW <= i1; i += VW) {
        const vf x = ld(a + i), v = ld(y + i);
        const vi positive = x > (vf){0};
        st(o + i, (vf)(((vi)v & positive) | ((vi)(v * alpha) & ~positive)));
      }
      for (; i < i1; i++) o[i] = a[i] > 0 ? y[i] : y[i] * alpha;
    } else if (j->op == MAP_SQUARE_GRAD) { /* a = x, g = dy: dy·(x·2), as tfjs's Square gradient rounds it */
      for (long i = i0; i < i1; i++) o[i] = g[i] * (a[i] * 2.f);
    } else if (j->op == MAP_CHANNEL_AFFINE) { /* a block is whole rows of `channels` */
      const int c = j->channels;
      const float *mean = g, *mult = g + c, *offset = g + 2 * c;
      for (long r = i0; r < i1; r += c)
        for (int k = 0; k < c; k++) o[r + k] = (a[r + k] - mean[k]) * mult[k] + offset[k];
    } else {
      channel_rows(j->op, a + i0, g, o + i0, (i1 - i0) / j->channels, j->channels);
    }
  }
}

/* One block runs on the calling thread: waking the pool costs more than a pass over 16,384 floats. */
static void run_map(map_job *j) {
  if (j->blocks <= 1) map_block(j, 0);
  else parallel(map_block, j);
}

void elementwise(int op, const float *a, const float *b, float *out, long n, float alpha) {
  map_job j = {.op = op, .a = a, .b = b, .out = out, .n = n, .alpha = alpha, .channels = 1, .block = MAP_BLOCK};
  j.blocks = (n + j.block - 1) / j.block;
  run_map(&j);
}

void channel_op(int op, const float *x, const float *v, float *out, long n, int channels) {
  map_job j = {.op = op, .a = x, .b = v, .out = out, .n = n, .channels = channels};
  j.block = (MAP_BLOCK > channels ? MAP_BLOCK / channels : 1) * (long)channels;
  j.blocks = (n + j.block - 1) / j.block;
  run_map(&j);
}

void channel_affine(const float *x, const float *coefficients, float *out, long n, int channels) {
  map_job j = {.op = MAP_CHANNEL_AFFINE, .a = x, .b = coefficients, .out = out, .n = n, .channels = channels};
  j.block = (MAP_BLOCK > channels ? MAP_BLOCK / channels : 1) * (long)channels;
  j.blocks = (n + j.block - 1) / j.block;
  run_map(&j);
}

/* ---- RMSprop with clipped gradients (the trainer's optimiser step, one pass per variable) ---- */

typedef struct {
  const float *value, *ms, *mom, *grad;
  float *new_value, *new_ms, *new_mom;
  long n, next, blocks;
  float lr, decay, rest, momentum, epsilon, clip;
} rmsprop_job;

/* Each product, sum, root and quotient is its own float32 rounding, in tfjs's order (RMSPropOptimizer, after
 * clipByValue), so the weights come out bit for bit as tfjs's ops give them; this file is compiled with
 * -ffp-contract=off, so no fused multiply-add merges two of them. */
static void rmsprop_range(const float *restrict value, const float *restrict mean_square,
                          const float *restrict moment, const float *restrict grad, float *restrict new_value,
                          float *restrict new_ms, float *restrict new_mom, long n, const rmsprop_job *j) {
  const float lr = j->lr, decay = j->decay, rest = j->rest, momentum = j->momentum, epsilon = j->epsilon;
  const float hi = j->clip, lo = -j->clip;
  for (long i = 0; i < n; i++) {
    float g = grad[i];
    g = g > hi ? hi : g;
    g = g < lo ? lo : g;
    const float kept = mean_square[i] * decay, squared = g * g, fresh = squared * rest;
    const float ms = kept + fresh;
    const float carried = moment[i] * momentum, scaled = g * lr, root = sqrtf(ms + epsilon);
    const float mom = carried + scaled / root;
    new_ms[i] = ms;
    new_mom[i] = mom;
    new_value[i] = value[i] - mom;
  }
}

static void rmsprop_block(void *p, int tid) {
  (void)tid;
  rmsprop_job *j = p;
  for (long b; next_block(&j->next, j->blocks, &b);) {
    long i = b * MAP_BLOCK, n = i + MAP_BLOCK < j->n ? MAP_BLOCK : j->n - i;
    rmsprop_range(j->value + i, j->ms + i, j->mom + i, j->grad + i, j->new_value + i, j->new_ms + i, j->new_mom + i, n, j);
  }
}

void rmsprop(const float *const in[4], float *const out[3], long n, const float k[6]) {
  rmsprop_job j = {.value = in[0], .ms = in[1], .mom = in[2], .grad = in[3], .new_value = out[0], .new_ms = out[1],
                   .new_mom = out[2], .n = n, .lr = k[0], .decay = k[1], .rest = k[2], .momentum = k[3],
                   .epsilon = k[4], .clip = k[5]};
  j.blocks = (n + MAP_BLOCK - 1) / MAP_BLOCK;
  if (j.blocks <= 1) rmsprop_block(&j, 0);
  else parallel(rmsprop_block, &j);
}

/* ---- Nearest-neighbour upsampling by whole factors (UpSampling2D) and its gradient ---- */

typedef struct {
  const float *in;
  float *out;
  long rows, next; /* rows: n·h input rows, one job block each */
  int w, c, fh, fw, grad;
} upsample_job;

static void upsample_block(void *p, int tid) {
  (void)tid;
  upsample_job *j = p;
  const int w = j->w, c = j->c, fh = j->fh, fw = j->fw;
  const long in_row = (long)w * c, out_row = in_row * fw; /* floats in one input row, in one output row */
  for (long r; next_block(&j->next, j->rows, &r);) {
    if (!j->grad) { /* the input row r becomes output rows r·fh … r·fh + fh − 1 */
      const float *x = j->in + r * in_row;
      float *y = j->out + r * fh * out_row;
      for (int ix = 0; ix < w; ix++)
        for (int k = 0; k < fw; k++) memcpy(y + ((long)ix * fw + k) * c, x + (long)ix * c, sizeof(float) * (size_t)c);
      for (int k = 1; k < fh; k++) memcpy(y + k * out_row, y, sizeof(float) * (size_t)out_row);
    } else { /* dx row r: each pixel sums its fh×fw block of dy */
      const float *dy = j->in + r * fh * out_row;
      float *dx = j->out + r * in_row;
      if (fh == 2 && fw == 2) { /* as XNNPACK's 2×2 average pool adds them (the fallback's path): the same bits */
        for (long i = 0; i < in_row; i++) {
          const long at = (i / c) * 2 * c + i % c;
          dx[i] = (dy[at] + dy[out_row + at]) + (dy[at + c] + dy[out_row + at + c]);
        }
        continue;
      }
      for (int ix = 0; ix < w; ix++) { /* row by row, left to right */
        float *d = dx + (long)ix * c;
        memcpy(d, dy + (long)ix * fw * c, sizeof(float) * (size_t)c);
        for (int ky = 0; ky < fh; ky++)
          for (int kx = ky ? 0 : 1; kx < fw; kx++) {
            const float *s = dy + ky * out_row + ((long)ix * fw + kx) * c;
            for (int ch = 0; ch < c; ch++) d[ch] += s[ch];
          }
      }
    }
  }
}

void upsample(int grad, const float *in, float *out, long n, int h, int w, int c, int fh, int fw) {
  upsample_job j = {.in = in, .out = out, .rows = n * h, .w = w, .c = c, .fh = fh, .fw = fw, .grad = grad};
  if ((long)w * c * fh * fw * j.rows <= MAP_BLOCK) upsample_block(&j, 0);
  else parallel(upsample_block, &j);
}
