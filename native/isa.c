/* alocc compiled kernels: the per-ISA copies of gemm.c and conv.c, and which of them this CPU runs (see kernels.h).
 * This file is compiled for the baseline, so it runs anywhere; only the copy it hands out uses wider instructions. */
#include "kernels.h"

#define DECLARE_ISA(isa)                                                                                           \
  int conv_forward_##isa(const geometry *, const float *, const float *, const float *, float *, int, float);     \
  int conv_filter_grad_##isa(const geometry *, const float *, const float *, float *);                            \
  int conv_input_grad_##isa(const geometry *, const float *, const float *, float *);                             \
  int pooled_conv_forward_##isa(const geometry *, const float *, const float *, const float *, float, int, int, float *); \
  extern const int conv_vector_width_##isa;
#define ISA_ENTRY(isa) \
  {#isa, &conv_vector_width_##isa, conv_forward_##isa, conv_filter_grad_##isa, conv_input_grad_##isa, pooled_conv_forward_##isa}

/* x86-64 gets AVX-512 and AVX2 copies besides the baseline (SSE2); other architectures (aarch64: NEON through the
 * same vector extensions) the baseline only. The build script compiles exactly these. */
#if defined(__x86_64__)
DECLARE_ISA(avx512)
DECLARE_ISA(avx2)
#endif
DECLARE_ISA(baseline)

const isa_kernels ISAS[] = {
#if defined(__x86_64__)
    ISA_ENTRY(avx512),
    ISA_ENTRY(avx2),
#endif
    ISA_ENTRY(baseline),
};
const int ISA_COUNT = sizeof ISAS / sizeof ISAS[0];

int isa_supported(int i) {
  if (i < 0 || i >= ISA_COUNT) return 0;
#if defined(__x86_64__)
  /* __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV), not only CPUID. */
  __builtin_cpu_init();
  if (i == 0) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (i == 1) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return 1;
}
