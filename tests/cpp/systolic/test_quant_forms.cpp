// The quantization forms of conv2d / matmul / resadd (per-channel multipliers, input and output zero points, ReLU at
// the output zero point, fused max-pool after it) in every mode, kernel, config and thread count against a plain
// scalar reference written here (int64 sums of (x - x_zp) * w with padding counted as x_zp, float32 RNE via
// nearbyintf), on shapes that reach every path: pointwise 1x1, padded 1x1, 3x3 stride 2 with asymmetric pads,
// depthwise (with and without channel multiplier), groups, dilation, batch 2, K not a multiple of DIM, tiny GEMMs
// (direct loops), fused pools with zero and ignore padding. Also: the Requantizer's integer path against
// requantize(), the config switches (refusals), the counters of the forms, argument errors.
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "check.h"
#include "systolic/conv.h"
#include "systolic/matmul.h"
#include "systolic/numerics.h"
#include "systolic/resadd.h"
#include "systolic/thread_pool.h"
#include "test_util.h"

using namespace rcnn::systolic;

namespace {

// ---- the scalar reference ----------------------------------------------------------------------------------------

int32_t wrap32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

// y = clamp(RNE(float(acc) * m) + y_zp, relu ? y_zp : -128, 127), written independently of numerics.h.
int8_t ref_requant(int32_t acc, float m, int32_t y_zp, bool relu) {
  float y = static_cast<float>(acc) * m;
  if (y > 1e6f) y = 1e6f;
  if (y < -1e6f) y = -1e6f;
  const int64_t r = static_cast<int64_t>(std::nearbyintf(y)) + y_zp;  // default rounding mode: to nearest even
  const int64_t lo = relu ? y_zp : -128;
  return static_cast<int8_t>(r < lo ? lo : (r > 127 ? 127 : r));
}

struct QConv {
  ConvShape s;
  std::vector<int8_t> x, w;
  std::vector<int32_t> bias;  // empty: none
  std::vector<float> m;       // out_ch values, or one (per-tensor)
  int8_t x_zp = 0;
  int32_t y_zp = 0;
  bool relu = false;
};

std::vector<int8_t> ref_conv(const QConv& q) {
  const ConvShape& s = q.s;
  const int64_t OH = s.conv_out_h(), OW = s.conv_out_w(), icg = s.in_ch / s.groups, ocg = s.out_ch / s.groups;
  std::vector<int8_t> y(static_cast<size_t>(s.batch * OH * OW * s.out_ch));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t oc = 0; oc < s.out_ch; ++oc) {
          const int64_t g = oc / ocg;
          int64_t acc = q.bias.empty() ? 0 : q.bias[oc];
          for (int64_t kr = 0; kr < s.kernel_h; ++kr)
            for (int64_t kc = 0; kc < s.kernel_w; ++kc) {
              const int64_t ih = oh * s.stride_h - s.pad_top + kr * s.dil_h;
              const int64_t iw = ow * s.stride_w - s.pad_left + kc * s.dil_w;
              if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;  // x = x_zp: contributes 0
              for (int64_t ic = 0; ic < icg; ++ic) {
                const int64_t xv = q.x[((b * s.in_h + ih) * s.in_w + iw) * s.in_ch + g * icg + ic];
                const int64_t wv = q.w[((kr * s.kernel_w + kc) * icg + ic) * s.out_ch + oc];
                acc += (xv - q.x_zp) * wv;
              }
            }
          const float m = q.m.size() == 1 ? q.m[0] : q.m[oc];
          y[((b * OH + oh) * OW + ow) * s.out_ch + oc] = ref_requant(wrap32(acc), m, q.y_zp, q.relu);
        }
  if (!s.pool.enabled) return y;
  const PoolParams& p = s.pool;
  const int64_t PH = s.out_h(), PW = s.out_w();
  std::vector<int8_t> out(static_cast<size_t>(s.batch * PH * PW * s.out_ch));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t ph = 0; ph < PH; ++ph)
      for (int64_t pw = 0; pw < PW; ++pw)
        for (int64_t oc = 0; oc < s.out_ch; ++oc) {
          int best = -1000;
          for (int64_t dh = 0; dh < p.kh; ++dh)
            for (int64_t dw = 0; dw < p.kw; ++dw) {
              const int64_t oh = ph * p.sh - p.pad_top + dh, ow = pw * p.sw - p.pad_left + dw;
              int v;
              if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) {
                if (p.padding == PoolPadding::Ignore) continue;
                v = q.y_zp;  // the real value 0
              } else {
                v = y[((b * OH + oh) * OW + ow) * s.out_ch + oc];
              }
              best = v > best ? v : best;
            }
          out[((b * PH + ph) * PW + pw) * s.out_ch + oc] = static_cast<int8_t>(best);
        }
  return out;
}

