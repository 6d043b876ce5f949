/* alocc compiled kernels: large float arrays on transparent huge pages, for the knn verdict's heap and the coreset's
 * similarities. A fresh 16 MB Float32Array costs 60-70 ms of page faults on first touch in the 2-vCPU VM (4 KB pages,
 * one fault each); the same memory on 2 MB pages, 1.2 ms (bench/NOTES.md). Linux gives huge pages to anonymous
 * memory only where it is asked (madvise) on most distributions' defaults. */
#define _GNU_SOURCE
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include "addon.h"
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define HUGE_PAGE ((size_t)2 << 20)

typedef struct {
  void *base;
  size_t length;
  int64_t counted; /* bytes reported to V8 as external memory */
} mapping;

static void release(napi_env env, void *data, void *hint) {
  (void)data;
  mapping *m = hint;
  int64_t total;
  if (m->counted) napi_adjust_external_memory(env, -m->counted, &total);
#if defined(__linux__)
  munmap(m->base, m->length);
#else
  free(m->base);
#endif
  free(m);
}

/* hugeFloats(n): a zeroed Float32Array of n floats whose memory starts on a 2 MB boundary and is advised onto huge
 * pages (Linux); elsewhere plain zeroed memory. Freed when the array is collected. */
static napi_value js_huge_floats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], buffer, result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t n;
  if (argc < 1 || napi_get_value_int64(env, argv[0], &n) != napi_ok || n < 1 || (uint64_t)n > MAX_ELEMENTS)
    return throw_error(env, "hugeFloats(n): n must be a whole number from 1 to the largest tensor");
  size_t bytes = (size_t)n * sizeof(float);
  mapping *m = malloc(sizeof *m);
  if (!m) return throw_error(env, "hugeFloats: out of memory");
  void *data;
#if defined(__linux__)
  /* Anonymous memory is zeroed by the kernel; over-allocated by a page so that the data can start on a boundary. */
  m->length = bytes + HUGE_PAGE;
  m->base = mmap(NULL, m->length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m->base == MAP_FAILED) {
    free(m);
    return throw_error(env, "hugeFloats: out of memory");
  }
  data = (void *)(((uintptr_t)m->base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  madvise(data, bytes, MADV_HUGEPAGE);
#else
  m->length = bytes;
  m->base = calloc(1, bytes);
  if (!m->base) {
    free(m);
    return throw_error(env, "hugeFloats: out of memory");
  }
  data = m->base;
#endif
  m->counted = 0;
  if (napi_create_external_arraybuffer(env, data, bytes, release, m, &buffer) != napi_ok) {
    release(env, data, m);
    return throw_error(env, "hugeFloats: this Node.js does not allow external buffers");
  }
  /* V8 does not see memory it did not allocate: told of it, it collects the arrays that hold it as often as it would
   * collect Float32Arrays of that size, so a long scoring run's chunks do not pile up until the next collection. */
  int64_t total;
  if (napi_adjust_external_memory(env, (int64_t)bytes, &total) == napi_ok) m->counted = (int64_t)bytes;
  napi_create_typedarray(env, napi_float32_array, (size_t)n, buffer, 0, &result);
  return result;
}

void export_memory_entries(napi_env env, napi_value exports) {
  napi_value f;
  EXPORT("hugeFloats", js_huge_floats)
}
