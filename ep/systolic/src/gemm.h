// Generic packed-GEMM driver pieces shared by matmul, conv and their tiled (OS/WS) executions, plus the output
// stages (int8 scaling, float ReLU) and the kernel dispatch. Internal header.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "systolic/numerics.h"
#include "systolic/types.h"

namespace rcnn::systolic::detail {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// K block of the driver: keeps one B panel slice and the A block in cache; a multiple of the SWAR chunk.
template <class Kern>
constexpr int64_t k_block() {
  return Kern::NR == SwarKernel::NR ? 8 * SwarKernel::kSwarChunk : 512;
}

// B packed into ceil(N / NR) panels covering all K.
template <class Kern>
struct PackedB {
  using In = typename Kern::In;
  using Word = typename Kern::Word;
  int64_t K = 0, N = 0, panels = 0;
  std::vector<Word> data;

  const Word* panel(int64_t p) const { return data.data() + p * K * Kern::kWordsPerK; }

  // B[k][c] = krows[k][c] for k < K, c < N. Panels [p_begin, p_end) only (callers may split the work); call
  // resize() first.
  void resize(int64_t k, int64_t n) {
    K = k;
    N = n;
    panels = ceil_div(n, Kern::NR);
    data.resize(static_cast<size_t>(panels * K * Kern::kWordsPerK));
  }
  void pack_panels(const In* const* krows, int64_t p_begin, int64_t p_end, std::vector<const In*>& tmp) {
    tmp.resize(static_cast<size_t>(K));
    for (int64_t p = p_begin; p < p_end; ++p) {
      const int64_t c0 = p * Kern::NR;
      for (int64_t k = 0; k < K; ++k) tmp[static_cast<size_t>(k)] = krows[k] + c0;
      const int ncols = static_cast<int>(std::min<int64_t>(Kern::NR, N - c0));
      Kern::pack_b_panel(tmp.data(), K, ncols, data.data() + p * K * Kern::kWordsPerK);
    }
  }
  void pack(const In* const* krows, int64_t k, int64_t n, std::vector<const In*>& tmp) {
    resize(k, n);
    pack_panels(krows, 0, panels, tmp);
  }
};

// A rows packed into ceil(M / kMR) panels of K (rows[i][0..K)).
template <class T>
void pack_a_block(const T* const* rows, int64_t M, int64_t K, std::vector<T>& out) {
  out.resize(static_cast<size_t>(ceil_div(M, kMR) * kMR * K));
  for (int64_t i = 0; i < M; i += kMR) {
    const int n = static_cast<int>(std::min<int64_t>(kMR, M - i));
    pack_a_panel(rows + i, n, K, out.data() + i * K);
  }
}

// Packed A block of M rows of depth K filled row by row: fill(r, dst, st) writes row r's element k to dst[k * st].
// With the SWAR kernel (scalar targets, where every byte moved costs instructions) rows go straight into their panel
// (st = kMR; no row copy + pack); other kernels fill rows (st = 1, block copies) and pack them (vectorized).
template <class Kern, class T, class Fill>
void fill_a_block_packed(int64_t M, int64_t K, std::vector<T>& out, std::vector<T>& rows_buf,
                         std::vector<const T*>& ptrs, const Fill& fill) {
  if constexpr (std::is_same<Kern, SwarKernel>::value) {
    (void)rows_buf;
    (void)ptrs;
    const int64_t panels = ceil_div(M, kMR);
    out.resize(static_cast<size_t>(panels * kMR * K));
    for (int64_t r = 0; r < M; ++r) fill(r, out.data() + r / kMR * kMR * K + r % kMR, int64_t{kMR});
    for (int64_t r = M; r < panels * kMR; ++r) {
      T* dst = out.data() + r / kMR * kMR * K + r % kMR;
      for (int64_t k = 0; k < K; ++k) dst[k * kMR] = T{};
    }
  } else {
    rows_buf.resize(static_cast<size_t>(M * K));
    ptrs.resize(static_cast<size_t>(M));
    for (int64_t r = 0; r < M; ++r) {
      T* row = rows_buf.data() + r * K;
      fill(r, row, int64_t{1});
      ptrs[static_cast<size_t>(r)] = row;
    }
    pack_a_block(ptrs.data(), M, K, out);
  }
}

// C[M x (columns of panels [p_begin, p_end))] += A * B. C points at column p_begin * NR's accumulator.
template <class Kern>
void gemm_packed(const typename Kern::In* pa, int64_t M, const PackedB<Kern>& pb, int64_t p_begin, int64_t p_end,
                 typename Kern::Acc* C, int64_t ldc) {
  const int64_t K = pb.K;
  constexpr int64_t KC = k_block<Kern>();
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = std::min(KC, K - k0);
    for (int64_t p = p_begin; p < p_end; ++p) {
      const int cols = static_cast<int>(std::min<int64_t>(Kern::NR, pb.N - p * Kern::NR));
      const typename Kern::Word* b = pb.panel(p) + k0 * Kern::kWordsPerK;
      typename Kern::Acc* cp = C + (p - p_begin) * Kern::NR;
      for (int64_t i = 0; i < M; i += kMR) {
        const int rows = static_cast<int>(std::min<int64_t>(kMR, M - i));
        Kern::run(pa + i * K + k0 * kMR, b, kc, cp + i * ldc, ldc, rows, cols);
      }
    }
  }
}