std::string describe(const QConv& q) {
  const ConvShape& s = q.s;
  auto n = [](int64_t v) { return std::to_string(v); };
  std::string d = "N" + n(s.batch) + " " + n(s.in_h) + "x" + n(s.in_w) + "x" + n(s.in_ch) + "->" + n(s.out_ch) +
                  " k" + n(s.kernel_h) + "x" + n(s.kernel_w) + " s" + n(s.stride_h) + "," + n(s.stride_w) + " d" +
                  n(s.dil_h) + "," + n(s.dil_w) + " p" + n(s.pad_top) + "," + n(s.pad_left) + "," + n(s.pad_bottom) +
                  "," + n(s.pad_right) + " g" + n(s.groups) + " xzp" + n(q.x_zp) + " yzp" + n(q.y_zp) +
                  (q.m.size() > 1 ? " per-channel" : " per-tensor") + (q.relu ? " relu" : "") +
                  (q.bias.empty() ? " nobias" : " bias");
  if (s.pool.enabled)
    d += " pool" + n(s.pool.kh) + "x" + n(s.pool.kw) + "/" + n(s.pool.sh) + " pp" + n(s.pool.pad_top) + "," +
         n(s.pool.pad_left) + "," + n(s.pool.pad_bottom) + "," + n(s.pool.pad_right) +
         (s.pool.padding == PoolPadding::Zero ? "z" : "i");
  return d;
}

ConvShape shape(int64_t n, int64_t h, int64_t w, int64_t c, int64_t oc, int64_t k, int64_t stride, int64_t groups,
                int64_t pt, int64_t pl, int64_t pb, int64_t pr, int64_t dil = 1) {
  ConvShape s;
  s.batch = n;
  s.in_h = h;
  s.in_w = w;
  s.in_ch = c;
  s.out_ch = oc;
  s.kernel_h = s.kernel_w = k;
  s.stride_h = s.stride_w = stride;
  s.groups = groups;
  s.pad_top = pt;
  s.pad_left = pl;
  s.pad_bottom = pb;
  s.pad_right = pr;
  s.dil_h = s.dil_w = dil;
  return s;
}

// Multipliers that keep most outputs inside the int8 range for accumulators of about `spread` (plus a few extremes).
float channel_multiplier(tu::Rng& r, double spread) {
  switch (r.range(0, 9)) {
    case 0: return 0.5f;    // exact ties
    case 1: return 1e-9f;   // everything rounds to 0 (then y_zp)
    case 2: return 10.0f;   // mostly saturated
    default: return static_cast<float>(static_cast<double>(r.range(20, 200)) / (100.0 * spread));
  }
}

QConv make_case(tu::Rng& r, const ConvShape& s, bool per_channel, int pool_kind, bool relu) {
  QConv q;
  q.s = s;
  if (pool_kind > 0) {
    q.s.pool = PoolParams{true, 3, 2, 2, 1, 1, 0, 1, 1, pool_kind == 1 ? PoolPadding::Zero : PoolPadding::Ignore};
    if (q.s.conv_out_h() < 3 || q.s.conv_out_w() < 2) q.s.pool = PoolParams{true, 2, 2, 2, 2, 1, 1, 0, 0,
                                                                            pool_kind == 1 ? PoolPadding::Zero
                                                                                           : PoolPadding::Ignore};
  }
  q.x.resize(static_cast<size_t>(s.input_elems()));
  q.w.resize(static_cast<size_t>(s.weight_elems()));
  r.fill(q.x);
  r.fill(q.w);
  // Zero points: the extremes and random values (uint8 models give any value after the 128 shift).
  const int64_t zps[] = {-128, 127, 0, r.range(-128, 127), r.range(-128, 127)};
  q.x_zp = static_cast<int8_t>(zps[r.range(0, 4)]);
  q.y_zp = static_cast<int32_t>(zps[r.range(0, 4)]);
  q.relu = relu;
  if (r.coin(70)) {
    q.bias.resize(static_cast<size_t>(s.out_ch));
    r.fill(q.bias, -40000, 40000);
  }
  const double spread = 128.0 * 128.0 * std::sqrt(static_cast<double>(s.kernel_h * s.kernel_w * s.in_ch / s.groups));
  q.m.resize(per_channel ? static_cast<size_t>(s.out_ch) : 1);
  for (auto& v : q.m) v = channel_multiplier(r, spread);
  return q;
}

