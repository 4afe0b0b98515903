// Shared helpers of the op tests: seeded random data, configs under test, mode/kernel lists.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gemm.h"  // resolve_kernel (internal header: the tests see ep/systolic/src)
#include "systolic/config.h"
#include "systolic/types.h"

namespace tu {

using rcnn::systolic::AcceleratorConfig;
using rcnn::systolic::KernelKind;
using rcnn::systolic::Mode;

struct Rng {
  std::mt19937 g;
  explicit Rng(uint32_t seed) : g(seed) {}
  int64_t range(int64_t lo, int64_t hi) {  // inclusive, hi - lo < 2^63
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t draw = (static_cast<uint64_t>(g()) << 32) | g();
    return lo + static_cast<int64_t>(draw % span);
  }
  bool coin(int percent) { return range(0, 99) < percent; }
  void fill(std::vector<int8_t>& v, int lo = -128, int hi = 127) {
    for (auto& x : v) x = static_cast<int8_t>(range(lo, hi));
  }
  void fill(std::vector<int32_t>& v, int64_t lo, int64_t hi) {
    for (auto& x : v) x = static_cast<int32_t>(range(lo, hi));
  }
};

inline const std::vector<Mode>& modes() {
  static const std::vector<Mode> m = {Mode::CPU, Mode::OS, Mode::WS};
  return m;
}
// The int8 kernels this machine can run (Avx2 only on x86-64 CPUs with AVX2).
inline const std::vector<KernelKind>& kernels() {
  static const std::vector<KernelKind> k = [] {
    std::vector<KernelKind> v = {KernelKind::Swar, KernelKind::Wide};
    if (rcnn::systolic::detail::resolve_kernel(KernelKind::Avx2) == KernelKind::Avx2) v.push_back(KernelKind::Avx2);
    return v;
  }();
  return k;
}

// Configs exercised by the op tests: the default (DIM 16), DIM 4 and DIM 8 with small memories (many tiles,
// partial tiles everywhere), DIM 32.
inline std::vector<AcceleratorConfig> configs() {
  std::vector<AcceleratorConfig> out;
  out.push_back(AcceleratorConfig{});
  AcceleratorConfig c4 = AcceleratorConfig{}.with_dim(4);
  c4.sp_banks = 2;
  c4.sp_bank_rows = 256;
  c4.acc_rows = 64;
  c4.validate();
  out.push_back(c4);
  AcceleratorConfig c8 = AcceleratorConfig{}.with_dim(8);
  c8.sp_banks = 4;
  c8.sp_bank_rows = 128;
  c8.acc_rows = 128;
  c8.validate();
  out.push_back(c8);
  out.push_back(AcceleratorConfig{}.with_dim(32));
  return out;
}

// Multipliers from tiny (everything rounds to 0) to huge (everything saturates).
inline float random_multiplier(Rng& r) {
  switch (r.range(0, 5)) {
    case 0: return 1e-9f;
    case 1: return 1e3f;
    case 2: return 1.0f;
    case 3: return 0.5f;  // many exact ties
    default: return static_cast<float>(r.range(1, 1000)) / static_cast<float>(r.range(1000, 300000));
  }
}

inline std::string mode_str(Mode m) { return rcnn::systolic::mode_name(m); }

}  // namespace tu
