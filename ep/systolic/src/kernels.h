// Packed GEMM micro-kernels: C[rows x cols] (+)= A_panel * B_panel over a k range, for int8 (two variants) and
// float. Internal header (not installed); tests include it to check every kernel against a naive product.
//
// Panel formats (shared by all kernels of one element type, so packers and drivers are generic):
//   A panel: kMR = 4 rows, k-major: a[k * 4 + r]; rows beyond the matrix are zero.
//   B panel: Kern::NR columns, k-major: Kern::kWordsPerK words per k (layout below); columns beyond are zero.
// A k range [k0, k0 + kc) of a panel starts at a + k0 * 4 and b + k0 * kWordsPerK, so K can be blocked for the
// cache without repacking.
//
// SwarKernel (int8, for scalar 64-bit targets such as rv64gc): each 64-bit word of B holds 3 columns as 21-bit
// two's-complement lanes, w = b0 + b1 * 2^21 + b2 * 2^42 (mod 2^64). One 64-bit multiply by a sign-extended a then
// adds a*b0, a*b1, a*b2 to the three lanes at once (carries between lanes are exact in the modular sum and are
// undone when decoding). A lane sum stays inside 21 bits for up to 63 products (63 * 2^14 < 2^20), so the kernel
// decodes and flushes into int32 every kSwarChunk = 62 k steps. 4 rows x 3 words = 36 MACs for 12 mul + 12 add +
// 7 loads: about 1 instruction per MAC on rv64gc, against about 4 for a plain int32 loop.
//
// WideKernel (int8, for SIMD hosts): int32 accumulators over int8 panels, 4 x 8 register block; GCC vectorizes the
// column loop (SSE2 on x86-64). Partial sums stay below 2^31 by flushing every 65536 k steps (|a*b| <= 2^14).
//
// Avx2Kernel (int8, x86-64 hosts whose CPU has AVX2; chosen at run time): 4 x 16 register block of int32
// accumulators. B is packed in k pairs, (b[k][c], b[k+1][c]) adjacent for each column, and A's two k values of a row
// form one int16 pair, so a single vpmaddwd multiplies and pair-sums 16 products exactly (|sum| <= 2 * 2^14).
// The int32 accumulation wraps (vpaddd), so no flushing is needed. Defined in kernels_avx2.cpp (compiled for AVX2
// via a function target attribute only); declared on x86-64 builds alone.
//
// All int8 kernels add into C with wrap-around int32 arithmetic (numerics.h wrap_add), so results are exact and
// independent of the blocking: integer addition modulo 2^32 is associative.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "systolic/numerics.h"

// The micro-kernels are kept out of line: inlined into a large caller, GCC's register allocation of the 12 SWAR
// accumulators can degrade into spills in the inner loop (seen on rv64gc), and a call per panel costs nothing.
#if defined(__GNUC__)
#define RCNN_SYSTOLIC_NOINLINE __attribute__((noinline))
#else
#define RCNN_SYSTOLIC_NOINLINE
#endif

namespace rcnn::systolic::detail {

constexpr int kMR = 4;

// ---- A packing (common) ----------------------------------------------------------------------------------------

// Packs rows r < nrows (row r = rows[r][0..K)) into a kMR-row panel: out[k * 4 + r]. Missing rows are zero.
template <class T>
void pack_a_panel(const T* const* rows, int nrows, int64_t K, T* out) {
  if (nrows == kMR) {
    const T* r0 = rows[0];
    const T* r1 = rows[1];
    const T* r2 = rows[2];
    const T* r3 = rows[3];
    for (int64_t k = 0; k < K; ++k) {
      out[4 * k + 0] = r0[k];
      out[4 * k + 1] = r1[k];
      out[4 * k + 2] = r2[k];
      out[4 * k + 3] = r3[k];
    }
    return;
  }
  for (int64_t k = 0; k < K; ++k)
    for (int r = 0; r < kMR; ++r) out[4 * k + r] = r < nrows ? rows[r][k] : T{};
}

// ---- SWAR int8 kernel ------------------------------------------------------------------------------------------

struct SwarKernel {
  using In = int8_t;
  using Acc = int32_t;
  using Word = uint64_t;
  static constexpr int NR = 9;
  static constexpr int kWordsPerK = 3;
  static constexpr int64_t kSwarChunk = 62;