std::vector<int8_t> run_conv(const AcceleratorConfig& cfg, Mode mode, const QConv& q, const ExecOptions& opt,
                             Counters* counters = nullptr) {
  std::vector<int8_t> y(static_cast<size_t>(q.s.output_elems()), 99);
  ConvArgs a{q.s, q.x.data(), q.w.data(), q.bias.empty() ? nullptr : q.bias.data(), q.m[0], q.relu, y.data()};
  a.multipliers = q.m.size() > 1 ? q.m.data() : nullptr;
  a.x_zero_point = q.x_zp;
  a.y_zero_point = q.y_zp;
  const Counters c = conv2d(cfg, mode, a, opt);
  if (counters) *counters = c;
  return y;
}

void test_conv_forms() {
  tu::Rng r(20261204);
  // (shape, what it reaches)
  const std::vector<ConvShape> shapes = {
      shape(1, 7, 9, 24, 40, 1, 1, 1, 0, 0, 0, 0),   // pointwise: input rows are the GEMM rows
      shape(2, 6, 5, 17, 33, 1, 1, 1, 1, 0, 0, 1),   // 1x1 with padding (padded rows = x_zp), batch 2
      shape(1, 11, 10, 5, 19, 3, 2, 1, 0, 1, 2, 1),  // 3x3 stride 2, asymmetric pads, K = 45
      shape(2, 9, 8, 12, 12, 3, 1, 12, 1, 1, 1, 1),  // depthwise (direct loop in CPU)
      shape(1, 8, 9, 6, 12, 3, 2, 6, 2, 1, 0, 2),    // depthwise x2 channel multiplier, stride 2
      shape(1, 9, 9, 16, 24, 3, 1, 2, 1, 2, 1, 0),   // groups 2
      shape(1, 12, 11, 8, 20, 3, 1, 1, 2, 2, 2, 2, 2),  // dilation 2
      shape(2, 5, 6, 3, 2, 3, 1, 1, 1, 1, 1, 1),     // tiny GEMM (direct loops), N = 2
      shape(1, 10, 10, 20, 36, 5, 1, 1, 2, 2, 2, 2), // bigger K (several WS kernel tiles on small configs)
  };
  const std::vector<AcceleratorConfig> cfgs = tu::configs();
  ThreadPool pool3(3);
  long cases = 0;
  for (size_t si = 0; si < shapes.size(); ++si) {
    for (int variant = 0; variant < 6; ++variant) {
      const bool per_channel = variant != 5;
      const int pool_kind = variant % 3;  // none, zero padding, ignore padding
      const bool relu = variant == 1 || variant == 4;
      const QConv q = make_case(r, shapes[si], per_channel, pool_kind, relu);
      const std::vector<int8_t> want = ref_conv(q);
      for (size_t ci = 0; ci < cfgs.size(); ++ci)
        for (Mode mode : tu::modes())
          for (KernelKind k : tu::kernels()) {
            // Threads 3 on the default config only (results never depend on the pool).
            for (int threads : {1, 3}) {
              if (threads == 3 && ci != 0) continue;
              const ExecOptions opt{threads == 3 ? &pool3 : nullptr, k};
              const std::vector<int8_t> got = run_conv(cfgs[ci], mode, q, opt);
              long bad = 0;
              size_t first = 0;
              for (size_t i = 0; i < want.size(); ++i)
                if (got[i] != want[i] && bad++ == 0) first = i;
              ++cases;
              CHECK_EQ_CTX(bad, 0L, describe(q) + " mode " + tu::mode_str(mode) + " cfg " + std::to_string(ci) +
                                        " kernel " + std::to_string(static_cast<int>(k)) + " threads " +
                                        std::to_string(threads) + " first " + std::to_string(first) + " got " +
                                        std::to_string(bad ? got[first] : 0) + " want " +
                                        std::to_string(bad ? want[first] : 0));
            }
          }
    }
  }
  CHECK(cases > 1000);
}

