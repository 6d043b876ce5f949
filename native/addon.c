/* alocc compiled kernels: the Node-API functions JS calls (see kernels.h and src/kernels/native.ts). */
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "kernels.h"

/* ---- Node-API glue ---- */

/* One op at a time: the pool, the callers' scratch (thread 0's) and the filter-gradient accumulators are shared by
 * every JS thread that loaded the addon (worker_threads each load it). */
static pthread_mutex_t op_lock = PTHREAD_MUTEX_INITIALIZER;

enum { OP_FORWARD = 0, OP_INPUT_GRAD = 1, OP_FILTER_GRAD = 2 };

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, &buffer, &offset) != napi_ok) return 0;
  return type == want;
}

/* Operands are checked before any kernel runs: a wrong offset, shape or padding throws instead of reading or
 * writing outside the heap. Element counts stay below 2^30 (all a 4 GiB wasm heap holds), so the kernels' int
 * and size_t arithmetic on them cannot overflow. */
#define MAX_ELEMENTS ((size_t)1 << 30)

/* Whether heap[offset .. offset + n) lies inside the heap: n floats ending at the heap's end are fine. */
static int in_heap(int32_t offset, size_t n, size_t heap_len) {
  return offset >= 0 && n <= heap_len && (size_t)offset <= heap_len - n;
}

static napi_value operand_error(napi_env env, const char *fn, const char *name, int32_t offset, size_t n,
                                size_t heap_len) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s: %s (offset %d, %zu floats) outside the heap of %zu floats", fn, name, offset, n,
           heap_len);
  return throw_error(env, msg);
}

/* The heap entry points' common arguments: argv[first] the wasm heap (a Float32Array), argv[first + 1] an Int32Array of
 * at least `count` parameters (sizes and float offsets into the heap), whose length goes to *plen. Throws `usage`
 * and returns 0 otherwise. */
static int heap_arguments(napi_env env, const napi_value *argv, size_t argc, size_t first, size_t count,
                          const char *usage, float **heap, size_t *heap_len, int32_t **p, size_t *plen) {
  if (argc >= first + 2 && typed_array(env, argv[first], napi_float32_array, (void **)heap, heap_len) &&
      typed_array(env, argv[first + 1], napi_int32_array, (void **)p, plen) && *plen >= count)
    return 1;
  throw_error(env, usage);
  return 0;
}

/* One call of a heap entry point: its arguments, and the heap and parameters found in them. */
typedef struct {
  size_t argc;
  napi_value argv[4];
  float *heap;
  size_t heap_len;
  int32_t *p;
  size_t plen;
} heap_call;

/* Reads a heap entry point's call (heap_arguments says what it must hold); throws `usage` and returns 0 otherwise. */
static int read_heap_call(napi_env env, napi_callback_info info, size_t first, size_t count, const char *usage,
                          heap_call *c) {
  c->argc = 4;
  napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL);
  return heap_arguments(env, c->argv, c->argc, first, count, usage, &c->heap, &c->heap_len, &c->p, &c->plen);
}

/* The start of every heap entry point: reads the call into `c` (returning from the entry point where it fails) and
 * names its heap, heap length and parameters. */
#define HEAP_CALL(first, count, usage)                                                                             \
  heap_call c;                                                                                                     \
  if (!read_heap_call(env, info, first, count, usage, &c)) return NULL;                                            \
  float *const heap = c.heap;                                                                                      \
  const int32_t *const p = c.p;                                                                                    \
  const size_t heap_len = c.heap_len

/* Whether every operand (offsets[i], sizes[i] floats) lies in the heap; throws naming the first that does not. */
static int operands_in_heap(napi_env env, const char *fn, const char *const names[], const int32_t offsets[],
                            const size_t sizes[], int count, size_t heap_len) {
  for (int i = 0; i < count; i++)
    if (!in_heap(offsets[i], sizes[i], heap_len)) {
      operand_error(env, fn, names[i], offsets[i], sizes[i], heap_len);
      return 0;
    }
  return 1;
}

static napi_value kernel_result(napi_env env, int result, const char *fn) {
  if (result == KERNEL_OK) return NULL;
  char msg[120];
  snprintf(msg, sizeof msg, "%s: out of memory for the kernel's scratch buffers", fn);
  return throw_error(env, msg);
}

static const isa_kernels *current; /* set at load: the best ISA this CPU runs */

