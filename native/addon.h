/* alocc compiled kernels: what the Node-API entry points share (addon.c, addon-ops.c). */
#ifndef ALOCC_ADDON_H
#define ALOCC_ADDON_H
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>

/* One op at a time (addon.c). */
extern pthread_mutex_t op_lock;

/* Operands are checked before any kernel runs: a wrong offset, shape or padding throws instead of reading or
 * writing outside the heap. Element counts stay below 2^30 (all a 4 GiB wasm heap holds), so the kernels' int
 * and size_t arithmetic on them cannot overflow. */
#define MAX_ELEMENTS ((size_t)1 << 30)

napi_value throw_error(napi_env env, const char *msg);
/* Whether v is a typed array of type `want`; its data and length into *data and *len. */
int typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len);
/* Whether heap[offset .. offset + n) lies inside the heap. */
int in_heap(int32_t offset, size_t n, size_t heap_len);
/* Whether every operand (offsets[i], sizes[i] floats) lies in the heap; throws naming the first that does not. */
int operands_in_heap(napi_env env, const char *fn, const char *const names[], const int32_t offsets[], const size_t sizes[],
                     int count, size_t heap_len);
/* NULL, or a thrown error saying the kernel ran out of memory. */
napi_value kernel_result(napi_env env, int result, const char *fn);

/* One call of a heap entry point: its arguments, and the heap and parameters found in them. */
typedef struct {
  size_t argc;
  napi_value argv[4];
  float *heap;
  size_t heap_len;
  int32_t *p;
  size_t plen;
} heap_call;

int read_heap_call(napi_env env, napi_callback_info info, size_t first, size_t count, const char *usage, heap_call *c);

/* The start of every heap entry point: reads the call into `c` (returning from the entry point where it fails) and
 * names its heap, heap length and parameters. */
#define HEAP_CALL(first, count, usage)                                                                             \
  heap_call c;                                                                                                     \
  if (!read_heap_call(env, info, first, count, usage, &c)) return NULL;                                            \
  float *const heap = c.heap;                                                                                      \
  const int32_t *const p = c.p;                                                                                    \
  const size_t heap_len = c.heap_len

/* Exports the Node-API function `fn` as `name` (inside a function with `env`, `exports` and a napi_value `f`). */
#define EXPORT(name, fn)                                                                                           \
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);                                                 \
  napi_set_named_property(env, exports, name, f);

/* Adds the entry points of addon-ops.c to the module's exports. */
void export_op_entries(napi_env env, napi_value exports);
/* Adds addon-memory.c's (hugeFloats). */
void export_memory_entries(napi_env env, napi_value exports);
#endif