// The zero-point-free per-tensor call is unchanged: explicit defaults give the same bytes as the old form, and the
// same counters.
void test_conv_defaults_unchanged() {
  tu::Rng r(7);
  QConv q = make_case(r, shape(1, 9, 9, 16, 24, 3, 1, 1, 1, 1, 1, 1), false, 1, true);
  q.x_zp = 0;
  q.y_zp = 0;
  for (Mode mode : tu::modes()) {
    std::vector<int8_t> old_form(static_cast<size_t>(q.s.output_elems()));
    const ConvArgs a{q.s, q.x.data(), q.w.data(), q.bias.empty() ? nullptr : q.bias.data(), q.m[0], q.relu,
                     old_form.data()};
    const Counters c_old = conv2d(AcceleratorConfig{}, mode, a);
    Counters c_new;
    CHECK(run_conv(AcceleratorConfig{}, mode, q, {}, &c_new) == old_form);
    CHECK(c_old == c_new);
    CHECK(old_form == ref_conv(q));
  }
}

// Counters: x_zp without a bias loads the correction as a bias (same counters as with a bias); per-channel scales
// add 4 bytes per output channel per output tile to mvin_acc_bytes in OS/WS, nothing in CPU mode.
void test_conv_counters() {
  tu::Rng r(8);
  QConv q = make_case(r, shape(1, 20, 20, 32, 48, 3, 1, 1, 1, 1, 1, 1), false, 0, false);
  q.bias.clear();
  q.x_zp = 0;
  q.y_zp = 0;
  for (Mode mode : tu::modes()) {
    Counters plain, zp, biased, per_ch;
    run_conv(AcceleratorConfig{}, mode, q, {}, &plain);
    QConv qz = q;
    qz.x_zp = 5;
    qz.y_zp = -3;
    run_conv(AcceleratorConfig{}, mode, qz, {}, &zp);
    QConv qb = q;
    qb.bias.assign(static_cast<size_t>(q.s.out_ch), 1);
    run_conv(AcceleratorConfig{}, mode, qb, {}, &biased);
    QConv qc = q;
    qc.m.assign(static_cast<size_t>(q.s.out_ch), q.m[0]);
    run_conv(AcceleratorConfig{}, mode, qc, {}, &per_ch);
    CHECK(zp == biased);
    if (mode == Mode::CPU) {
      CHECK(per_ch == plain);
      CHECK(zp == plain);
    } else {
      CHECK(zp.mvin_acc_bytes > plain.mvin_acc_bytes);
      CHECK(per_ch.mvin_acc_bytes > plain.mvin_acc_bytes);
      CHECK_EQ((per_ch.mvin_acc_bytes - plain.mvin_acc_bytes) % 4, 0u);
      CHECK(per_ch.mvin_cmds > plain.mvin_cmds);
      CHECK(per_ch.cycles >= plain.cycles);
      CHECK_EQ(per_ch.macs, plain.macs);
      CHECK_EQ(per_ch.mvout_bytes, plain.mvout_bytes);
    }
  }
}

// ---- matmul ----------------------------------------------------------------------------------------------------

