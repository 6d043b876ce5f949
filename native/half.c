/* alocc compiled kernels: IEEE half floats widened to float32 in place, for the knn memory a run stores in half
 * precision (src/score/float16.ts). A cold `alocc score` reads the whole bank (4 M values for a 1,000-picture memory
 * at 64×64) before its first answer; JS's table lookups took 60-120 ms of that, the F16C instruction a few. */
#include <stdint.h>
#include <string.h>
#include "kernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Exact, any half: normals, subnormals, ±0, ±Infinity, NaN (its payload kept in the top bits, as F16C does). */
static float half_value(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
  if (e == 0x1f) bits = sign | 0x7f800000 | (m << 13);
  else if (e != 0) bits = sign | ((e + 112) << 23) | (m << 13);
  else if (m == 0) bits = sign;
  else { /* subnormal: normalise the mantissa */
    e = 113;
    while (!(m & 0x400)) { m <<= 1; e--; }
    bits = sign | (e << 23) | ((m & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

#if defined(__x86_64__)
/* Named as the per-ISA kernels are (test/native-build.test.ts): AVX code, run only where the CPU has F16C and AVX. */
__attribute__((target("avx,f16c"))) static void widen_halves_avx2(const uint16_t *in, float *out, long n, long *done) {
  long i = 0;
  /* Eight at a time, each eight loaded before its floats are stored: in place, the stores reach only halves
   * already loaded (see widen_halves_in_place). */
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
  *done = i;
}
#endif

void widen_halves_in_place(float *values, long n) {
  /* The n halves lie in the upper half of the n floats' bytes. Float i covers bytes [4i, 4i + 4), which reach halves
   * j ≤ i only (half j starts at byte 2n + 2j ≥ 4i + 4 for j > i when i < n), so going up from 0 reads each half
   * before anything overwrites it. */
  const uint16_t *halves = (const uint16_t *)(values) + n;
  long i = 0;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx")) widen_halves_avx2(halves, values, n, &i);
#endif
  for (; i < n; i++) values[i] = half_value(halves[i]);
}