// Tiny GEMMs (depthwise-like convs: K = kernel taps, a handful of columns) lose most of their time to panel padding
// and SWAR decoding; they run as direct loops instead (exact: int8 products accumulate with uint32 wrap-around).
inline bool use_direct_gemm(int64_t K, int64_t N) { return K < 24 || N <= 2; }

template <class T>
struct DirectAcc {
  using Sum = T;
  static Sum prod(T a, T b) { return a * b; }
  static T add(T acc, Sum s) { return acc + s; }
};
template <>
struct DirectAcc<int8_t> {
  using Sum = uint32_t;
  static Sum prod(int8_t a, int8_t b) {
    return static_cast<uint32_t>(static_cast<int32_t>(a) * static_cast<int32_t>(b));
  }
  static int32_t add(int32_t acc, Sum s) { return wrap_add(acc, static_cast<int32_t>(s <= 0x7fffffffu ? static_cast<int32_t>(s) : -static_cast<int32_t>(~s) - 1)); }
};

// acc[r][c] (+)= sum_k rows[r][k] * krows[k][c], for r < M, c < N (acc row stride ld).
template <class T, class Acc>
void direct_gemm(const T* const* rows, int64_t M, int64_t K, const T* const* krows, int64_t N, Acc* acc, int64_t ld) {
  using DA = DirectAcc<T>;
  std::vector<typename DA::Sum> sums(static_cast<size_t>(N));
  for (int64_t r = 0; r < M; ++r) {
    std::fill(sums.begin(), sums.end(), typename DA::Sum{});
    const T* a = rows[r];
    for (int64_t k = 0; k < K; ++k) {
      const T av = a[k];
      if constexpr (std::is_same<T, int8_t>::value) {
        if (av == 0) continue;  // padding taps (exact for integers; floats keep 0 * inf semantics)
      }
      const T* b = krows[k];
      for (int64_t c = 0; c < N; ++c) sums[c] += DA::prod(av, b[c]);
    }
    Acc* out = acc + r * ld;
    for (int64_t c = 0; c < N; ++c) out[c] = DA::add(out[c], sums[c]);
  }
}