  // Packs columns [0, ncols) of the K rows (krows[k][c]) into one panel.
  static void pack_b_panel(const int8_t* const* krows, int64_t K, int ncols, Word* out) {
    for (int64_t k = 0; k < K; ++k) {
      const int8_t* row = krows[k];
      for (int w = 0; w < 3; ++w) {
        uint64_t word = 0;
        for (int l = 0; l < 3; ++l) {
          const int c = 3 * w + l;
          const int64_t v = c < ncols ? row[c] : 0;
          word += static_cast<uint64_t>(v) << (21 * l);  // modular: negative lanes borrow from the next lane
        }
        out[3 * k + w] = word;
      }
    }
  }

  static int64_t sext(uint64_t v, int bits) {
    // Implementation-defined (not UB) before C++20 and arithmetic on GCC/Clang: the conversion is modular and >>
    // of a negative value shifts in sign bits.
    return static_cast<int64_t>(v << (64 - bits)) >> (64 - bits);
  }

  // C[r * ldc + c] = wrap(C + sum_k a[k][r] * b[k][c]) for r < rows, c < cols.
  RCNN_SYSTOLIC_NOINLINE static void run(const int8_t* a, const Word* b, int64_t K, int32_t* C, int64_t ldc, int rows, int cols) {
    int64_t k = 0;
    while (k < K) {
      const int64_t kc = std::min(kSwarChunk, K - k);
      uint64_t s00 = 0, s01 = 0, s02 = 0, s10 = 0, s11 = 0, s12 = 0;
      uint64_t s20 = 0, s21 = 0, s22 = 0, s30 = 0, s31 = 0, s32 = 0;
      for (int64_t kk = 0; kk < kc; ++kk) {
        const uint64_t a0 = static_cast<uint64_t>(static_cast<int64_t>(a[0]));
        const uint64_t a1 = static_cast<uint64_t>(static_cast<int64_t>(a[1]));
        const uint64_t a2 = static_cast<uint64_t>(static_cast<int64_t>(a[2]));
        const uint64_t a3 = static_cast<uint64_t>(static_cast<int64_t>(a[3]));
        const uint64_t b0 = b[0], b1 = b[1], b2 = b[2];
        s00 += a0 * b0;
        s01 += a0 * b1;
        s02 += a0 * b2;
        s10 += a1 * b0;
        s11 += a1 * b1;
        s12 += a1 * b2;
        s20 += a2 * b0;
        s21 += a2 * b1;
        s22 += a2 * b2;
        s30 += a3 * b0;
        s31 += a3 * b1;
        s32 += a3 * b2;
        a += 4;
        b += 3;
      }
      const uint64_t s[4][3] = {{s00, s01, s02}, {s10, s11, s12}, {s20, s21, s22}, {s30, s31, s32}};
      for (int r = 0; r < rows; ++r) {
        int32_t* c = C + r * ldc;
        int32_t lanes[9];
        for (int w = 0; w < 3; ++w) {
          uint64_t v = s[r][w];
          const int64_t l0 = sext(v, 21);
          v = (v - static_cast<uint64_t>(l0)) >> 21;
          const int64_t l1 = sext(v, 21);
          v = (v - static_cast<uint64_t>(l1)) >> 21;
          const int64_t l2 = sext(v, 22);
          lanes[3 * w + 0] = static_cast<int32_t>(l0);  // |lane| < 2^20: exact
          lanes[3 * w + 1] = static_cast<int32_t>(l1);
          lanes[3 * w + 2] = static_cast<int32_t>(l2);
        }
        for (int cc = 0; cc < cols; ++cc) c[cc] = wrap_add(c[cc], lanes[cc]);
      }
      k += kc;
    }
  }
};

// ---- Wide int8 kernel ------------------------------------------------------------------------------------------

struct WideKernel {
  using In = int8_t;
  using Acc = int32_t;
  using Word = int8_t;
  static constexpr int NR = 8;
  static constexpr int kWordsPerK = 8;
  static constexpr int64_t kChunk = 65536;  // 65536 * 2^14 = 2^30 < 2^31: partial sums never overflow

