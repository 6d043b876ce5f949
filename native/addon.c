/* alocc compiled kernels: the Node-API functions JS calls (see kernels.h and src/kernels/native.ts). */
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "kernels.h"
#include "addon.h"

/* ---- Node-API glue ---- */

/* One op at a time: the pool, the callers' scratch (thread 0's) and the filter-gradient accumulators are shared by
 * every JS thread that loaded the addon (worker_threads each load it). */
pthread_mutex_t op_lock = PTHREAD_MUTEX_INITIALIZER;

enum { OP_FORWARD = 0, OP_INPUT_GRAD = 1, OP_FILTER_GRAD = 2 };

napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

int typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, &buffer, &offset) != napi_ok) return 0;
  return type == want;
}

/* Whether heap[offset .. offset + n) lies inside the heap: n floats ending at the heap's end are fine. */
int in_heap(int32_t offset, size_t n, size_t heap_len) {
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

/* Reads a heap entry point's call (heap_arguments says what it must hold); throws `usage` and returns 0 otherwise. */
int read_heap_call(napi_env env, napi_callback_info info, size_t first, size_t count, const char *usage, heap_call *c) {
  c->argc = 4;
  napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL);
  return heap_arguments(env, c->argv, c->argc, first, count, usage, &c->heap, &c->heap_len, &c->p, &c->plen);
}

/* Whether every operand (offsets[i], sizes[i] floats) lies in the heap; throws naming the first that does not. */
int operands_in_heap(napi_env env, const char *fn, const char *const names[], const int32_t offsets[],
                     const size_t sizes[], int count, size_t heap_len) {
  for (int i = 0; i < count; i++)
    if (!in_heap(offsets[i], sizes[i], heap_len)) {
      operand_error(env, fn, names[i], offsets[i], sizes[i], heap_len);
      return 0;
    }
  return 1;
}

napi_value kernel_result(napi_env env, int result, const char *fn) {
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

/* pooledConv(heap, p: Int32Array [N, H, W, Ci, KH, KW, Co, PT, PL, pool, x, filter, bias, y, withMax], alpha): R's
 * first block at stride 1, averaged over pool×pool cells, and with withMax = 1 also their maxima (pooled.c; y then
 * holds twice the values). Returns false, writing nothing, where the kernel does not take the shape (over 512
 * outputs); the caller then runs tfjs's ops. */
static napi_value js_pooled_conv(napi_env env, napi_callback_info info) {
  static const char *usage = "pooledConv(heap, Int32Array [N, H, W, Ci, KH, KW, Co, PT, PL, pool, x, filter, bias, y, withMax], alpha)";
  HEAP_CALL(0, 15, usage);
  napi_value result;
  double alpha;
  if (c.argc < 3 || napi_get_value_double(env, c.argv[2], &alpha) != napi_ok) return throw_error(env, usage);
  for (int i = 0; i < 10; i++)
    if (p[i] < (i == 7 || i == 8 ? 0 : 1)) return throw_error(env, "pooledConv: sizes must be positive, padding at least 0");
  if (p[7] >= p[4] || p[8] >= p[5]) return throw_error(env, "pooledConv: padding must be less than the kernel");
  if (p[9] > p[1] || p[9] > p[2]) return throw_error(env, "pooledConv: the pool is larger than the image");
  if (p[14] != 0 && p[14] != 1) return throw_error(env, "pooledConv: withMax must be 0 or 1");
  geometry g = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], 0, 0, 1, 1, p[7], p[8]};
  size_t xs = (size_t)g.N * g.H * g.W * g.Ci, ws = (size_t)g.KH * g.KW * g.Ci * g.Co,
         ys = (size_t)g.N * (g.H / p[9]) * (g.W / p[9]) * g.Co * (1 + p[14]);
  if (xs > MAX_ELEMENTS || ws > MAX_ELEMENTS || ys > MAX_ELEMENTS) return throw_error(env, "pooledConv: tensor too large");
  static const char *const names[4] = {"x", "filter", "bias", "y"};
  size_t sizes[4] = {xs, ws, (size_t)g.Co, ys};
  if (!operands_in_heap(env, "pooledConv", names, p + 10, sizes, 4, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  int r = current->pooled_conv_forward(&g, heap + p[10], heap + p[11], heap + p[12], (float)alpha, p[9], p[14], heap + p[13]);
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

NAPI_MODULE_INIT() {
  napi_value f;
  pthread_mutex_lock(&op_lock);
  /* The best this CPU runs (the baseline, last, always does); a second load (a worker thread) keeps the choice. */
  for (int i = 0; i < ISA_COUNT && !current; i++)
    if (isa_supported(i)) current = &ISAS[i];
  pthread_mutex_unlock(&op_lock);
  EXPORT("conv", js_conv)
  export_op_entries(env, exports);
  export_memory_entries(env, exports);
  EXPORT("pooledConv", js_pooled_conv)
  EXPORT("setThreads", js_set_threads)
  EXPORT("vectorWidth", js_vector_width)
  EXPORT("isa", js_isa)
  EXPORT("isas", js_isas)
  EXPORT("setIsa", js_set_isa)
  return exports;
}