/* conv(op, heap: Float32Array, p: Int32Array, alpha): p = geometry (13), then float offsets into heap of the two
 * inputs and the output, then the bias offset (-1: none) and, for the forward conv, the activation. */
static napi_value js_conv(napi_env env, napi_callback_info info) {
  HEAP_CALL(1, 17, "conv(op, heap: Float32Array, params: Int32Array of 17 or more[, alpha])");
  int32_t op;
  double alpha = 0;
  if (napi_get_value_int32(env, c.argv[0], &op) != napi_ok || op < 0 || op > 2) return throw_error(env, "conv: unknown op");
  if (c.argc > 3 && napi_get_value_double(env, c.argv[3], &alpha) != napi_ok) return throw_error(env, "conv: alpha must be a number");
  geometry g = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12]};
  for (int i = 0; i < 11; i++)
    if (p[i] <= 0) return throw_error(env, "conv: geometry must be positive");
  /* tfjs's 'same' and 'valid' pad less than the kernel; the stride-1 input gradient relies on it. */
  if (g.PT < 0 || g.PL < 0 || g.PT >= g.KH || g.PL >= g.KW)
    return throw_error(env, "conv: padding must be at least 0 and less than the kernel");
  /* Every output pixel's window must start inside the padded input. */
  if ((int64_t)(g.OH - 1) * g.SH - g.PT >= g.H || (int64_t)(g.OW - 1) * g.SW - g.PL >= g.W)
    return throw_error(env, "conv: output larger than the input, stride and padding give");
  int act = c.plen > 17 ? p[17] : ACT_LINEAR;
  if (op == OP_FORWARD && (act < ACT_LINEAR || act > ACT_LEAKYRELU)) return throw_error(env, "conv: unknown activation");
  size_t xs = (size_t)g.N * g.H * g.W * g.Ci, ws = (size_t)g.KH * g.KW * g.Ci * g.Co,
         ys = (size_t)g.N * g.OH * g.OW * g.Co;
  if (xs > MAX_ELEMENTS || ws > MAX_ELEMENTS || ys > MAX_ELEMENTS) return throw_error(env, "conv: tensor too large");
  static const char *const names[3][3] = {{"x", "filter", "y"}, {"dy", "filter", "dx"}, {"x", "dy", "dw"}};
  size_t sizes[3][3] = {{xs, ws, ys}, {ys, ws, xs}, {xs, ys, ws}};
  if (!operands_in_heap(env, "conv", names[op], p + 13, sizes[op], 3, heap_len)) return NULL;
  const float *bias = NULL;
  if (p[16] != -1) {
    if (op != OP_FORWARD) return throw_error(env, "conv: only the forward conv takes a bias");
    if (!in_heap(p[16], g.Co, heap_len)) return operand_error(env, "conv", "bias", p[16], g.Co, heap_len);
    bias = heap + p[16];
  }
  const float *a = heap + p[13], *b = heap + p[14];
  float *out = heap + p[15];
  int result = KERNEL_OK;
  pthread_mutex_lock(&op_lock);
  switch (op) {
    case OP_FORWARD: result = current->conv_forward(&g, a, b, bias, out, act, (float)alpha); break;
    case OP_INPUT_GRAD: result = current->conv_input_grad(&g, a, b, out); break;
    case OP_FILTER_GRAD: result = current->conv_filter_grad(&g, a, b, out); break;
    default: break;
  }
  pthread_mutex_unlock(&op_lock);
  return kernel_result(env, result, "conv");
}

