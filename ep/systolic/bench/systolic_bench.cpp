// systolic_bench: times the accelerator model's int8 kernels, natively or under qemu-riscv64.
//   systolic_bench [--threads 1,2] [--reps N] [--kernel auto|swar|wide|avx2] [--only NAME]
// Workloads: matmul 256x256x256 (no bias), conv 1x56x56x64 -> 64, 3x3, pad 1 (bias, ReLU), the ResNet stem
// (224x224x3 -> 32, 7x7/2, pad 3, bias, ReLU, max-pool 3x3/2 pad 1), depthwise conv
// 1x56x56x128, 3x3, pad 1 (bias, ReLU) and a resadd of 56*56*256 elements. The "q" variants of the 56x56 convs
// use the quantization forms of uint8 models: per-channel multipliers, input zero point -7, output zero point 12.
// Prints the best time of N repetitions per mode and thread count, GMAC/s of useful MACs (Gelem/s for resadd) and the model's estimated cycles.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "systolic/systolic.h"

using namespace rcnn::systolic;

namespace {

std::vector<unsigned> parse_list(const char* s) {
  std::vector<unsigned> out;
  std::string cur;
  for (const char* p = s;; ++p) {
    if (*p == ',' || *p == '\0') {
      if (!cur.empty()) out.push_back(static_cast<unsigned>(std::strtoul(cur.c_str(), nullptr, 10)));
      cur.clear();
      if (*p == '\0') break;
    } else {
      cur.push_back(*p);
    }
  }
  return out;
}

template <class F>
double best_ms(int reps, const F& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<unsigned> threads = {1, 2};
  int reps = 3;
  std::string only;  // run only the workloads whose name contains this
  KernelKind kernel = KernelKind::Auto;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = parse_list(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--kernel" && i + 1 < argc) {
      const std::string k = argv[++i];
      kernel = k == "swar"   ? KernelKind::Swar
               : k == "wide" ? KernelKind::Wide
               : k == "avx2" ? KernelKind::Avx2
                             : KernelKind::Auto;
    } else {
      std::fprintf(stderr, "usage: systolic_bench [--threads 1,2] [--reps N] [--kernel auto|swar|wide|avx2] [--only NAME]\n");
      return 2;
    }
  }
  const AcceleratorConfig cfg;
  std::printf("config: %s\n", cfg.describe().c_str());
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> d8(-128, 127);
  auto fill = [&](std::vector<int8_t>& v) {
    for (auto& x : v) x = static_cast<int8_t>(d8(rng));
  };

  const int64_t N = 256;
  std::vector<int8_t> A(N * N), B(N * N), C(N * N);
  fill(A);
  fill(B);
  MatmulArgs mm;
  mm.I = mm.J = mm.K = N;
  mm.A = A.data();
  mm.B = B.data();
  mm.C = C.data();
  mm.multiplier = 1.0f / 4096.0f;

  ConvArgs cv;
  cv.shape.in_h = cv.shape.in_w = 56;
  cv.shape.in_ch = cv.shape.out_ch = 64;
  cv.shape.kernel_h = cv.shape.kernel_w = 3;
  cv.shape.pad_top = cv.shape.pad_left = cv.shape.pad_bottom = cv.shape.pad_right = 1;
  std::vector<int8_t> X(cv.shape.input_elems()), W(cv.shape.weight_elems()), Y(cv.shape.output_elems());
  std::vector<int32_t> bias(64, 100);
  fill(X);
  fill(W);
  cv.input = X.data();
  cv.weights = W.data();
  cv.bias = bias.data();
  cv.output = Y.data();
  cv.multiplier = 1.0f / 8192.0f;
  cv.relu = true;

  ConvArgs dw;
  dw.shape.in_h = dw.shape.in_w = 56;
  dw.shape.in_ch = dw.shape.out_ch = dw.shape.groups = 128;
  dw.shape.kernel_h = dw.shape.kernel_w = 3;
  dw.shape.pad_top = dw.shape.pad_left = dw.shape.pad_bottom = dw.shape.pad_right = 1;
  std::vector<int8_t> DX(dw.shape.input_elems()), DW(dw.shape.weight_elems()), DY(dw.shape.output_elems());
  std::vector<int32_t> dbias(128, -50);
  fill(DX);
  fill(DW);
  dw.input = DX.data();
  dw.weights = DW.data();
  dw.bias = dbias.data();
  dw.output = DY.data();
  dw.multiplier = 1.0f / 512.0f;
  dw.relu = true;

  // ResNet stem: 224x224x3 -> 32, 7x7 stride 2, pad 3, bias, ReLU, fused 3x3/2 max-pool (pad 1).
  ConvArgs st;
  st.shape.in_h = st.shape.in_w = 224;
  st.shape.in_ch = 3;
  st.shape.out_ch = 32;
  st.shape.kernel_h = st.shape.kernel_w = 7;
  st.shape.stride_h = st.shape.stride_w = 2;
  st.shape.pad_top = st.shape.pad_left = st.shape.pad_bottom = st.shape.pad_right = 3;
  st.shape.pool.enabled = true;
  st.shape.pool.kh = st.shape.pool.kw = 3;
  st.shape.pool.sh = st.shape.pool.sw = 2;
  st.shape.pool.pad_top = st.shape.pool.pad_left = st.shape.pool.pad_bottom = st.shape.pool.pad_right = 1;
  std::vector<int8_t> SX(st.shape.input_elems()), SW(st.shape.weight_elems()), SY(st.shape.output_elems());
  std::vector<int32_t> sbias(32, 10);
  fill(SX);
  fill(SW);
  st.input = SX.data();
  st.weights = SW.data();
  st.bias = sbias.data();
  st.output = SY.data();
  st.multiplier = 1.0f / 4096.0f;
  st.relu = true;