void test_matmul_forms() {
  tu::Rng r(99);
  const std::vector<AcceleratorConfig> cfgs = tu::configs();
  ThreadPool pool3(3);
  long cases = 0;
  for (int it = 0; it < 24; ++it) {
    const int64_t I = r.range(1, 70), J = r.range(1, 70), K = r.range(1, 150);
    const int64_t lda = K + r.range(0, 3), ldb = J + r.range(0, 3), ldc = J + r.range(0, 3);
    std::vector<int8_t> A(static_cast<size_t>(I * lda)), B(static_cast<size_t>(K * ldb));
    r.fill(A);
    r.fill(B);
    const BiasKind kind = static_cast<BiasKind>(it % 3);
    std::vector<int32_t> D(static_cast<size_t>(kind == BiasKind::Full ? I * J : J));
    r.fill(D, -30000, 30000);
    const bool per_col = it % 4 != 3;
    std::vector<float> m(static_cast<size_t>(per_col ? J : 1));
    for (auto& v : m) v = channel_multiplier(r, 128.0 * 128.0 * std::sqrt(static_cast<double>(K)));
    const int8_t x_zp = static_cast<int8_t>(it % 5 == 0 ? -128 : r.range(-128, 127));
    const int32_t y_zp = static_cast<int32_t>(it % 7 == 0 ? 127 : r.range(-128, 127));
    const bool relu = it % 2 == 1;
    std::vector<int8_t> want(static_cast<size_t>(I * ldc), 0);
    for (int64_t i = 0; i < I; ++i)
      for (int64_t j = 0; j < J; ++j) {
        int64_t acc = kind == BiasKind::None ? 0 : (kind == BiasKind::Full ? D[i * J + j] : D[j]);
        for (int64_t k = 0; k < K; ++k) acc += (int64_t{A[i * lda + k]} - x_zp) * B[k * ldb + j];
        want[i * ldc + j] = ref_requant(wrap32(acc), per_col ? m[j] : m[0], y_zp, relu);
      }
    for (size_t ci = 0; ci < cfgs.size(); ++ci)
      for (Mode mode : tu::modes())
        for (KernelKind kk : tu::kernels())
          for (int threads : {1, 3}) {
            if (threads == 3 && ci != 0) continue;
            std::vector<int8_t> C(static_cast<size_t>(I * ldc), 0);
            MatmulArgs a;
            a.I = I;
            a.J = J;
            a.K = K;
            a.A = A.data();
            a.lda = lda;
            a.B = B.data();
            a.ldb = ldb;
            a.bias_kind = kind;
            a.bias = kind == BiasKind::None ? nullptr : D.data();
            a.ldd = J;
            a.multiplier = m[0];
            a.multipliers = per_col ? m.data() : nullptr;
            a.x_zero_point = x_zp;
            a.y_zero_point = y_zp;
            a.relu = relu;
            a.C = C.data();
            a.ldc = ldc;
            matmul(cfgs[ci], mode, a, ExecOptions{threads == 3 ? &pool3 : nullptr, kk});
            ++cases;
            long bad = 0;
            for (int64_t i = 0; i < I; ++i)
              for (int64_t j = 0; j < J; ++j) bad += C[i * ldc + j] != want[i * ldc + j];
            CHECK_EQ_CTX(bad, 0L, "matmul " + std::to_string(I) + "x" + std::to_string(J) + "x" + std::to_string(K) +
                                      " bias " + std::to_string(static_cast<int>(kind)) + " xzp " +
                                      std::to_string(x_zp) + " yzp " + std::to_string(y_zp) + " mode " +
                                      tu::mode_str(mode) + " cfg " + std::to_string(ci));
          }
  }
  CHECK(cases > 500);
}

// ---- resadd ----------------------------------------------------------------------------------------------------

void test_resadd_forms() {
  tu::Rng r(5);
  for (int it = 0; it < 12; ++it) {
    const int64_t n = r.range(1, 5000);
    std::vector<int8_t> A(static_cast<size_t>(n)), B(static_cast<size_t>(n));
    r.fill(A);
    r.fill(B);
    const float ar = static_cast<float>(r.range(1, 300)) / 200.0f, br = static_cast<float>(r.range(1, 300)) / 200.0f;
    const int8_t a_zp = static_cast<int8_t>(r.range(-128, 127)), b_zp = static_cast<int8_t>(r.range(-128, 127));
    const int32_t c_zp = static_cast<int32_t>(r.range(-128, 127));
    const bool relu = it % 2 == 0;
    std::vector<int8_t> want(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      auto scaled = [](int v, float ratio) {
        const int64_t q = static_cast<int64_t>(std::nearbyintf(static_cast<float>(v) * ratio));
        return q < -128 ? -128 : (q > 127 ? 127 : q);
      };
      const int64_t s = scaled(A[i] - a_zp, ar) + scaled(B[i] - b_zp, br) + c_zp;
      const int64_t lo = relu ? c_zp : -128;
      want[i] = static_cast<int8_t>(s < lo ? lo : (s > 127 ? 127 : s));
      CHECK_EQ(resadd_elem_zp(A[i], a_zp, ar, B[i], b_zp, br, c_zp, relu), want[i]);
    }
    for (const AcceleratorConfig& cfg : tu::configs())
      for (Mode mode : tu::modes()) {
        std::vector<int8_t> C(static_cast<size_t>(n), 0);
        ResaddArgs a{n, A.data(), ar, B.data(), br, relu, C.data()};
        a.a_zero_point = a_zp;
        a.b_zero_point = b_zp;
        a.c_zero_point = c_zp;
        resadd(cfg, mode, a);
        CHECK_EQ_CTX(C == want, true, "resadd n " + std::to_string(n) + " mode " + tu::mode_str(mode));
      }
  }
}

