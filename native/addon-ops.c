/* alocc compiled kernels: the Node-API entry points of the ops around the convolutions (ops.c), each checking every
 * operand before it runs (addon.h). */
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include "kernels.h"
#include "addon.h"

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

/* columnMax(heap, p: Int32Array [rows, cols, stride, x, out]): out[c] = max_r x[r·stride + c], c < cols ≤ stride. */
static napi_value js_column_max(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 5, "columnMax(heap, Int32Array [rows, cols, stride, x, out])");
  if (p[0] <= 0 || p[1] <= 0 || p[2] < p[1]) return throw_error(env, "columnMax: rows and columns must be positive, the stride at least the columns");
  size_t n = (size_t)p[0] * p[2];
  if (n > MAX_ELEMENTS) return throw_error(env, "columnMax: tensor too large");
  static const char *const names[2] = {"x", "out"};
  if (!operands_in_heap(env, "columnMax", names, p + 3, (size_t[]){n, (size_t)p[1]}, 2, heap_len)) return NULL;
  pthread_mutex_lock(&op_lock);
  column_max(heap + p[3], p[0], p[1], p[2], heap + p[4]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* maxPool2(heap, p: Int32Array [t, side, channels, x, out]): out [t, ⌈side/2⌉, ⌈side/2⌉, channels] = x [t, side, side,
 * channels] max-pooled 2×2 at stride 2, tfjs's 'same' (ops.c max_pool2); x and out must not overlap. */
static napi_value js_max_pool2(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 5, "maxPool2(heap, Int32Array [t, side, channels, x, out])");
  if (p[0] <= 0 || p[1] <= 0 || p[2] <= 0) return throw_error(env, "maxPool2: t, side and channels must be positive");
  /* Checked in double first: four int32 factors can overflow size_t. */
  if ((double)p[0] * p[1] * p[1] * p[2] > (double)MAX_ELEMENTS) return throw_error(env, "maxPool2: tensor too large");
  size_t half = ((size_t)p[1] + 1) / 2;
  size_t n = (size_t)p[0] * p[1] * p[1] * p[2], m = (size_t)p[0] * half * half * p[2];
  static const char *const names[2] = {"x", "out"};
  if (!operands_in_heap(env, "maxPool2", names, p + 3, (size_t[]){n, m}, 2, heap_len)) return NULL;
  if ((size_t)p[3] < (size_t)p[4] + m && (size_t)p[4] < (size_t)p[3] + n) return throw_error(env, "maxPool2: x and out overlap");
  pthread_mutex_lock(&op_lock);
  max_pool2(heap + p[3], p[0], p[1], p[2], heap + p[4]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* maxPool2Grad(heap, p: Int32Array [t, side, channels, x, dy, dx]): dx [t, side, side, channels], maxPool2's gradient
 * (ops.c max_pool2_grad) of dy [t, ⌈side/2⌉, ⌈side/2⌉, channels] at the input x; dx overlaps neither. */
static napi_value js_max_pool2_grad(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 6, "maxPool2Grad(heap, Int32Array [t, side, channels, x, dy, dx])");
  if (p[0] <= 0 || p[1] <= 0 || p[2] <= 0) return throw_error(env, "maxPool2Grad: t, side and channels must be positive");
  if ((double)p[0] * p[1] * p[1] * p[2] > (double)MAX_ELEMENTS) return throw_error(env, "maxPool2Grad: tensor too large");
  size_t half = ((size_t)p[1] + 1) / 2;
  size_t n = (size_t)p[0] * p[1] * p[1] * p[2], m = (size_t)p[0] * half * half * p[2];
  static const char *const names[3] = {"x", "dy", "dx"};
  if (!operands_in_heap(env, "maxPool2Grad", names, p + 3, (size_t[]){n, m, n}, 3, heap_len)) return NULL;
  if (((size_t)p[5] < (size_t)p[3] + n && (size_t)p[3] < (size_t)p[5] + n) || ((size_t)p[5] < (size_t)p[4] + m && (size_t)p[4] < (size_t)p[5] + n)) {
    return throw_error(env, "maxPool2Grad: dx overlaps x or dy");
  }
  pthread_mutex_lock(&op_lock);
  max_pool2_grad(heap + p[3], heap + p[4], p[0], p[1], p[2], heap + p[5]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* Whether the float ranges [a, a + n) and [b, b + m) overlap. */
static int overlap(int32_t a, size_t n, int32_t b, size_t m) { return (size_t)a < (size_t)b + m && (size_t)b < (size_t)a + n; }

/* batchNormTrain(heap, p: Int32Array [rows, ch, x, gamma, beta, y, mean, variance], eps): BatchNorm in training
 * (batchnorm.c); y, mean and variance overlap no input and each other. */
static napi_value js_batch_norm_train(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 8, "batchNormTrain(heap, Int32Array [rows, ch, x, gamma, beta, y, mean, variance], eps)");
  double eps = 0;
  if (c.argc < 3 || napi_get_value_double(env, c.argv[2], &eps) != napi_ok) return throw_error(env, "batchNormTrain: eps must be a number");
  if (p[0] <= 0 || !bn_channels_usable(p[1])) return throw_error(env, "batchNormTrain: rows must be positive, channels divide 256");
  if ((double)p[0] * p[1] > (double)MAX_ELEMENTS) return throw_error(env, "batchNormTrain: tensor too large");
  size_t n = (size_t)p[0] * p[1], ch = (size_t)p[1];
  static const char *const names[6] = {"x", "gamma", "beta", "y", "mean", "variance"};
  const size_t sizes[6] = {n, ch, ch, n, ch, ch};
  if (!operands_in_heap(env, "batchNormTrain", names, p + 2, sizes, 6, heap_len)) return NULL;
  for (int o = 3; o < 6; o++)
    for (int i = 0; i < 6; i++)
      if (i != o && (i < 3 || i > o) && overlap(p[2 + o], sizes[o], p[2 + i], sizes[i])) return throw_error(env, "batchNormTrain: an output overlaps another operand");
  pthread_mutex_lock(&op_lock);
  bn_train_forward(heap + p[2], p[0], p[1], heap + p[3], heap + p[4], (float)eps, heap + p[5], heap + p[6], heap + p[7]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* batchNormTrainGrad(heap, p: Int32Array [rows, ch, x, dy, gamma, mean, variance, dx, dgamma, dbeta], eps): its
 * gradient (batchnorm.c); dx, dgamma and dbeta overlap no input and each other. */
static napi_value js_batch_norm_train_grad(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 10, "batchNormTrainGrad(heap, Int32Array [rows, ch, x, dy, gamma, mean, variance, dx, dgamma, dbeta], eps)");
  double eps = 0;
  if (c.argc < 3 || napi_get_value_double(env, c.argv[2], &eps) != napi_ok) return throw_error(env, "batchNormTrainGrad: eps must be a number");
  if (p[0] <= 0 || !bn_channels_usable(p[1])) return throw_error(env, "batchNormTrainGrad: rows must be positive, channels divide 256");
  if ((double)p[0] * p[1] > (double)MAX_ELEMENTS) return throw_error(env, "batchNormTrainGrad: tensor too large");
  size_t n = (size_t)p[0] * p[1], ch = (size_t)p[1];
  static const char *const names[8] = {"x", "dy", "gamma", "mean", "variance", "dx", "dgamma", "dbeta"};
  const size_t sizes[8] = {n, n, ch, ch, ch, n, ch, ch};
  if (!operands_in_heap(env, "batchNormTrainGrad", names, p + 2, sizes, 8, heap_len)) return NULL;
  for (int o = 5; o < 8; o++)
    for (int i = 0; i < 8; i++)
      if (i != o && (i < 5 || i > o) && overlap(p[2 + o], sizes[o], p[2 + i], sizes[i])) return throw_error(env, "batchNormTrainGrad: an output overlaps another operand");
  pthread_mutex_lock(&op_lock);
  bn_train_backward(heap + p[2], heap + p[3], p[0], p[1], heap + p[4], heap + p[5], heap + p[6], (float)eps, heap + p[7], heap + p[8], heap + p[9]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
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
  if (napi_get_value_int32(env, c.argv[0], &op) != napi_ok || op < 0 || op > MAP_CHANNEL_SPREAD - MAP_CHANNEL_MUL)
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
  if (napi_get_value_int32(env, c.argv[0], &op) != napi_ok || op < 0 || op > 2) return throw_error(env, usage);
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

/* widenHalves(heap, p: Int32Array [n, values]): heap[values, values + n) ← the n half floats stored in the upper half
 * of those floats' bytes (half.c), in place. */
static napi_value js_widen_halves(napi_env env, napi_callback_info info) {
  HEAP_CALL(0, 2, "widenHalves(heap, Int32Array [n, values])");
  if (p[0] < 0) return throw_error(env, "widenHalves: n must be at least 0");
  static const char *const names[1] = {"values"};
  if (!operands_in_heap(env, "widenHalves", names, p + 1, (size_t[]){(size_t)p[0]}, 1, heap_len)) return NULL;
  widen_halves_in_place(heap + p[1], p[0]);
  return NULL;
}

void export_op_entries(napi_env env, napi_value exports) {
  napi_value f;
  EXPORT("widenHalves", js_widen_halves)
  EXPORT("columnSums", js_column_sums)
  EXPORT("columnMax", js_column_max)
  EXPORT("maxPool2", js_max_pool2)
  EXPORT("maxPool2Grad", js_max_pool2_grad)
  EXPORT("columnProductSums", js_column_product_sums)
  EXPORT("channelAffine", js_channel_affine)
  EXPORT("channelOp", js_channel_op)
  EXPORT("rmsprop", js_rmsprop)
  EXPORT("upsample", js_upsample)
  EXPORT("map", js_map)
  EXPORT("batchNormTrain", js_batch_norm_train)
  EXPORT("batchNormTrainGrad", js_batch_norm_train_grad)
}
