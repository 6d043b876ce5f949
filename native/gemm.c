/* alocc compiled kernels: the GEMM (see kernels.h). */
#include "kernels.h"

/* ---- GEMM: C[M][N] (+)= A[M][K] · B[K][N]; A(i, k) = A[i*sa + k*sk]; N a multiple of VW. ---- */

static inline __attribute__((always_inline)) void micro(const int mr, const int nv, int K, const float *restrict A,
                                                        long sa, long sk, const float *restrict B, long ldb,
                                                        float *restrict C, long ldc, int accumulate) {
  vf c0[MR], c1[MR];
  for (int i = 0; i < mr; i++) {
    if (accumulate) {
      c0[i] = ld(C + i * ldc);
      if (nv > 1) c1[i] = ld(C + i * ldc + VW);
    } else {
      c0[i] = (vf){0};
      c1[i] = (vf){0};
    }
  }
  for (int k = 0; k < K; k++) {
    const float *b = B + (long)k * ldb;
    const float *a = A + (long)k * sk;
    vf b0 = ld(b), b1 = (vf){0};
    if (nv > 1) b1 = ld(b + VW);
    for (int i = 0; i < mr; i++) {
      float ai = a[i * sa];
      c0[i] += ai * b0;
      if (nv > 1) c1[i] += ai * b1;
    }
  }
  for (int i = 0; i < mr; i++) {
    st(C + i * ldc, c0[i]);
    if (nv > 1) st(C + i * ldc + VW, c1[i]);
  }
}

typedef void (*micro_fn)(int, const float *, long, long, const float *, long, float *, long, int);
#define MICRO(mr, nv)                                                                                              \
  static void micro_##mr##_##nv(int K, const float *A, long sa, long sk, const float *B, long ldb, float *C,      \
                                long ldc, int acc) {                                                            \
    micro(mr, nv, K, A, sa, sk, B, ldb, C, ldc, acc);                                                              \
  }
MICRO(1, 1) MICRO(2, 1) MICRO(3, 1) MICRO(4, 1) MICRO(1, 2) MICRO(2, 2) MICRO(3, 2) MICRO(4, 2)
#if MR > 4
MICRO(5, 1) MICRO(6, 1) MICRO(5, 2) MICRO(6, 2)
#endif
#if MR > 6
MICRO(7, 1) MICRO(8, 1) MICRO(7, 2) MICRO(8, 2)
#endif
static const micro_fn MICROS[MR + 1][3] = {
    {0, 0, 0},
    {0, micro_1_1, micro_1_2},
    {0, micro_2_1, micro_2_2},
    {0, micro_3_1, micro_3_2},
    {0, micro_4_1, micro_4_2},
#if MR > 4
    {0, micro_5_1, micro_5_2},
    {0, micro_6_1, micro_6_2},
#endif
#if MR > 6
    {0, micro_7_1, micro_7_2},
    {0, micro_8_1, micro_8_2},
#endif
};

void gemm(int M, int N, int K, const float *A, long sa, long sk, const float *B, long ldb, float *C, long ldc,
                 int accumulate) {
  for (int k0 = 0; k0 < K; k0 += KC) {
    int kc = imin(KC, K - k0);
    int acc = accumulate || k0 > 0;
    for (int j = 0; j < N; j += 2 * VW) {
      int nv = N - j >= 2 * VW ? 2 : 1;
      for (int i = 0; i < M; i += MR) {
        int mr = imin(MR, M - i);
        MICROS[mr][nv](kc, A + (long)i * sa + (long)k0 * sk, sa, sk, B + (long)k0 * ldb + j, ldb,
                       C + (long)i * ldc + j, ldc, acc);
      }
    }
  }
}