// ---- numerics ----------------------------------------------------------------------------------------------------

void test_requantizer_zero_points() {
  tu::Rng r(31);
  long mismatches = 0, checked = 0;
  for (int mi = 0; mi < 300; ++mi) {
    const float m = std::ldexp(static_cast<float>(r.range(1 << 23, (1 << 24) - 1)), static_cast<int>(r.range(-50, -14)));
    const int32_t y_zp = static_cast<int32_t>(mi % 3 == 0 ? (mi % 2 ? 127 : -128) : r.range(-128, 127));
    for (bool relu : {false, true}) {
      const Requantizer rq(m, y_zp, relu);
      const double span = 300.0 / m;  // accumulators around the interesting range, ties included
      for (int i = 0; i < 400; ++i) {
        int64_t acc = static_cast<int64_t>(static_cast<double>(r.range(-1000000, 1000000)) / 1000000.0 * span);
        if (i % 4 == 0) acc = std::llround((static_cast<double>(r.range(-600, 600)) + 0.5) / m);  // near ties
        if (acc > INT32_MAX || acc < INT32_MIN) continue;
        const int32_t a = static_cast<int32_t>(acc);
        const int8_t want = ref_requant(a, m, y_zp, relu);
        ++checked;
        if (rq(a) != want || requantize(a, m, y_zp, relu ? y_zp : -128, 127) != want) ++mismatches;
      }
    }
  }
  // Exact ties: m = 0.5 and 0.25 with every zero point.
  for (float m : {0.5f, 0.25f, 1.0f, 1.5f})
    for (int32_t y_zp = -128; y_zp <= 127; y_zp += 17)
      for (bool relu : {false, true}) {
        const Requantizer rq(m, y_zp, relu);
        for (int32_t a = -700; a <= 700; ++a) {
          ++checked;
          if (rq(a) != ref_requant(a, m, y_zp, relu)) ++mismatches;
        }
      }
  CHECK_EQ(mismatches, 0L);
  CHECK(checked > 100000);
  // Zero point 0 is the old form.
  CHECK_EQ(requantize(255, 0.5f, 0, -128, 127), scale_acc(255, 0.5f, false));
  CHECK_EQ(+requantize(-1000, 1.0f, 10, 10, 127), 10);   // ReLU at the zero point
  CHECK_EQ(+requantize(-1000, 1.0f, 10, -128, 127), -128);
  CHECK_EQ(+requantize(120, 1.0f, 10, -128, 127), 127);  // saturates after the zero point is added
  CHECK_EQ(+requantize(5, 0.5f, -3, -128, 127), -1);     // 2.5 -> 2 (even), + -3
}

// ---- config switches and argument errors -------------------------------------------------------------------------