  static void pack_b_panel(const int8_t* const* krows, int64_t K, int ncols, Word* out) {
    for (int64_t k = 0; k < K; ++k) {
      const int8_t* row = krows[k];
      int c = 0;
      for (; c < ncols; ++c) out[8 * k + c] = row[c];
      for (; c < 8; ++c) out[8 * k + c] = 0;
    }
  }

  RCNN_SYSTOLIC_NOINLINE static void run(const int8_t* a, const Word* b, int64_t K, int32_t* C, int64_t ldc, int rows, int cols) {
    int64_t k = 0;
    while (k < K) {
      const int64_t kc = std::min(kChunk, K - k);
      int32_t s[4][8] = {};
      for (int64_t kk = 0; kk < kc; ++kk) {
        for (int r = 0; r < 4; ++r) {
          const int32_t ar = a[r];
          for (int c = 0; c < 8; ++c) s[r][c] += ar * static_cast<int32_t>(b[c]);
        }
        a += 4;
        b += 8;
      }
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) C[r * ldc + c] = wrap_add(C[r * ldc + c], s[r][c]);
      k += kc;
    }
  }
};

// ---- AVX2 int8 kernel (x86-64 only) --------------------------------------------------------------------------

#if defined(__x86_64__) && defined(__GNUC__)
#define RCNN_SYSTOLIC_HAVE_AVX2_KERNEL 1

// True when the CPU (and OS) support AVX2.
bool cpu_has_avx2();

struct Avx2Kernel {
  using In = int8_t;
  using Acc = int32_t;
  using Word = int8_t;
  static constexpr int NR = 16;
  static constexpr int kWordsPerK = 16;

  // Layout: for each k pair p < K / 2, 32 bytes out[32 p + 2 c + j] = b[2 p + j][c]; if K is odd, the last k follows
  // unpaired as 16 bytes out[32 (K / 2) + c] = b[K - 1][c]. A k range of the panel must start at an even k (the
  // driver's K block is even), so it starts on a pair boundary.
  static void pack_b_panel(const int8_t* const* krows, int64_t K, int ncols, Word* out) {
    const int64_t np = K / 2;
    for (int64_t p = 0; p < np; ++p) {
      const int8_t* r0 = krows[2 * p];
      const int8_t* r1 = krows[2 * p + 1];
      int8_t* o = out + 32 * p;
      int c = 0;
      for (; c < ncols; ++c) {
        o[2 * c] = r0[c];
        o[2 * c + 1] = r1[c];
      }
      for (; c < 16; ++c) o[2 * c] = o[2 * c + 1] = 0;
    }
    if (K % 2 != 0) {
      const int8_t* row = krows[K - 1];
      int8_t* o = out + 32 * np;
      int c = 0;
      for (; c < ncols; ++c) o[c] = row[c];
      for (; c < 16; ++c) o[c] = 0;
    }
  }

  // C[r * ldc + c] = wrap(C + sum_k a[k][r] * b[k][c]) for r < rows, c < cols. Only call when cpu_has_avx2().
  RCNN_SYSTOLIC_NOINLINE static void run(const int8_t* a, const Word* b, int64_t K, int32_t* C, int64_t ldc, int rows,
                                         int cols);
};
#endif

// ---- float kernel ----------------------------------------------------------------------------------------------

struct F32Kernel {
  using In = float;
  using Acc = float;
  using Word = float;
  static constexpr int NR = 8;
  static constexpr int kWordsPerK = 8;

  static void pack_b_panel(const float* const* krows, int64_t K, int ncols, Word* out) {
    for (int64_t k = 0; k < K; ++k) {
      const float* row = krows[k];
      int c = 0;
      for (; c < ncols; ++c) out[8 * k + c] = row[c];
      for (; c < 8; ++c) out[8 * k + c] = 0.0f;
    }
  }

  RCNN_SYSTOLIC_NOINLINE static void run(const float* a, const Word* b, int64_t K, float* C, int64_t ldc, int rows, int cols) {
    float s[4][8] = {};
    for (int64_t k = 0; k < K; ++k) {
      for (int r = 0; r < 4; ++r) {
        const float ar = a[r];
        for (int c = 0; c < 8; ++c) s[r][c] += ar * b[c];
      }
      a += 4;
      b += 8;
    }
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) C[r * ldc + c] += s[r][c];
  }
};

}  // namespace rcnn::systolic::detail
