// conv2d in all modes and with both int8 kernels against the naive reference on randomized shapes: odd and
// non-square images and kernels, stride, dilation, asymmetric pads, groups, depthwise with channel multiplier,
// pointwise fast path, fused ReLU, fused max-pool (zero and ignore padding, with and without ReLU), bias present and
// absent, saturating and tiny multipliers; thread counts 1 vs 3; counters; fp32 conv; argument errors.
#include <cmath>
#include <string>
#include <vector>

#include "check.h"
#include "naive_ref.h"
#include "systolic/conv.h"
#include "systolic/thread_pool.h"
#include "test_util.h"

using namespace rcnn::systolic;

static ref::Conv to_ref(const ConvShape& s) {
  ref::Conv p;
  p.N = s.batch;
  p.H = s.in_h;
  p.W = s.in_w;
  p.C = s.in_ch;
  p.OC = s.out_ch;
  p.KH = s.kernel_h;
  p.KW = s.kernel_w;
  p.SH = s.stride_h;
  p.SW = s.stride_w;
  p.DH = s.dil_h;
  p.DW = s.dil_w;
  p.PT = s.pad_top;
  p.PL = s.pad_left;
  p.PB = s.pad_bottom;
  p.PR = s.pad_right;
  p.G = s.groups;
  p.pool = s.pool.enabled;
  p.pkh = s.pool.kh;
  p.pkw = s.pool.kw;
  p.psh = s.pool.sh;
  p.psw = s.pool.sw;
  p.ppt = s.pool.pad_top;
  p.ppl = s.pool.pad_left;
  p.ppb = s.pool.pad_bottom;
  p.ppr = s.pool.pad_right;
  p.pool_zero_pad = s.pool.padding == PoolPadding::Zero;
  return p;
}

static std::string describe(const ConvShape& s) {
  auto n = [](int64_t v) { return std::to_string(v); };
  std::string d = "N" + n(s.batch) + " " + n(s.in_h) + "x" + n(s.in_w) + "x" + n(s.in_ch) + "->" + n(s.out_ch) +
                  " k" + n(s.kernel_h) + "x" + n(s.kernel_w) + " s" + n(s.stride_h) + "," + n(s.stride_w) + " d" +
                  n(s.dil_h) + "," + n(s.dil_w) + " p" + n(s.pad_top) + "," + n(s.pad_left) + "," + n(s.pad_bottom) +
                  "," + n(s.pad_right) + " g" + n(s.groups);
  if (s.pool.enabled)
    d += " pool" + n(s.pool.kh) + "x" + n(s.pool.kw) + "/" + n(s.pool.sh) + "," + n(s.pool.sw) + " pp" +
         n(s.pool.pad_top) + "," + n(s.pool.pad_left) + "," + n(s.pool.pad_bottom) + "," + n(s.pool.pad_right) +
         (s.pool.padding == PoolPadding::Zero ? "z" : "i");
  return d;
}