  // The same convs in the forms of a uint8 per-channel model (ReLU then clamps at the output zero point).
  std::vector<float> cv_m(64), dw_m(128);
  for (size_t c = 0; c < cv_m.size(); ++c) cv_m[c] = (1.0f + 0.01f * static_cast<float>(c)) / 8192.0f;
  for (size_t c = 0; c < dw_m.size(); ++c) dw_m[c] = (1.0f + 0.01f * static_cast<float>(c)) / 512.0f;
  ConvArgs cvq = cv;
  cvq.multipliers = cv_m.data();
  cvq.x_zero_point = -7;
  cvq.y_zero_point = 12;
  ConvArgs dwq = dw;
  dwq.multipliers = dw_m.data();
  dwq.x_zero_point = -7;
  dwq.y_zero_point = 12;

  ResaddArgs ra;
  ra.n = 56 * 56 * 256;
  std::vector<int8_t> RA(ra.n), RB(ra.n), RC(ra.n);
  fill(RA);
  fill(RB);
  ra.A = RA.data();
  ra.B = RB.data();
  ra.C = RC.data();
  ra.a_ratio = 0.7f;
  ra.b_ratio = 1.3f;
  ra.relu = true;

  auto skip = [&](const char* name) { return !only.empty() && std::string(name).find(only) == std::string::npos; };
  std::printf("%-28s %-4s %7s %10s %8s %14s\n", "workload", "mode", "threads", "ms", "GMAC/s", "est. cycles");
  for (unsigned t : threads) {
    ThreadPool pool(t);
    ExecOptions opt;
    opt.pool = &pool;
    opt.kernel = kernel;
    for (Mode m : {Mode::CPU, Mode::OS, Mode::WS}) {
      if (m == Mode::CPU && skip("matmul 256x256x256")) break;
      Counters c;
      const double ms = best_ms(reps, [&] { c = matmul(cfg, m, mm, opt); });
      std::printf("%-28s %-4s %7u %10.2f %8.3f %14llu\n", "matmul 256x256x256", mode_name(m), t, ms,
                  static_cast<double>(c.macs) / ms / 1e6, static_cast<unsigned long long>(c.cycles));
    }
    for (Mode m : {Mode::CPU, Mode::OS, Mode::WS}) {
      if (m == Mode::CPU && skip("conv 56x56x64->64 3x3")) break;
      Counters c;
      const double ms = best_ms(reps, [&] { c = conv2d(cfg, m, cv, opt); });
      std::printf("%-28s %-4s %7u %10.2f %8.3f %14llu\n", "conv 56x56x64->64 3x3", mode_name(m), t, ms,
                  static_cast<double>(c.macs) / ms / 1e6, static_cast<unsigned long long>(c.cycles));
    }
    for (Mode m : {Mode::CPU, Mode::OS, Mode::WS}) {
      if (m == Mode::CPU && skip("q conv 56x56x64->64 3x3")) break;
      Counters c;
      const double ms = best_ms(reps, [&] { c = conv2d(cfg, m, cvq, opt); });
      std::printf("%-28s %-4s %7u %10.2f %8.3f %14llu\n", "q conv 56x56x64->64 3x3", mode_name(m), t, ms,
                  static_cast<double>(c.macs) / ms / 1e6, static_cast<unsigned long long>(c.cycles));
    }
    for (Mode m : {Mode::CPU, Mode::OS, Mode::WS}) {
      if (m == Mode::CPU && skip("stem 224x224x3->32 7x7/2+pool")) break;
      Counters c;
      const double ms = best_ms(reps, [&] { c = conv2d(cfg, m, st, opt); });
      std::printf("%-28s %-4s %7u %10.2f %8.3f %14llu\n", "stem 224x224x3->32 7x7/2+pool", mode_name(m), t, ms,
                  static_cast<double>(c.macs) / ms / 1e6, static_cast<unsigned long long>(c.cycles));
    }
    for (Mode m : {Mode::CPU, Mode::OS, Mode::WS}) {
      if (m == Mode::CPU && skip("dwconv 56x56x128 3x3")) break;
      Counters c;
      const double ms = best_ms(reps, [&] { c = conv2d(cfg, m, dw, opt); });
      std::printf("%-28s %-4s %7u %10.2f %8.3f %14llu\n", "dwconv 56x56x128 3x3", mode_name(m), t, ms,
                  static_cast<double>(c.macs) / ms / 1e6, static_cast<unsigned long long>(c.cycles));
    }
    for (Mode m : {Mode::CPU, Mode::OS, Mode::WS}) {
      if (m == Mode::CPU && skip("q dwconv 56x56x128 3x3")) break;
      Counters c;
      const double ms = best_ms(reps, [&] { c = conv2d(cfg, m, dwq, opt); });
      std::printf("%-28s %-4s %7u %10.2f %8.3f %14llu\n", "q dwconv 56x56x128 3x3", mode_name(m), t, ms,
                  static_cast<double>(c.macs) / ms / 1e6, static_cast<unsigned long long>(c.cycles));
    }
    for (Mode m : {Mode::CPU, Mode::OS, Mode::WS}) {
      if (m == Mode::CPU && skip("resadd 802816 (Gelem/s)")) break;
      Counters c;
      const double ms = best_ms(reps, [&] { c = resadd(cfg, m, ra, opt); });
      std::printf("%-28s %-4s %7u %10.2f %8.3f %14llu\n", "resadd 802816 (Gelem/s)", mode_name(m), t, ms,
                  static_cast<double>(ra.n) / ms / 1e6, static_cast<unsigned long long>(c.cycles));
    }
  }
  return 0;
}
