/* alocc compiled kernels: the Node-API functions JS calls (see kernels.h and src/kernels/native.ts). */
#include <node_api.h>
#include <pthread.h>
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

/* conv(op, heap: Float32Array, p: Int32Array, alpha): p = geometry (13), then float offsets into heap, then act. */
static napi_value js_conv(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "conv(op, heap, params[, alpha])");
  int32_t op;
  double alpha = 0;
  if (napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 2) return throw_error(env, "unknown op");
  if (argc > 3) napi_get_value_double(env, argv[3], &alpha);
  float *heap;
  int32_t *p;
  size_t heap_len, plen;
  if (!typed_array(env, argv[1], napi_float32_array, (void **)&heap, &heap_len))
    return throw_error(env, "heap must be a Float32Array");
  if (!typed_array(env, argv[2], napi_int32_array, (void **)&p, &plen) || plen < 17)
    return throw_error(env, "params must be an Int32Array of 17 or more");
  geometry g = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12]};
  for (int i = 0; i < 11; i++)
    if (p[i] <= 0) return throw_error(env, "conv geometry must be positive");
  size_t xs = (size_t)g.N * g.H * g.W * g.Ci, ws = (size_t)g.KH * g.KW * g.Ci * g.Co,
         ys = (size_t)g.N * g.OH * g.OW * g.Co;
  /* Bounds of every operand inside the heap, so a wrong offset throws instead of corrupting memory. */
  size_t sizes[3][3] = {{xs, ws, ys}, {ys, ws, xs}, {xs, ys, ws}};
  for (int i = 0; i < 3; i++)
    if (p[13 + i] < 0 || (size_t)p[13 + i] + sizes[op][i] > heap_len)
      return throw_error(env, "tensor offset outside the heap");
  const float *a = heap + p[13], *b = heap + p[14];
  float *out = heap + p[15];
  pthread_mutex_lock(&op_lock);
  switch (op) {
    case OP_FORWARD: {
      const float *bias = NULL;
      if (p[16] >= 0) {
        if ((size_t)p[16] + g.Co > heap_len) {
        pthread_mutex_unlock(&op_lock);
        return throw_error(env, "bias offset outside the heap");
      }
        bias = heap + p[16];
      }
      int act = plen > 17 ? p[17] : ACT_LINEAR;
      conv_forward(&g, a, b, bias, out, act, (float)alpha);
      break;
    }
    case OP_INPUT_GRAD: conv_input_grad(&g, a, b, out); break;
    case OP_FILTER_GRAD: conv_filter_grad(&g, a, b, out); break;
    default: break;
  }
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* reduce(heap, p: Int32Array [rows, cols, xOffset, outOffset], scale): column sums. */
static napi_value js_column_sums(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *heap;
  int32_t *p;
  size_t heap_len, plen;
  double scale = 1;
  if (argc < 2 || !typed_array(env, argv[0], napi_float32_array, (void **)&heap, &heap_len) ||
      !typed_array(env, argv[1], napi_int32_array, (void **)&p, &plen) || plen < 4)
    return throw_error(env, "columnSums(heap, Int32Array [rows, cols, x, out][, scale])");
  if (argc > 2) napi_get_value_double(env, argv[2], &scale);
  if (p[0] <= 0 || p[1] <= 0 || p[2] < 0 || p[3] < 0 || (size_t)p[2] + (size_t)p[0] * p[1] > heap_len ||
      (size_t)p[3] + p[1] > heap_len)
    return throw_error(env, "columnSums: operand outside the heap");
  pthread_mutex_lock(&op_lock);
  column_sums(heap + p[2], p[0], p[1], (float)scale, heap + p[3]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* map(op, heap, p: Int32Array [n, aOffset, bOffset, outOffset], alpha): elementwise ops. */
static napi_value js_map(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t op;
  float *heap;
  int32_t *p;
  size_t heap_len, plen;
  double alpha = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &op) != napi_ok ||
      !typed_array(env, argv[1], napi_float32_array, (void **)&heap, &heap_len) ||
      !typed_array(env, argv[2], napi_int32_array, (void **)&p, &plen) || plen < 4 || op < 0 || op > 1)
    return throw_error(env, "map(op, heap, Int32Array [n, a, b, out][, alpha])");
  if (argc > 3) napi_get_value_double(env, argv[3], &alpha);
  for (int i = 1; i < 4; i++)
    if (p[0] < 0 || p[i] < 0 || (size_t)p[i] + p[0] > heap_len) return throw_error(env, "map: operand outside the heap");
  pthread_mutex_lock(&op_lock);
  elementwise(op, heap + p[1], heap + p[2], heap + p[3], p[0], (float)alpha);
  pthread_mutex_unlock(&op_lock);
  return NULL;
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
  napi_create_int32(env, VW, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "conv", NAPI_AUTO_LENGTH, js_conv, NULL, &fn);
  napi_set_named_property(env, exports, "conv", fn);
  napi_create_function(env, "columnSums", NAPI_AUTO_LENGTH, js_column_sums, NULL, &fn);
  napi_set_named_property(env, exports, "columnSums", fn);
  napi_create_function(env, "map", NAPI_AUTO_LENGTH, js_map, NULL, &fn);
  napi_set_named_property(env, exports, "map", fn);
  napi_create_function(env, "setThreads", NAPI_AUTO_LENGTH, js_set_threads, NULL, &fn);
  napi_set_named_property(env, exports, "setThreads", fn);
  napi_create_function(env, "vectorWidth", NAPI_AUTO_LENGTH, js_vector_width, NULL, &fn);
  napi_set_named_property(env, exports, "vectorWidth", fn);
  return exports;
}