static ConvShape random_shape(tu::Rng& r, int n) {
  for (;;) {
    ConvShape s;
    s.batch = r.coin(25) ? 2 : 1;
    s.in_h = r.range(1, n % 4 == 0 ? 30 : 14);
    s.in_w = r.coin(30) ? s.in_h : r.range(1, n % 4 == 0 ? 30 : 14);
    const int64_t kind = r.range(0, 9);
    if (kind <= 4) {  // ordinary
      s.in_ch = r.range(1, 40);
      s.out_ch = r.range(1, 40);
    } else if (kind <= 6) {  // grouped
      s.groups = r.range(2, 4);
      s.in_ch = s.groups * r.range(1, 12);
      s.out_ch = s.groups * r.range(1, 12);
    } else {  // depthwise, channel multiplier 1..3
      s.in_ch = r.range(1, 24);
      s.groups = s.in_ch;
      s.out_ch = s.in_ch * (r.coin(60) ? 1 : r.range(2, 3));
    }
    s.kernel_h = r.range(1, 5);
    s.kernel_w = r.coin(40) ? s.kernel_h : r.range(1, 5);
    s.stride_h = r.range(1, 3);
    s.stride_w = r.coin(50) ? s.stride_h : r.range(1, 3);
    s.dil_h = r.coin(20) ? 2 : 1;
    s.dil_w = r.coin(20) ? r.range(2, 3) : 1;
    s.pad_top = r.range(0, 3);
    s.pad_left = r.range(0, 3);
    s.pad_bottom = r.coin(50) ? s.pad_top : r.range(0, 3);
    s.pad_right = r.coin(50) ? s.pad_left : r.range(0, 3);
    if (r.coin(30)) {
      s.pool.enabled = true;
      s.pool.kh = r.range(1, 3);
      s.pool.kw = r.range(1, 3);
      s.pool.sh = r.range(1, 2);
      s.pool.sw = r.range(1, 2);
      s.pool.pad_top = r.range(0, s.pool.kh - 1);
      s.pool.pad_left = r.range(0, s.pool.kw - 1);
      s.pool.pad_bottom = r.range(0, s.pool.kh - 1);
      s.pool.pad_right = r.range(0, s.pool.kw - 1);
      s.pool.padding = r.coin(50) ? PoolPadding::Zero : PoolPadding::Ignore;
    }
    try {
      s.validate();
      return s;
    } catch (const Error&) {
    }
  }
}

static void run_case(const std::vector<AcceleratorConfig>& cfgs, ThreadPool& pool, tu::Rng& r, const ConvShape& s,
                     bool relu, bool with_bias, float mult, const std::string& tag) {
  std::vector<int8_t> x(s.input_elems()), w(s.weight_elems());
  r.fill(x);
  r.fill(w);
  std::vector<int32_t> bias(s.out_ch);
  r.fill(bias, -30000, 30000);
  const int32_t* b = with_bias ? bias.data() : nullptr;
  const ref::Conv rp = to_ref(s);
  auto post = [&](int32_t bv, int64_t si, double) { return ref::requant(ref::wrap32(si + bv), mult, relu); };
  const std::vector<int8_t> expect = ref::conv<int8_t, int32_t>(rp, x.data(), w.data(), b, post);
  CHECK_EQ(static_cast<int64_t>(expect.size()), s.output_elems());
  const std::string base = tag + " " + describe(s) + (relu ? " relu" : "") + (with_bias ? " bias" : "") +
                           " m=" + std::to_string(mult);
  for (size_t ci = 0; ci < cfgs.size(); ++ci) {
    const AcceleratorConfig& cfg = cfgs[ci];
    for (Mode mode : tu::modes()) {
      if (ci > 0 && mode == Mode::CPU) continue;  // CPU ignores the config
      for (KernelKind kk : tu::kernels())
        for (int threads : {1, 3}) {
          if (ci > 0 && (threads == 3 || kk == KernelKind::Wide || kk == KernelKind::Avx2)) continue;  // keep the run short
          ConvArgs a;
          a.shape = s;
          a.input = x.data();
          a.weights = w.data();
          a.bias = b;
          a.multiplier = mult;
          a.relu = relu;
          std::vector<int8_t> out(s.output_elems(), int8_t{77});
          a.output = out.data();
          ExecOptions opt;
          opt.kernel = kk;
          opt.pool = threads == 3 ? &pool : nullptr;
          const std::string ctx = base + " dim=" + std::to_string(cfg.dim) + " " + tu::mode_str(mode) + " k" +
                                  std::to_string(static_cast<int>(kk)) + " t" + std::to_string(threads);
          Counters c;
          try {
            c = conv2d(cfg, mode, a, opt);
          } catch (const std::exception& e) {
            CHECK_MSG(false, ctx + " threw " + e.what());
            continue;
          }
          CHECK_MSG(out == expect, ctx);
          CHECK_EQ_CTX(c.macs, static_cast<uint64_t>(s.macs()), ctx);
          if (mode == Mode::CPU) {
            CHECK_EQ_CTX(c.padded_macs, c.macs, ctx);
            CHECK_EQ_CTX(c.cycles, 0u, ctx);
          } else {
            const uint64_t D = static_cast<uint64_t>(cfg.dim);
            CHECK_EQ_CTX(c.padded_macs, c.computes() * D * D * D, ctx);
            CHECK_EQ_CTX(c.preloads, c.computes(), ctx);
            CHECK_MSG(c.padded_macs >= c.macs, ctx);
            CHECK_MSG(c.compute_preloaded >= 1 && c.tiles >= 1 && c.cycles > 0, ctx);
            CHECK_EQ_CTX(c.mvin_acc_bytes == 0, !with_bias, ctx);
            if (mode == Mode::OS) {  // im2col + OS matmul tiles: every DIM block of every group's GEMM once
              const uint64_t M = static_cast<uint64_t>(s.batch * s.conv_out_h() * s.conv_out_w());
              const uint64_t Kg = static_cast<uint64_t>(s.kernel_h * s.kernel_w * s.in_ch_per_group());
              const uint64_t Ng = static_cast<uint64_t>(s.out_ch_per_group());
              CHECK_EQ_CTX(c.computes(), static_cast<uint64_t>(s.groups) * ((M + D - 1) / D) * ((Ng + D - 1) / D) *
                                             ((Kg + D - 1) / D),
                           ctx);
            }
            const uint64_t unpooled =
                static_cast<uint64_t>(s.batch * s.conv_out_h() * s.conv_out_w() * s.out_ch);
            CHECK_EQ_CTX(c.mvout_bytes, mode == Mode::WS ? static_cast<uint64_t>(s.output_elems()) : unpooled, ctx);
          }
        }
    }
  }
}

