// The packed GEMM micro-kernels against a naive product: both int8 kernels (SWAR and wide) on every platform, the
// AVX2 kernel where the CPU has it, lane-limit inputs (all -128), K across the SWAR chunk boundary, odd K (the AVX2
// kernel's unpaired last k), K across the driver's K block, partial panels, int32 wrap-around.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "check.h"
#include "gemm.h"
#include "naive_ref.h"
#include "test_util.h"

using namespace rcnn::systolic;
using namespace rcnn::systolic::detail;

template <class Kern>
static void run_case(int64_t M, int64_t N, int64_t K, int fill_mode, tu::Rng& rng, const char* name) {
  std::vector<int8_t> A(M * K), B(K * N);
  if (fill_mode == 0) {
    rng.fill(A);
    rng.fill(B);
  } else if (fill_mode == 1) {
    std::fill(A.begin(), A.end(), int8_t{-128});
    std::fill(B.begin(), B.end(), int8_t{-128});
  } else {
    std::fill(A.begin(), A.end(), int8_t{-128});
    std::fill(B.begin(), B.end(), int8_t{127});
  }
  std::vector<int32_t> C(M * N), init(M * N);
  rng.fill(init, -2147483647LL - 1, 2147483647LL);
  C = init;
  std::vector<const int8_t*> arows(M), krows(K);
  for (int64_t i = 0; i < M; ++i) arows[i] = A.data() + i * K;
  for (int64_t k = 0; k < K; ++k) krows[k] = B.data() + k * N;
  std::vector<int8_t> pa;
  pack_a_block(arows.data(), M, K, pa);
  PackedB<Kern> pb;
  std::vector<const int8_t*> tmp;
  pb.pack(krows.data(), K, N, tmp);
  gemm_packed<Kern>(pa.data(), M, pb, 0, pb.panels, C.data(), N);
  long bad = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      int64_t s = init[i * N + j];
      for (int64_t k = 0; k < K; ++k) s += static_cast<int64_t>(A[i * K + k]) * B[k * N + j];
      if (C[i * N + j] != ref::wrap32(s)) ++bad;
    }
  CHECK_EQ_CTX(bad, 0L, std::string(name) + " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" +
                            std::to_string(K) + " fill=" + std::to_string(fill_mode));
}

// The AVX2 kernel, forced, where this machine can run it.
static void run_avx2(int64_t M, int64_t N, int64_t K, int fill_mode, tu::Rng& rng) {
#if defined(RCNN_SYSTOLIC_HAVE_AVX2_KERNEL)
  if (resolve_kernel(KernelKind::Avx2) == KernelKind::Avx2) {
    run_case<Avx2Kernel>(M, N, K, fill_mode, rng, "avx2");
    return;
  }
#endif
  (void)M, (void)N, (void)K, (void)fill_mode, (void)rng;
}

int main() {
  tu::Rng rng(3);
#if defined(RCNN_SYSTOLIC_HAVE_AVX2_KERNEL)
  std::printf("avx2 kernel: %s\n", resolve_kernel(KernelKind::Avx2) == KernelKind::Avx2 ? "tested" : "cpu lacks avx2");
#endif
  const int64_t ks[] = {1, 2, 3, 61, 62, 63, 64, 124, 125, 496, 497, 1000, 1100};
  for (int64_t K : ks)
    for (int fill = 0; fill < 3; ++fill) {
      const int64_t M = rng.range(1, 13), N = rng.range(1, 30);
      run_case<SwarKernel>(M, N, K, fill, rng, "swar");
      run_case<WideKernel>(M, N, K, fill, rng, "wide");
      run_avx2(M, N, K, fill, rng);
    }
  // The AVX2 kernel: full 16-column panels and 4-row blocks (its vector store path) and partial ones, odd/even K
  // around the K block (512) and the old flush points, extreme values (wrap-around of the int32 sums).
  {
    const int64_t ks2[] = {1, 2, 3, 4, 5, 15, 16, 17, 511, 512, 513, 514, 1023, 1024, 1025, 2049};
    const int64_t ms[] = {1, 3, 4, 5, 8, 9};
    const int64_t ns[] = {1, 15, 16, 17, 32, 33};
    for (int64_t K : ks2)
      for (int fill = 0; fill < 3; ++fill) {
        run_avx2(ms[(K + fill) % 6], ns[(K * 7 + fill) % 6], K, fill, rng);
        run_avx2(4, 16, K, fill, rng);
      }
    // Long K with all -128: per-element sums of 2^14 * K exceed int32 (wrap) for K >= 2^17.
    run_avx2(4, 16, 140001, 1, rng);
    run_avx2(5, 17, 140000, 2, rng);
  }
  for (int i = 0; i < 40; ++i) {
    const int64_t M = rng.range(1, 40), N = rng.range(1, 40), K = rng.range(1, 300);
    run_case<SwarKernel>(M, N, K, 0, rng, "swar");
    run_case<WideKernel>(M, N, K, 0, rng, "wide");
    run_avx2(M, N, K, 0, rng);
  }
  // Float kernel: integer-valued data is exact.
  {
    const int64_t M = 7, N = 11, K = 33;
    std::vector<float> A(M * K), B(K * N), C(M * N, 1.0f);
    for (auto& v : A) v = static_cast<float>(rng.range(-20, 20));
    for (auto& v : B) v = static_cast<float>(rng.range(-20, 20));
    std::vector<const float*> arows(M), krows(K);
    for (int64_t i = 0; i < M; ++i) arows[i] = A.data() + i * K;
    for (int64_t k = 0; k < K; ++k) krows[k] = B.data() + k * N;
    std::vector<float> pa;
    pack_a_block(arows.data(), M, K, pa);
    PackedB<F32Kernel> pb;
    std::vector<const float*> tmp;
    pb.pack(krows.data(), K, N, tmp);
    gemm_packed<F32Kernel>(pa.data(), M, pb, 0, pb.panels, C.data(), N);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float s = 1.0f;
        for (int64_t k = 0; k < K; ++k) s += A[i * K + k] * B[k * N + j];
        CHECK_EQ(C[i * N + j], s);
      }
  }
  CHECK(resolve_kernel(KernelKind::Swar) == KernelKind::Swar);
  CHECK(resolve_kernel(KernelKind::Wide) == KernelKind::Wide);
  CHECK(resolve_kernel(KernelKind::Auto) != KernelKind::Auto);
  {
    const KernelKind r = resolve_kernel(KernelKind::Avx2);  // falls back to Wide where AVX2 cannot run
    CHECK(r == KernelKind::Avx2 || r == KernelKind::Wide);
#if !defined(RCNN_SYSTOLIC_HAVE_AVX2_KERNEL)
    CHECK(r == KernelKind::Wide);
#endif
  }
  return check::finish("systolic_kernels");
}