// Output stages: a row of accumulators -> output elements. `col0` is the output column (conv: output channel) of
// the row's first element, for per-column multipliers.
struct PostI8 {
  // One Requantizer for a per-tensor multiplier, else one per output column (built once per call).
  std::vector<Requantizer> rq;
  PostI8(float multiplier, bool relu) : rq{Requantizer(multiplier, relu)} {}
  // multipliers: null (use `multiplier`) or `columns` per-column values.
  PostI8(float multiplier, const float* multipliers, int64_t columns, int32_t y_zp, bool relu) {
    if (!multipliers) {
      rq.emplace_back(multiplier, y_zp, relu);
      return;
    }
    rq.reserve(static_cast<size_t>(columns));
    for (int64_t c = 0; c < columns; ++c) rq.emplace_back(multipliers[c], y_zp, relu);
  }
  bool per_column() const { return rq.size() > 1; }
  void row(const int32_t* acc, int64_t n, int64_t col0, int8_t* out) const {
    if (rq.size() == 1) {
      rq[0].apply(acc, n, out);
    } else {
      const Requantizer* r = rq.data() + col0;
      for (int64_t c = 0; c < n; ++c) out[c] = r[c](acc[c]);
    }
  }
};
struct PostF32 {
  bool relu;
  void row(const float* acc, int64_t n, int64_t /*col0*/, float* out) const {
    for (int64_t c = 0; c < n; ++c) out[c] = (relu && acc[c] < 0.0f) ? 0.0f : acc[c];
  }
};

// out[r][c] = post(acc[r][c]); column c is output column col0 + c.
template <class Acc, class Out, class Post>
void store_tile(const Acc* acc, int64_t lda, int64_t rows, int64_t cols, const Post& post, int64_t col0, Out* out,
                int64_t ldo) {
  for (int64_t r = 0; r < rows; ++r) post.row(acc + r * lda, cols, col0, out + r * ldo);
}

#if defined(RCNN_SYSTOLIC_HAVE_AVX2_KERNEL)
// Avx2Kernel::run may start at any even k of a panel (pair layout).
static_assert(k_block<Avx2Kernel>() % 2 == 0, "the AVX2 kernel needs an even K block");
#endif

// Which int8 kernel runs. Auto: SWAR on scalar targets (RISC-V without the V extension), AVX2 on x86-64 CPUs that
// have it, Wide elsewhere. Avx2 requested where it cannot run (other architectures, older CPUs) falls back to Wide.
inline KernelKind resolve_kernel(KernelKind k) {
#if defined(RCNN_SYSTOLIC_HAVE_AVX2_KERNEL)
  const bool avx2 = cpu_has_avx2();
#else
  const bool avx2 = false;
#endif
  if (k == KernelKind::Avx2) return avx2 ? k : KernelKind::Wide;
  if (k != KernelKind::Auto) return k;
#if defined(__riscv) && !defined(__riscv_vector)
  (void)avx2;
  return KernelKind::Swar;
#else
  return avx2 ? KernelKind::Avx2 : KernelKind::Wide;
#endif
}

// Calls f(Kern{}) with the kernel type for element type T.
template <class T, class F>
void with_kernel(KernelKind kind, F&& f) {
  if constexpr (std::is_same<T, float>::value) {
    (void)kind;
    f(F32Kernel{});
  } else {
    const KernelKind k = resolve_kernel(kind);
#if defined(RCNN_SYSTOLIC_HAVE_AVX2_KERNEL)
    if (k == KernelKind::Avx2) {
      f(Avx2Kernel{});
      return;
    }
#endif
    if (k == KernelKind::Swar) f(SwarKernel{});
    else f(WideKernel{});
  }
}

// Per-worker scratch vectors, grown on demand and reused across tiles.
template <class Kern>
struct GemmScratch {
  std::vector<typename Kern::In> a_rows;   // materialized (im2col) rows
  std::vector<const typename Kern::In*> a_ptrs;
  std::vector<typename Kern::In> a_packed;
  std::vector<const typename Kern::In*> b_ptrs;
  std::vector<const typename Kern::In*> b_tmp;
  PackedB<Kern> b_packed;
  std::vector<typename Kern::Acc> acc;
};

}  // namespace rcnn::systolic::detail
