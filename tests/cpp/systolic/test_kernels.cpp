// The packed GEMM micro-kernels against a naive product: both int8 kernels (SWAR and wide) on every platform,
// lane-limit inputs (all -128), K across the SWAR chunk boundary, partial panels, int32 wrap-around.
#include <cstdint>
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

int main() {
  tu::Rng rng(3);
  const int64_t ks[] = {1, 2, 3, 61, 62, 63, 64, 124, 125, 496, 497, 1000, 1100};
  for (int64_t K : ks)
    for (int fill = 0; fill < 3; ++fill) {
      const int64_t M = rng.range(1, 13), N = rng.range(1, 30);
      run_case<SwarKernel>(M, N, K, fill, rng, "swar");
      run_case<WideKernel>(M, N, K, fill, rng, "wide");
    }
  for (int i = 0; i < 40; ++i) {
    const int64_t M = rng.range(1, 40), N = rng.range(1, 40), K = rng.range(1, 300);
    run_case<SwarKernel>(M, N, K, 0, rng, "swar");
    run_case<WideKernel>(M, N, K, 0, rng, "wide");
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
  return check::finish("systolic_kernels");
}