void test_config_switches() {
  AcceleratorConfig no_pc;
  no_pc.per_channel_scale = false;
  AcceleratorConfig no_zp;
  no_zp.zero_points = false;
  tu::Rng r(3);
  QConv q = make_case(r, shape(1, 5, 5, 4, 6, 3, 1, 1, 1, 1, 1, 1), true, 0, false);
  q.x_zp = 3;
  q.y_zp = 0;
  CHECK_THROWS(run_conv(no_pc, Mode::WS, q, {}), Error);
  CHECK_THROWS(run_conv(no_zp, Mode::WS, q, {}), Error);
  QConv qt = q;
  qt.m.resize(1);
  CHECK_THROWS(run_conv(no_zp, Mode::CPU, qt, {}), Error);  // x_zp 3
  qt.x_zp = 0;
  qt.y_zp = -5;
  CHECK_THROWS(run_conv(no_zp, Mode::OS, qt, {}), Error);  // y_zp -5
  qt.y_zp = 0;
  run_conv(no_zp, Mode::OS, qt, {});  // zero zero points: fine
  run_conv(no_pc, Mode::OS, qt, {});  // per-tensor: fine
  try {
    run_conv(no_pc, Mode::CPU, q, {});
    CHECK_MSG(false, "per-channel multipliers accepted without per_channel_scale");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("per_channel_scale") != std::string::npos);
  }
  try {
    QConv qz = q;
    qz.m.resize(1);
    run_conv(no_zp, Mode::CPU, qz, {});
    CHECK_MSG(false, "a zero point accepted without zero_points");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("zero_points") != std::string::npos);
  }
  // Out-of-range output zero point, non-finite per-channel multiplier.
  QConv qb = make_case(r, shape(1, 5, 5, 4, 6, 3, 1, 1, 1, 1, 1, 1), true, 0, false);
  qb.y_zp = 128;
  CHECK_THROWS(run_conv(AcceleratorConfig{}, Mode::CPU, qb, {}), Error);
  qb.y_zp = 0;
  qb.m[3] = std::nanf("");
  CHECK_THROWS(run_conv(AcceleratorConfig{}, Mode::CPU, qb, {}), Error);
  qb.m[3] = INFINITY;
  CHECK_THROWS(run_conv(AcceleratorConfig{}, Mode::WS, qb, {}), Error);
  // matmul and resadd follow the same switches.
  std::vector<int8_t> A(12, 1), B(12, 1), C(9);
  std::vector<float> m(3, 0.1f);
  MatmulArgs a;
  a.I = 3;
  a.J = 3;
  a.K = 4;
  a.A = A.data();
  a.B = B.data();
  a.C = C.data();
  a.multipliers = m.data();
  CHECK_THROWS(matmul(no_pc, Mode::CPU, a), Error);
  matmul(no_zp, Mode::CPU, a);
  a.multipliers = nullptr;
  a.x_zero_point = 1;
  CHECK_THROWS(matmul(no_zp, Mode::WS, a), Error);
  matmul(no_pc, Mode::WS, a);
  a.x_zero_point = 0;
  a.y_zero_point = -129;
  CHECK_THROWS(matmul(AcceleratorConfig{}, Mode::WS, a), Error);
  ResaddArgs ra{3, A.data(), 1.0f, B.data(), 1.0f, false, C.data()};
  ra.b_zero_point = 4;
  CHECK_THROWS(resadd(no_zp, Mode::CPU, ra), Error);
  resadd(AcceleratorConfig{}, Mode::CPU, ra);
  ra.c_zero_point = 200;
  CHECK_THROWS(resadd(AcceleratorConfig{}, Mode::CPU, ra), Error);
  // The int8 defaults have both features.
  CHECK(AcceleratorConfig{}.per_channel_scale && AcceleratorConfig{}.zero_points);
  // Config text: booleans only for the boolean keys, and only there.
  const AcceleratorConfig c = parse_config_text("per_channel_scale = false\nzero_points = true # x\n", "t");
  CHECK(!c.per_channel_scale && c.zero_points);
  CHECK(c != AcceleratorConfig{});
  CHECK(c.describe().find("per-channel") == std::string::npos);
  CHECK(AcceleratorConfig{}.describe().find("per-channel scales, zero points") != std::string::npos);
  CHECK_THROWS(parse_config_text("per_channel_scale = 1\n", "t"), ConfigError);
  CHECK_THROWS(parse_config_text("zero_points = \"true\"\n", "t"), ConfigError);
  CHECK_THROWS(parse_config_text("zero_points = True\n", "t"), ConfigError);
  CHECK_THROWS(parse_config_text("dim = true\n", "t"), ConfigError);
}

}  // namespace

int main() {
  std::fesetround(FE_TONEAREST);
  test_requantizer_zero_points();
  test_conv_defaults_unchanged();
  test_conv_counters();
  test_config_switches();
  test_resadd_forms();
  test_matmul_forms();
  test_conv_forms();
  return check::finish("systolic_quant_forms");
}
