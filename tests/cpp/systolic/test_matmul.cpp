// matmul in all modes and with both int8 kernels against the naive reference on randomized shapes (odd sizes,
// sizes not multiple of DIM, I/J/K = 1, strides, bias none/per-column/full, ReLU, saturating and tiny
// multipliers), thread counts 1 vs 3, the event counters of the OS/WS tile walks, fp32 matmul, argument errors.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "check.h"
#include "naive_ref.h"
#include "systolic/matmul.h"
#include "systolic/thread_pool.h"
#include "systolic/tiling.h"
#include "test_util.h"

using namespace rcnn::systolic;

static uint64_t cdiv(int64_t a, int64_t b) { return static_cast<uint64_t>((a + b - 1) / b); }

static void check_counters(const AcceleratorConfig& cfg, Mode mode, const MatmulArgs& a, const Counters& c,
                           const std::string& ctx) {
  const uint64_t macs = static_cast<uint64_t>(a.I * a.J * a.K);
  CHECK_EQ_CTX(c.calls, 1u, ctx);
  CHECK_EQ_CTX(c.macs, macs, ctx);
  if (mode == Mode::CPU) {
    CHECK_EQ_CTX(c.padded_macs, macs, ctx);
    CHECK_EQ_CTX(c.cycles, 0u, ctx);
    CHECK_EQ_CTX(c.tiles, 0u, ctx);
    return;
  }
  const int64_t D = cfg.dim;
  const MatmulTiles t = choose_matmul_tiles(cfg, mode, a.I, a.J, a.K);
  const uint64_t nI0 = cdiv(a.I, t.tI * D), nJ0 = cdiv(a.J, t.tJ * D), nK0 = cdiv(a.K, t.tK * D);
  const uint64_t bI = cdiv(a.I, D), bJ = cdiv(a.J, D), bK = cdiv(a.K, D);
  const uint64_t computes = bI * bJ * bK;
  CHECK_EQ_CTX(c.tiles, nI0 * nJ0 * nK0, ctx);
  CHECK_EQ_CTX(c.computes(), computes, ctx);
  CHECK_EQ_CTX(c.preloads, computes, ctx);
  CHECK_EQ_CTX(c.compute_preloaded, mode == Mode::OS ? bI * bJ * nK0 : bJ * bK * nI0, ctx);
  CHECK_EQ_CTX(c.padded_macs, computes * static_cast<uint64_t>(D * D * D), ctx);
  CHECK(c.padded_macs >= c.macs);
  CHECK_EQ_CTX(c.mvout_bytes, static_cast<uint64_t>(a.I * a.J), ctx);
  CHECK_EQ_CTX(c.mvout_cmds, bI * bJ, ctx);
  CHECK_EQ_CTX(c.mvin_acc_bytes, a.bias_kind == BiasKind::None ? 0u : static_cast<uint64_t>(4 * a.I * a.J), ctx);
  CHECK_EQ_CTX(c.mvin_sp_bytes, static_cast<uint64_t>(a.I * a.K) * nJ0 + static_cast<uint64_t>(a.K * a.J) * nI0, ctx);
  CHECK_MSG(c.cycles >= static_cast<uint64_t>(D) * computes, ctx);
}