/* columnSums(heap, p: Int32Array [rows, cols, xOffset, outOffset], scale). */
static napi_value js_column_sums(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 4, "columnSums(heap, Int32Array [rows, cols, x, out][, scale])");
  double scale = 1;
  if (c.argc > 2 && napi_get_value_double(env, c.argv[2], &scale) != napi_ok)
    return throw_error(env, "columnSums: scale must be a number");
  if (p[0] <= 0 || p[1] <= 0) return throw_error(env, "columnSums: rows and columns must be positive");
  size_t n = (size_t)p[0] * p[1];
  if (n > MAX_ELEMENTS) return throw_error(env, "columnSums: tensor too large");
  static const char *const names[2] = {"x", "out"};
  if (!operands_in_heap(env, "columnSums", names, p + 2, (size_t[]){n, (size_t)p[1]}, 2, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  int result = column_sums(heap + p[2], p[0], p[1], (float)scale, heap + p[3]);
  pthread_mutex_unlock(&op_lock);
  return kernel_result(env, result, "columnSums");
}

/* columnProductSums(heap, p: Int32Array [rows, cols, x, y, mean, out]): out[c] = Σ_r x[r][c]·(y[r][c] − mean[c]). */
static napi_value js_column_product_sums(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 6, "columnProductSums(heap, Int32Array [rows, cols, x, y, mean, out])");
  if (p[0] <= 0 || p[1] <= 0) return throw_error(env, "columnProductSums: rows and columns must be positive");
  size_t n = (size_t)p[0] * p[1], cols = (size_t)p[1];
  if (n > MAX_ELEMENTS) return throw_error(env, "columnProductSums: tensor too large");
  static const char *const names[4] = {"x", "y", "mean", "out"};
  if (!operands_in_heap(env, "columnProductSums", names, p + 2, (size_t[]){n, n, cols, cols}, 4, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  int result = column_product_sums(heap + p[2], heap + p[3], heap + p[4], p[0], p[1], heap + p[5]);
  pthread_mutex_unlock(&op_lock);
  return kernel_result(env, result, "columnProductSums");
}

/* channelAffine(heap, p: Int32Array [n, channels, x, coefficients, out]): BatchNorm with given statistics (ops.c). */
static napi_value js_channel_affine(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 5, "channelAffine(heap, Int32Array [n, channels, x, coefficients, out])");
  if (p[0] < 0 || p[1] <= 0 || p[0] % p[1] != 0)
    return throw_error(env, "channelAffine: n must be a multiple of a positive channel count");
  static const char *const names[3] = {"x", "coefficients", "out"};
  size_t sizes[3] = {(size_t)p[0], (size_t)3 * p[1], (size_t)p[0]};
  if (!operands_in_heap(env, "channelAffine", names, p + 2, sizes, 3, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  channel_affine(heap + p[2], heap + p[3], heap + p[4], p[0], p[1]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* channelOp(op, heap, p: Int32Array [n, channels, x, v, out]): a per-channel binary op, op 0-6 for MAP_CHANNEL_MUL …
 * MAP_CHANNEL_SPREAD (ops.c); v holds `channels` floats, x and out n (SPREAD reads no x). */
static napi_value js_channel_op(napi_env env, napi_callback_info info) {
  static const char *usage = "channelOp(op, heap, Int32Array [n, channels, x, v, out])";
  HEAP_CALL(1, 5, usage);
  int32_t op;
  if (c.argc < 1 || napi_get_value_int32(env, c.argv[0], &op) != napi_ok || op < 0 ||
      op > MAP_CHANNEL_SPREAD - MAP_CHANNEL_MUL)
    return throw_error(env, usage);
  if (p[0] < 0 || p[1] <= 0 || p[0] % p[1] != 0)
    return throw_error(env, "channelOp: n must be a multiple of a positive channel count");
  op += MAP_CHANNEL_MUL;
  static const char *const names[3] = {"x", "v", "out"};
  size_t sizes[3] = {op == MAP_CHANNEL_SPREAD ? 0 : (size_t)p[0], (size_t)p[1], (size_t)p[0]};
  if (!operands_in_heap(env, "channelOp", names, p + 2, sizes, 3, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  channel_op(op, heap + p[2], heap + p[3], heap + p[4], p[0], p[1]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* rmsprop(heap, p: Int32Array [n, value, meanSquare, moment, gradient, newValue, newMeanSquare, newMoment],
 * k: Float32Array [learning rate, decay, 1 − decay, momentum, epsilon, clip]): one clipped RMSprop update (ops.c). */
static napi_value js_rmsprop(napi_env env, napi_callback_info info) {
  static const char *usage =
      "rmsprop(heap, Int32Array [n, value, meanSquare, moment, gradient, newValue, newMeanSquare, newMoment], "
      "Float32Array [lr, decay, 1 - decay, momentum, epsilon, clip])";
  HEAP_CALL(0, 8, usage);
  float *k;
  size_t klen;
  if (c.argc < 3 || !typed_array(env, c.argv[2], napi_float32_array, (void **)&k, &klen) || klen < 6)
    return throw_error(env, usage);
  if (p[0] < 0 || (size_t)p[0] > MAX_ELEMENTS) return throw_error(env, "rmsprop: n must be at least 0 and below 2^30");
  static const char *const names[7] = {"value", "meanSquare", "moment", "gradient", "newValue", "newMeanSquare", "newMoment"};
  size_t n = (size_t)p[0], sizes[7] = {n, n, n, n, n, n, n};
  if (!operands_in_heap(env, "rmsprop", names, p + 1, sizes, 7, heap_len)) return NULL;
  const float *in[4] = {heap + p[1], heap + p[2], heap + p[3], heap + p[4]};
  float *out[3] = {heap + p[5], heap + p[6], heap + p[7]};
  pthread_mutex_lock(&op_lock);
  rmsprop(in, out, (long)n, k);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* upsample(heap, p: Int32Array [grad, n, h, w, c, fh, fw, in, out]): nearest-neighbour upsampling by whole factors
 * of x [n][h][w][c], or (grad 1) its gradient from dy (ops.c). */
static napi_value js_upsample(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 9, "upsample(heap, Int32Array [grad, n, h, w, c, fh, fw, in, out])");
  if (p[0] < 0 || p[0] > 1) return throw_error(env, "upsample: grad must be 0 or 1");
  for (int i = 1; i < 7; i++)
    if (p[i] <= 0) return throw_error(env, "upsample: sizes and factors must be positive");
  size_t small = 1, large = 1; /* n·h·w·c, then times fh·fw; each step checked, so the product cannot wrap */
  for (int i = 1; i < 7; i++) {
    if ((size_t)p[i] > MAX_ELEMENTS / large) return throw_error(env, "upsample: tensor too large");
    large *= (size_t)p[i];
    if (i == 4) small = large;
  }
  static const char *const names[2][2] = {{"x", "y"}, {"dy", "dx"}};
  size_t sizes[2][2] = {{small, large}, {large, small}};
  if (!operands_in_heap(env, "upsample", names[p[0]], p + 7, sizes[p[0]], 2, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  upsample(p[0], heap + p[7], heap + p[8], p[1], p[2], p[3], p[4], p[5], p[6]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* map(op, heap, p: Int32Array [n, aOffset, bOffset, outOffset], alpha): elementwise ops, op 0 LeakyReLU, 1 its
 * gradient, 2 Square's gradient (kernels.h). */
static napi_value js_map(napi_env env, napi_callback_info info) {
  int32_t op;
  double alpha = 0;
  static const char *usage = "map(op, heap, Int32Array [n, a, b, out][, alpha])";
  HEAP_CALL(1, 4, usage);
  static const int ops[3] = {MAP_LEAKYRELU, MAP_LEAKYRELU_GRAD, MAP_SQUARE_GRAD};
  if (c.argc < 1 || napi_get_value_int32(env, c.argv[0], &op) != napi_ok || op < 0 || op > 2) return throw_error(env, usage);
  if (c.argc > 3 && napi_get_value_double(env, c.argv[3], &alpha) != napi_ok)
    return throw_error(env, "map: alpha must be a number");
  if (p[0] < 0) return throw_error(env, "map: n must be at least 0");
  static const char *const names[3] = {"a", "b", "out"};
  size_t n = (size_t)p[0];
  if (!operands_in_heap(env, "map", names, p + 1, (size_t[]){n, n, n}, 3, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  elementwise(ops[op], heap + p[1], heap + p[2], heap + p[3], p[0], (float)alpha);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* pooledConv(heap, p: Int32Array [N, H, W, Ci, KH, KW, Co, PT, PL, pool, x, filter, bias, y], alpha): R's first block
 * at stride 1, averaged over pool×pool cells (pooled.c). Returns false, writing nothing, where the kernel does not
 * take the shape (over 512 outputs); the caller then runs tfjs's ops. */
static napi_value js_pooled_conv(napi_env env, napi_callback_info info) {
  static const char *usage = "pooledConv(heap, Int32Array [N, H, W, Ci, KH, KW, Co, PT, PL, pool, x, filter, bias, y], alpha)";
  HEAP_CALL(0, 14, usage);
  napi_value result;
  double alpha;
  if (c.argc < 3 || napi_get_value_double(env, c.argv[2], &alpha) != napi_ok) return throw_error(env, usage);
  for (int i = 0; i < 10; i++)
    if (p[i] < (i == 7 || i == 8 ? 0 : 1)) return throw_error(env, "pooledConv: sizes must be positive, padding at least 0");
  if (p[7] >= p[4] || p[8] >= p[5]) return throw_error(env, "pooledConv: padding must be less than the kernel");
  if (p[9] > p[1] || p[9] > p[2]) return throw_error(env, "pooledConv: the pool is larger than the image");
  geometry g = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], 0, 0, 1, 1, p[7], p[8]};
  size_t xs = (size_t)g.N * g.H * g.W * g.Ci, ws = (size_t)g.KH * g.KW * g.Ci * g.Co,
         ys = (size_t)g.N * (g.H / p[9]) * (g.W / p[9]) * g.Co;
  if (xs > MAX_ELEMENTS || ws > MAX_ELEMENTS || ys > MAX_ELEMENTS) return throw_error(env, "pooledConv: tensor too large");
  static const char *const names[4] = {"x", "filter", "bias", "y"};
  size_t sizes[4] = {xs, ws, (size_t)g.Co, ys};
  if (!operands_in_heap(env, "pooledConv", names, p + 10, sizes, 4, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  int r = current->pooled_conv_forward(&g, heap + p[10], heap + p[11], heap + p[12], (float)alpha, p[9], heap + p[13]);
  pthread_mutex_unlock(&op_lock);
  napi_get_boolean(env, r == KERNEL_OK, &result);
  return result;
}

/* setThreads(n): starts workers up to n (the caller counts as one); returns the number that will run. */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t n = 1;
  if (argc > 0) napi_get_value_int32(env, argv[0], &n);
  if (n < 1) n = 1;
  pthread_mutex_lock(&op_lock);
  int started = pool_start(n);
  active_threads = n < started ? n : started;
  pthread_mutex_unlock(&op_lock);
  napi_create_int32(env, active_threads, &result);
  return result;
}

static napi_value js_vector_width(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_int32(env, *current->vector_width, &result);
  return result;
}

static napi_value js_isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_string_utf8(env, current->name, NAPI_AUTO_LENGTH, &result);
  return result;
}

/* isas(): the instruction sets compiled in that this CPU runs, best first. */
static napi_value js_isas(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value list, name;
  napi_create_array(env, &list);
  uint32_t n = 0;
  for (int i = 0; i < ISA_COUNT; i++) {
    if (!isa_supported(i)) continue;
    napi_create_string_utf8(env, ISAS[i].name, NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, list, n++, name);
  }
  return list;
}

/* setIsa(name): runs the kernels compiled for `name` from now on; throws where it is unknown or the CPU lacks it. */
static napi_value js_set_isa(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1];
  char name[32];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok)
    return throw_error(env, "setIsa(name)");
  char known[128] = "", runs[128] = "";
  int found = -1;
  for (int i = 0; i < ISA_COUNT; i++) {
    if (strcmp(ISAS[i].name, name) == 0) found = i;
    snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", ISAS[i].name);
    if (isa_supported(i))
      snprintf(runs + strlen(runs), sizeof runs - strlen(runs), "%s%s", runs[0] ? ", " : "", ISAS[i].name);
  }
  char msg[320];
  if (found < 0) {
    snprintf(msg, sizeof msg, "unknown instruction set '%s' (this build has: %s)", name, known);
    return throw_error(env, msg);
  }
  if (!isa_supported(found)) {
    snprintf(msg, sizeof msg, "this CPU lacks %s (it runs: %s)", name, runs);
    return throw_error(env, msg);
  }
  pthread_mutex_lock(&op_lock);
  current = &ISAS[found];
  pthread_mutex_unlock(&op_lock);
  return js_isa(env, info);
}

#define EXPORT(name, fn)                                                                                           \
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);                                                 \
  napi_set_named_property(env, exports, name, f);

NAPI_MODULE_INIT() {
  napi_value f;
  pthread_mutex_lock(&op_lock);
  /* The best this CPU runs (the baseline, last, always does); a second load (a worker thread) keeps the choice. */
  for (int i = 0; i < ISA_COUNT && !current; i++)
    if (isa_supported(i)) current = &ISAS[i];
  pthread_mutex_unlock(&op_lock);
  EXPORT("conv", js_conv)
  EXPORT("columnSums", js_column_sums)
  EXPORT("map", js_map)
  EXPORT("channelAffine", js_channel_affine)
  EXPORT("rmsprop", js_rmsprop)
  EXPORT("channelOp", js_channel_op)
  EXPORT("columnProductSums", js_column_product_sums)
  EXPORT("upsample", js_upsample)
  EXPORT("pooledConv", js_pooled_conv)
  EXPORT("setThreads", js_set_threads)
  EXPORT("vectorWidth", js_vector_width)
  EXPORT("isa", js_isa)
  EXPORT("isas", js_isas)
  EXPORT("setIsa", js_set_isa)
  return exports;
}
