// The AVX2 int8 micro-kernel (layout and exactness argument in kernels.h). Only this function is compiled for AVX2,
// through a target attribute, so no AVX2 code can leak into inline functions shared with other translation units;
// callers select it at run time (resolve_kernel in gemm.h). Compiles to nothing off x86-64.
#include "kernels.h"

#if defined(RCNN_SYSTOLIC_HAVE_AVX2_KERNEL)

#include <immintrin.h>

namespace rcnn::systolic::detail {

bool cpu_has_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

__attribute__((target("avx2"))) void Avx2Kernel::run(const int8_t* a, const Word* b, int64_t K, int32_t* C,
                                                     int64_t ldc, int rows, int cols) {
  __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
  __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
  __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
  __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
  const int64_t np = K / 2;
  for (int64_t p = 0; p < np; ++p) {
    // a[0..8) = rows 0..3 at k, then rows 0..3 at k + 1 -> int16 pairs (a[r][k], a[r][k + 1]), one dword per row.
    const __m128i a16 = _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)));
    const __m256i ap = _mm256_broadcastsi128_si256(_mm_unpacklo_epi16(a16, _mm_srli_si128(a16, 8)));
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    const __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
    const __m256i a0 = _mm256_shuffle_epi32(ap, 0x00);
    c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(a0, b0));
    c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(a0, b1));
    const __m256i a1 = _mm256_shuffle_epi32(ap, 0x55);
    c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(a1, b0));
    c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(a1, b1));
    const __m256i a2 = _mm256_shuffle_epi32(ap, 0xAA);
    c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(a2, b0));
    c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(a2, b1));
    const __m256i a3 = _mm256_shuffle_epi32(ap, 0xFF);
    c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(a3, b0));
    c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(a3, b1));
    a += 8;
    b += 32;
  }
  if (K % 2 != 0) {  // the unpaired last k: 16 plain bytes of B, products exact in int32
    const __m256i b0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b)));
    const __m256i b1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 8)));
    const __m256i a0 = _mm256_set1_epi32(a[0]), a1 = _mm256_set1_epi32(a[1]);
    const __m256i a2 = _mm256_set1_epi32(a[2]), a3 = _mm256_set1_epi32(a[3]);
    c00 = _mm256_add_epi32(c00, _mm256_mullo_epi32(a0, b0));
    c01 = _mm256_add_epi32(c01, _mm256_mullo_epi32(a0, b1));
    c10 = _mm256_add_epi32(c10, _mm256_mullo_epi32(a1, b0));
    c11 = _mm256_add_epi32(c11, _mm256_mullo_epi32(a1, b1));
    c20 = _mm256_add_epi32(c20, _mm256_mullo_epi32(a2, b0));
    c21 = _mm256_add_epi32(c21, _mm256_mullo_epi32(a2, b1));
    c30 = _mm256_add_epi32(c30, _mm256_mullo_epi32(a3, b0));
    c31 = _mm256_add_epi32(c31, _mm256_mullo_epi32(a3, b1));
  }
  const __m256i acc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
  if (cols == 16) {
    for (int r = 0; r < rows; ++r) {  // vpaddd wraps modulo 2^32 like wrap_add
      __m256i* c = reinterpret_cast<__m256i*>(C + r * ldc);
      _mm256_storeu_si256(c, _mm256_add_epi32(_mm256_loadu_si256(c), acc[r][0]));
      _mm256_storeu_si256(c + 1, _mm256_add_epi32(_mm256_loadu_si256(c + 1), acc[r][1]));
    }
    return;
  }
  alignas(32) int32_t s[16];
  for (int r = 0; r < rows; ++r) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(s), acc[r][0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(s + 8), acc[r][1]);
    int32_t* c = C + r * ldc;
    for (int cc = 0; cc < cols; ++cc) c[cc] = wrap_add(c[cc], s[cc]);
  }
}

}  // namespace rcnn::systolic::detail

#endif