int main() {
  tu::Rng rng(42);
  ThreadPool pool3(3);
  const auto cfgs = tu::configs();
  int case_no = 0;
  for (size_t ci = 0; ci < cfgs.size(); ++ci) {
    const AcceleratorConfig& cfg = cfgs[ci];
    const int n_cases = ci == 0 ? 60 : 20;
    for (int n = 0; n < n_cases; ++n, ++case_no) {
      MatmulArgs a;
      const int64_t big = (n % 5 == 0) ? 150 : 40;
      a.I = (n % 7 == 1) ? 1 : rng.range(1, big);
      a.J = (n % 7 == 2) ? 1 : rng.range(1, big);
      a.K = (n % 7 == 3) ? 1 : rng.range(1, big + (n % 9 == 0 ? 400 : 0));
      a.lda = a.K + (rng.coin(30) ? rng.range(1, 5) : 0);
      a.ldb = a.J + (rng.coin(30) ? rng.range(1, 5) : 0);
      a.ldc = a.J + (rng.coin(30) ? rng.range(1, 5) : 0);
      std::vector<int8_t> A(a.I * a.lda), B(a.K * a.ldb);
      rng.fill(A);
      rng.fill(B);
      const int bias_kind = static_cast<int>(rng.range(0, 2));
      std::vector<int32_t> bias(bias_kind == 2 ? a.I * a.J : a.J);
      rng.fill(bias, rng.coin(20) ? -2147483647LL - 1 : -100000, rng.coin(20) ? 2147483647LL : 100000);
      a.bias_kind = bias_kind == 0 ? BiasKind::None : (bias_kind == 1 ? BiasKind::PerColumn : BiasKind::Full);
      a.bias = bias.data();
      a.multiplier = tu::random_multiplier(rng);
      a.relu = rng.coin(50);
      a.A = A.data();
      a.B = B.data();
      std::vector<int8_t> expect(a.I * a.ldc, int8_t{99});
      ref::matmul(a.I, a.J, a.K, A.data(), a.lda, B.data(), a.ldb, bias_kind, bias.data(), a.multiplier, a.relu,
                  expect.data(), a.ldc);
      for (Mode mode : tu::modes())
        for (KernelKind kk : tu::kernels())
          for (int threads : {1, 3}) {
            std::vector<int8_t> C(a.I * a.ldc, int8_t{99});  // padding columns must stay untouched
            a.C = C.data();
            ExecOptions opt;
            opt.kernel = kk;
            opt.pool = threads == 3 ? &pool3 : nullptr;
            const std::string ctx = "case " + std::to_string(case_no) + " dim=" + std::to_string(cfg.dim) + " " +
                                    tu::mode_str(mode) + " k" + std::to_string(static_cast<int>(kk)) + " t" +
                                    std::to_string(threads) + " I=" + std::to_string(a.I) + " J=" +
                                    std::to_string(a.J) + " K=" + std::to_string(a.K);
            const Counters c = matmul(cfg, mode, a, opt);
            CHECK_MSG(C == expect, ctx);
            check_counters(cfg, mode, a, c, ctx);
          }
    }
  }

  // Exact int32 wrap-around through the full pipeline: K large enough to overflow int32 with extreme values.
  {
    MatmulArgs a;
    a.I = 3;
    a.J = 5;
    a.K = 140000;  // 140000 * 16384 > 2^31
    std::vector<int8_t> A(a.I * a.K, int8_t{-128}), B(a.K * a.J, int8_t{-128});
    a.A = A.data();
    a.B = B.data();
    std::vector<int32_t> bias(a.J, 2147483000);
    a.bias_kind = BiasKind::PerColumn;
    a.bias = bias.data();
    std::vector<int8_t> expect(a.I * a.J);
    a.multiplier = 1e-6f;
    ref::matmul(a.I, a.J, a.K, A.data(), a.K, B.data(), a.J, 1, bias.data(), a.multiplier, false, expect.data(), a.J);
    for (Mode mode : tu::modes())
      for (KernelKind kk : tu::kernels()) {
        std::vector<int8_t> C(a.I * a.J);
        a.C = C.data();
        ExecOptions opt;
        opt.kernel = kk;
        matmul(AcceleratorConfig{}, mode, a, opt);
        CHECK_MSG(C == expect, "wrap " + tu::mode_str(mode));
      }
  }

  // fp32: integer-valued data is exact in every mode; random data agrees within float rounding.
  {
    const AcceleratorConfig fcfg = AcceleratorConfig::fp32_defaults();
    for (int n = 0; n < 12; ++n) {
      MatmulF32Args a;
      a.I = rng.range(1, 70);
      a.J = rng.range(1, 70);
      a.K = rng.range(1, 200);
      const bool integral = n % 2 == 0;
      std::vector<float> A(a.I * a.K), B(a.K * a.J), bias(a.J);
      auto val = [&]() {
        return integral ? static_cast<float>(rng.range(-8, 8)) : static_cast<float>(rng.range(-1000, 1000)) / 337.0f;
      };
      for (auto& v : A) v = val();
      for (auto& v : B) v = val();
      for (auto& v : bias) v = val();
      a.A = A.data();
      a.B = B.data();
      a.bias_kind = BiasKind::PerColumn;
      a.bias = bias.data();
      a.relu = n % 3 == 0;
      std::vector<double> expect(a.I * a.J);
      for (int64_t i = 0; i < a.I; ++i)
        for (int64_t j = 0; j < a.J; ++j) {
          double s = bias[j];
          for (int64_t k = 0; k < a.K; ++k) s += static_cast<double>(A[i * a.K + k]) * B[k * a.J + j];
          expect[i * a.J + j] = (a.relu && s < 0) ? 0.0 : s;
        }
      for (Mode mode : tu::modes()) {
        std::vector<float> C(a.I * a.J);
        a.C = C.data();
        const Counters c = matmul_f32(fcfg, mode, a, ExecOptions{&pool3, KernelKind::Auto});
        CHECK_EQ(c.macs, static_cast<uint64_t>(a.I * a.J * a.K));
        double worst = 0;
        for (size_t i = 0; i < C.size(); ++i) worst = std::max(worst, std::fabs(C[i] - expect[i]));
        if (integral) CHECK_MSG(worst == 0.0, "fp32 integral " + tu::mode_str(mode));
        else CHECK_MSG(worst < 1e-3, "fp32 " + tu::mode_str(mode) + " err " + std::to_string(worst));
      }
    }
  }

  // Cycle estimate: the documented formula, growth with the problem, no growth with a faster DMA.
  {
    const AcceleratorConfig cfg;
    AcceleratorConfig fast_dma = cfg;
    fast_dma.dma_bytes_per_cycle = 64;
    std::vector<int8_t> A(512 * 512, 3), B(512 * 512, -2), C(512 * 512);
    auto run = [&](const AcceleratorConfig& c, Mode mode, int64_t I, int64_t J, int64_t K) {
      MatmulArgs a;
      a.I = I;
      a.J = J;
      a.K = K;
      a.A = A.data();
      a.B = B.data();
      a.C = C.data();
      return matmul(c, mode, a);
    };
    for (Mode mode : {Mode::OS, Mode::WS}) {
      uint64_t prev = 0;
      for (int64_t n : {8, 16, 32, 64, 128, 256, 512}) {
        const Counters c = run(cfg, mode, n, n, n);
        CHECK_MSG(c.cycles > prev, tu::mode_str(mode) + " n=" + std::to_string(n));
        prev = c.cycles;
        const uint64_t D = static_cast<uint64_t>(cfg.dim);
        const uint64_t compute = D * (c.computes() + c.compute_preloaded);
        const uint64_t bytes = c.mvin_sp_bytes + c.mvin_acc_bytes + c.mvout_bytes;
        const uint64_t dma = (bytes + 15) / 16;
        if (mode == Mode::OS) CHECK_EQ(c.cycles, compute + dma);
        else CHECK_EQ(c.cycles, std::max(compute, dma) + (dma + c.tiles - 1) / c.tiles);
        CHECK(run(fast_dma, mode, n, n, n).cycles <= c.cycles);
        CHECK(run(cfg, mode, 2 * n > 512 ? n : 2 * n, n, n).cycles >= c.cycles);
        CHECK(run(cfg, mode, n, n, 2 * n > 512 ? n : 2 * n).cycles >= c.cycles);
      }
    }
    // A larger array does the same work in fewer compute commands.
    CHECK(run(cfg.with_dim(32), Mode::WS, 256, 256, 256).computes() < run(cfg, Mode::WS, 256, 256, 256).computes());
  }

  // Argument and config errors.
  {
    std::vector<int8_t> A(16), B(16), C(16);
    MatmulArgs a;
    a.I = a.J = a.K = 4;
    a.A = A.data();
    a.B = B.data();
    a.C = C.data();
    CHECK_THROWS(matmul(AcceleratorConfig::fp32_defaults(), Mode::CPU, a), Error);
    MatmulArgs bad = a;
    bad.I = 0;
    CHECK_THROWS(matmul(AcceleratorConfig{}, Mode::WS, bad), Error);
    bad = a;
    bad.A = nullptr;
    CHECK_THROWS(matmul(AcceleratorConfig{}, Mode::OS, bad), Error);
    bad = a;
    bad.lda = 2;
    CHECK_THROWS(matmul(AcceleratorConfig{}, Mode::CPU, bad), Error);
    bad = a;
    bad.bias_kind = BiasKind::Full;
    CHECK_THROWS(matmul(AcceleratorConfig{}, Mode::CPU, bad), Error);
    bad = a;
    bad.multiplier = std::nanf("");
    CHECK_THROWS(matmul(AcceleratorConfig{}, Mode::CPU, bad), Error);
    AcceleratorConfig broken;
    broken.dim = 3;
    CHECK_THROWS(matmul(broken, Mode::CPU, a), Error);
  }
  return check::finish("systolic_matmul");
}