int main() {
  tu::Rng r(2024);
  ThreadPool pool(3);
  const auto cfgs = tu::configs();
  // Named shapes first.
  {
    ConvShape stem;  // ResNet stem on a small image: 7x7 s2 p3, then max-pool 3x3 s2 p1
    stem.in_h = stem.in_w = 29;
    stem.in_ch = 3;
    stem.out_ch = 16;
    stem.kernel_h = stem.kernel_w = 7;
    stem.stride_h = stem.stride_w = 2;
    stem.pad_top = stem.pad_left = stem.pad_bottom = stem.pad_right = 3;
    stem.pool.enabled = true;
    stem.pool.kh = stem.pool.kw = 3;
    stem.pool.sh = stem.pool.sw = 2;
    stem.pool.pad_top = stem.pool.pad_left = stem.pool.pad_bottom = stem.pool.pad_right = 1;
    run_case(cfgs, pool, r, stem, true, true, 0.002f, "stem");
    run_case(cfgs, pool, r, stem, false, true, 0.002f, "stem-norelu");  // pool padding 0 matters here
    stem.pool.padding = PoolPadding::Ignore;
    run_case(cfgs, pool, r, stem, false, true, 0.002f, "stem-norelu-ignore");
    ConvShape pw;  // pointwise fast path
    pw.batch = 2;
    pw.in_h = 9;
    pw.in_w = 7;
    pw.in_ch = 37;
    pw.out_ch = 21;
    run_case(cfgs, pool, r, pw, false, true, 0.01f, "pointwise");
    pw.stride_h = pw.stride_w = 2;  // downsample 1x1 s2
    run_case(cfgs, pool, r, pw, true, false, 0.01f, "downsample");
    ConvShape dw;  // depthwise 3x3 with channel multiplier 2
    dw.in_h = 11;
    dw.in_w = 8;
    dw.in_ch = dw.groups = 10;
    dw.out_ch = 20;
    dw.kernel_h = dw.kernel_w = 3;
    dw.pad_top = dw.pad_left = dw.pad_bottom = dw.pad_right = 1;
    run_case(cfgs, pool, r, dw, true, true, 0.05f, "depthwise-m2");
    ConvShape one;  // 1x1 image, 1 channel
    run_case(cfgs, pool, r, one, false, false, 1.0f, "trivial");
    ConvShape wide;  // exercises pixel chunks and several channel blocks
    wide.in_h = 5;
    wide.in_w = 40;
    wide.in_ch = 35;
    wide.out_ch = 70;
    wide.kernel_h = 3;
    wide.kernel_w = 1;
    wide.pad_top = 2;
    run_case(cfgs, pool, r, wide, false, true, 0.001f, "wide");
  }
  for (int n = 0; n < 120; ++n) {
    const ConvShape s = random_shape(r, n);
    const float mult = tu::random_multiplier(r);
    run_case(cfgs, pool, r, s, r.coin(50), r.coin(70), mult, "random" + std::to_string(n));
  }

  // fp32: integer-valued data is exact in every mode.
  {
    const AcceleratorConfig fcfg = AcceleratorConfig::fp32_defaults();
    for (int n = 0; n < 8; ++n) {
      const ConvShape s = random_shape(r, n);
      std::vector<float> x(s.input_elems()), w(s.weight_elems()), bias(s.out_ch);
      for (auto& v : x) v = static_cast<float>(r.range(-6, 6));
      for (auto& v : w) v = static_cast<float>(r.range(-6, 6));
      for (auto& v : bias) v = static_cast<float>(r.range(-50, 50));
      const bool relu = n % 2 == 0;
      auto post = [&](float bv, int64_t, double sd) {
        const double v = sd + bv;
        return static_cast<float>((relu && v < 0) ? 0.0 : v);
      };
      const std::vector<float> expect = ref::conv<float, float>(to_ref(s), x.data(), w.data(), bias.data(), post);
      for (Mode mode : tu::modes()) {
        ConvF32Args a;
        a.shape = s;
        a.input = x.data();
        a.weights = w.data();
        a.bias = bias.data();
        a.relu = relu;
        std::vector<float> out(s.output_elems());
        a.output = out.data();
        conv2d_f32(fcfg, mode, a, ExecOptions{&pool, KernelKind::Auto});
        CHECK_MSG(out == expect, "fp32 " + describe(s) + " " + tu::mode_str(mode));
      }
    }
  }

  // Errors.
  {
    std::vector<int8_t> buf(1000);
    ConvArgs a;
    a.input = a.weights = buf.data();
    a.output = buf.data();
    a.shape.in_ch = 3;
    a.shape.groups = 2;
    CHECK_THROWS(conv2d(AcceleratorConfig{}, Mode::CPU, a), Error);  // groups do not divide
    a.shape = ConvShape{};
    a.shape.kernel_h = 5;
    CHECK_THROWS(conv2d(AcceleratorConfig{}, Mode::WS, a), Error);  // kernel larger than input
    a.shape = ConvShape{};
    a.shape.pool.enabled = true;
    a.shape.pool.kh = 2;
    a.shape.pool.pad_top = 2;
    CHECK_THROWS(conv2d(AcceleratorConfig{}, Mode::OS, a), Error);  // pool pad >= pool kernel
    a.shape = ConvShape{};
    a.input = nullptr;
    CHECK_THROWS(conv2d(AcceleratorConfig{}, Mode::CPU, a), Error);
    a.input = buf.data();
    a.multiplier = INFINITY;
    CHECK_THROWS(conv2d(AcceleratorConfig{}, Mode::CPU, a), Error);
    a.multiplier = 1.0f;
    CHECK_THROWS(conv2d(AcceleratorConfig::fp32_defaults(), Mode::CPU, a), Error);
    // A pool window larger than the accumulator: WS cannot tile it (clear error), CPU still runs.
    ConvArgs big;
    big.shape.in_h = big.shape.in_w = 80;
    big.shape.pool.enabled = true;
    big.shape.pool.kh = big.shape.pool.kw = 70;
    std::vector<int8_t> x(big.shape.input_elems(), 1), w(1, 1), y(big.shape.output_elems());
    big.input = x.data();
    big.weights = w.data();
    big.output = y.data();
    CHECK_THROWS(conv2d(AcceleratorConfig{}, Mode::WS, big), Error);
    conv2d(AcceleratorConfig{}, Mode::CPU, big);
    CHECK_EQ(y[0], 1);
  }
  return check::finish("systolic_conv");
}
