// The guest side of the device-mode tests, run as "rcnn_device -- [qemu-riscv64 -L SYSROOT] test_device_e2e MODE".
//   (none)          random conv2d (int8: zero points, per-channel, pool, ReLU, groups, depthwise, strides, dilation;
//                   fp32), matmul (int8/fp32, bias kinds, strides), resadd, in every mode and on two configs, and
//                   quantize (float -> int8, NCHW/NHWC, inf/NaN/ties): each in-process and through the Client;
//                   outputs and every counter must be identical. Some operands are resident (uploaded once, named
//                   by handle). Also: errors come back as systolic::Error with the device's message; a Client
//                   exists only under rcnn_device.
//   --quick         the same with fewer cases
//   --small-window  (rcnn_device --window-mb 1) an op too large for the window (a conv, a quantize) is refused
//                   with a clear DeviceError; a 3 MiB upload (chunked) works and serves as resident weights
//   --bench         round trip and a 56x56x64 -> 64 3x3 conv, in-process vs through the device (ms)
//   --fault kill-device FILE   ops in a loop while another thread SIGKILLs the device: the Client must throw
//                   DeviceError within 3 s; writes "ok <ms>" or "fail ..." to FILE
//   --fault kill-self          connects, runs an op, then SIGKILLs itself (the launcher must exit, 137)
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "device/client.h"
#include "systolic/systolic.h"

namespace sys = rcnn::systolic;
using rcnn::device::Client;
using rcnn::device::DeviceError;
using rcnn::device::ResidentOperands;

namespace {

struct Rng {
  std::mt19937 g;
  explicit Rng(uint32_t seed) : g(seed) {}
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(g() % static_cast<uint32_t>(hi - lo + 1)); }
  bool coin(int percent) { return range(0, 99) < percent; }
  template <class T>
  std::vector<T> ints(std::size_t n, int64_t lo, int64_t hi) {
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(range(lo, hi));
    return v;
  }
  std::vector<float> floats(std::size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
  }
};

const sys::Mode kModes[] = {sys::Mode::CPU, sys::Mode::OS, sys::Mode::WS};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

void check_same(const sys::Counters& local, const sys::Counters& remote, bool outputs_equal, const std::string& what) {
  CHECK_MSG(outputs_equal, what + ": outputs differ");
  CHECK_MSG(local == remote, what + ": counters differ: in-process " + local.to_string() + " / device " +
                                 remote.to_string());
}

sys::ConvShape random_shape(Rng& r) {
  for (;;) {
    sys::ConvShape s;
    s.batch = r.range(1, 2);
    s.in_h = r.range(1, 14);
    s.in_w = r.range(1, 14);
    const int form = static_cast<int>(r.range(0, 3));  // dense, grouped, depthwise, depthwise x2
    const int64_t g = form == 1 ? r.range(2, 3) : 1;
    s.in_ch = form >= 2 ? r.range(1, 24) : g * r.range(1, 12);
    s.groups = form >= 2 ? s.in_ch : g;
    s.out_ch = form == 3 ? s.in_ch * 2 : form == 2 ? s.in_ch : g * r.range(1, 20);
    s.kernel_h = r.range(1, 3);
    s.kernel_w = r.range(1, 3);
    s.stride_h = r.range(1, 2);
    s.stride_w = r.range(1, 2);
    s.dil_h = r.coin(20) ? 2 : 1;
    s.dil_w = r.coin(20) ? 2 : 1;
    s.pad_top = r.range(0, 2), s.pad_left = r.range(0, 2), s.pad_bottom = r.range(0, 2), s.pad_right = r.range(0, 2);
    if (r.coin(30)) {
      s.pool.enabled = true;
      s.pool.kh = s.pool.kw = r.range(2, 3);
      s.pool.sh = s.pool.sw = 2;
      s.pool.pad_top = s.pool.pad_left = s.pool.pad_bottom = s.pool.pad_right = r.range(0, 1);
      s.pool.padding = r.coin(50) ? sys::PoolPadding::Ignore : sys::PoolPadding::Zero;
    }
    try {
      s.validate();
      return s;
    } catch (const sys::Error&) {
    }
  }
}

void conv_int8_case(Client& dev, Rng& r, const sys::AcceleratorConfig& cfg, int i) {
  const sys::ConvShape s = random_shape(r);
  auto x = r.ints<int8_t>(static_cast<std::size_t>(s.input_elems()), -128, 127);
  auto w = r.ints<int8_t>(static_cast<std::size_t>(s.weight_elems()), -128, 127);
  auto b = r.ints<int32_t>(static_cast<std::size_t>(s.out_ch), -3000, 3000);
  auto m = r.floats(static_cast<std::size_t>(s.out_ch), 0.0005f, 0.01f);
  sys::ConvArgs a;
  a.shape = s;
  a.input = x.data();
  a.weights = w.data();
  a.bias = r.coin(70) ? b.data() : nullptr;
  a.multiplier = 0.004f;
  a.multipliers = r.coin(50) ? m.data() : nullptr;
  a.relu = r.coin(50);
  a.x_zero_point = static_cast<int8_t>(r.coin(50) ? r.range(-20, 20) : 0);
  a.y_zero_point = static_cast<int32_t>(r.coin(50) ? r.range(-30, 30) : 0);
  // Resident weights/bias/multipliers in one buffer, at aligned offsets, for a third of the cases.
  ResidentOperands res;
  uint64_t handle = 0;
  if (i % 3 == 0) {
    const std::size_t wb = (w.size() + 63) / 64 * 64, bb = b.size() * 4;
    std::vector<unsigned char> blob(wb + 2 * bb);
    std::memcpy(blob.data(), w.data(), w.size());
    std::memcpy(blob.data() + wb, b.data(), bb);
    std::memcpy(blob.data() + wb + bb, m.data(), bb);
    handle = dev.upload(blob.data(), blob.size());
    res.weights = {handle, 0};
    if (a.bias) res.bias = {handle, wb};
    if (a.multipliers) res.multipliers = {handle, wb + bb};
  }
  std::vector<int8_t> y_local(static_cast<std::size_t>(s.output_elems())), y_dev(y_local.size(), 99);
  for (sys::Mode mode : kModes) {
    a.output = y_local.data();
    const sys::Counters c_local = sys::conv2d(cfg, mode, a);
    sys::ConvArgs d = a;
    if (handle) d.weights = nullptr;  // must not be read: the resident copy is used
    d.output = y_dev.data();
    const sys::Counters c_dev = dev.conv2d(cfg, mode, d, res);
    check_same(c_local, c_dev, same_bytes(y_local, y_dev),
               "conv2d case " + std::to_string(i) + " mode " + sys::mode_name(mode));
  }
  if (handle) dev.free_buffer(handle);
}

void conv_f32_case(Client& dev, Rng& r, const sys::AcceleratorConfig& cfg, int i) {
  const sys::ConvShape s = random_shape(r);
  auto x = r.floats(static_cast<std::size_t>(s.input_elems()), -1, 1);
  auto w = r.floats(static_cast<std::size_t>(s.weight_elems()), -1, 1);
  auto b = r.floats(static_cast<std::size_t>(s.out_ch), -1, 1);
  sys::ConvF32Args a;
  a.shape = s;
  a.input = x.data();
  a.weights = w.data();
  a.bias = r.coin(70) ? b.data() : nullptr;
  a.relu = r.coin(50);
  std::vector<float> y_local(static_cast<std::size_t>(s.output_elems())), y_dev(y_local.size(), -7.0f);
  for (sys::Mode mode : kModes) {
    a.output = y_local.data();
    const sys::Counters c_local = sys::conv2d_f32(cfg, mode, a);
    sys::ConvF32Args d = a;
    d.output = y_dev.data();
    const sys::Counters c_dev = dev.conv2d_f32(cfg, mode, d);
    check_same(c_local, c_dev, same_bytes(y_local, y_dev),
               "conv2d_f32 case " + std::to_string(i) + " mode " + sys::mode_name(mode));
  }
}

void matmul_int8_case(Client& dev, Rng& r, const sys::AcceleratorConfig& cfg, int i) {
  const int64_t I = r.range(1, 40), J = r.range(1, 40), K = r.range(1, 70);
  const bool strided = r.coin(30);
  const int64_t lda = strided ? K + r.range(0, 5) : 0, ldb = strided ? J + r.range(0, 5) : 0;
  const int64_t ldd = strided ? J + r.range(0, 3) : 0, ldc = strided ? J + r.range(1, 4) : 0;
  auto A = r.ints<int8_t>(static_cast<std::size_t>(I * (lda ? lda : K)), -128, 127);
  auto B = r.ints<int8_t>(static_cast<std::size_t>(K * (ldb ? ldb : J)), -128, 127);
  auto D = r.ints<int32_t>(static_cast<std::size_t>(I * (ldd ? ldd : J)), -5000, 5000);
  auto m = r.floats(static_cast<std::size_t>(J), 0.0005f, 0.01f);
  sys::MatmulArgs a;
  a.I = I, a.J = J, a.K = K;
  a.A = A.data(), a.lda = lda, a.B = B.data(), a.ldb = ldb;
  a.bias_kind = static_cast<sys::BiasKind>(r.range(0, 2));
  a.bias = a.bias_kind == sys::BiasKind::None ? nullptr : D.data();
  a.ldd = ldd;
  a.multiplier = 0.003f;
  a.multipliers = r.coin(50) ? m.data() : nullptr;
  a.relu = r.coin(50);
  a.x_zero_point = static_cast<int8_t>(r.coin(50) ? r.range(-20, 20) : 0);
  a.y_zero_point = static_cast<int32_t>(r.coin(50) ? r.range(-30, 30) : 0);
  a.ldc = ldc;
  ResidentOperands res;
  uint64_t handle = 0;
  if (i % 2 == 0) {
    handle = dev.upload(B.data(), B.size());
    res.weights = {handle, 0};
  }
  // The gaps between C's rows (ldc > J) must keep the caller's bytes: both buffers start with the same filler.
  std::vector<int8_t> c_local(static_cast<std::size_t>(I * (ldc ? ldc : J)), 55), c_dev(c_local);
  for (sys::Mode mode : kModes) {
    a.C = c_local.data();
    const sys::Counters k_local = sys::matmul(cfg, mode, a);
    sys::MatmulArgs d = a;
    d.C = c_dev.data();
    if (handle) d.B = nullptr;
    const sys::Counters k_dev = dev.matmul(cfg, mode, d, res);
    check_same(k_local, k_dev, same_bytes(c_local, c_dev),
               "matmul case " + std::to_string(i) + " mode " + sys::mode_name(mode));
  }
  if (handle) dev.free_buffer(handle);
}

void matmul_f32_case(Client& dev, Rng& r, const sys::AcceleratorConfig& cfg, int i) {
  const int64_t I = r.range(1, 30), J = r.range(1, 30), K = r.range(1, 50);
  auto A = r.floats(static_cast<std::size_t>(I * K), -1, 1);
  auto B = r.floats(static_cast<std::size_t>(K * J), -1, 1);
  auto D = r.floats(static_cast<std::size_t>(I * J), -1, 1);
  sys::MatmulF32Args a;
  a.I = I, a.J = J, a.K = K;
  a.A = A.data(), a.B = B.data();
  a.bias_kind = static_cast<sys::BiasKind>(r.range(0, 2));
  a.bias = a.bias_kind == sys::BiasKind::None ? nullptr : D.data();
  a.relu = r.coin(50);
  std::vector<float> c_local(static_cast<std::size_t>(I * J)), c_dev(c_local.size(), 3.0f);
  for (sys::Mode mode : kModes) {
    a.C = c_local.data();
    const sys::Counters k_local = sys::matmul_f32(cfg, mode, a);
    sys::MatmulF32Args d = a;
    d.C = c_dev.data();
    const sys::Counters k_dev = dev.matmul_f32(cfg, mode, d);
    check_same(k_local, k_dev, same_bytes(c_local, c_dev),
               "matmul_f32 case " + std::to_string(i) + " mode " + sys::mode_name(mode));
  }
}

void resadd_case(Client& dev, Rng& r, const sys::AcceleratorConfig& cfg, int i) {
  const int64_t n = i == 0 ? 0 : r.range(1, 5000);
  auto A = r.ints<int8_t>(static_cast<std::size_t>(n), -128, 127);
  auto B = r.ints<int8_t>(static_cast<std::size_t>(n), -128, 127);
  sys::ResaddArgs a;
  a.n = n;
  a.A = A.data(), a.B = B.data();
  a.a_ratio = r.floats(1, 0.2f, 1.5f)[0];
  a.b_ratio = r.floats(1, 0.2f, 1.5f)[0];
  a.relu = r.coin(50);
  a.a_zero_point = static_cast<int8_t>(r.coin(50) ? r.range(-20, 20) : 0);
  a.b_zero_point = static_cast<int8_t>(r.coin(50) ? r.range(-20, 20) : 0);
  a.c_zero_point = static_cast<int32_t>(r.coin(50) ? r.range(-20, 20) : 0);
  for (sys::Mode mode : kModes) {
    // C aliasing A, as the EP's in-place adds do.
    std::vector<int8_t> c_local = A, c_dev = A;
    sys::ResaddArgs l = a, d = a;
    l.A = l.C = c_local.data();
    d.A = d.C = c_dev.data();
    const sys::Counters k_local = sys::resadd(cfg, mode, l);
    const sys::Counters k_dev = dev.resadd(cfg, mode, d);
    check_same(k_local, k_dev, same_bytes(c_local, c_dev),
               "resadd case " + std::to_string(i) + " mode " + sys::mode_name(mode));
  }
}

// Random float -> int8 quantize, NCHW or NHWC: in-process and through the device, the same bytes (and nothing
// written outside Y).
void quantize_case(Client& dev, Rng& r, int i) {
  sys::QuantizeArgs a;
  a.batch = r.range(1, 3);
  a.channels = r.range(1, 70);
  a.spatial = i % 7 == 0 ? r.range(1000, 20000) : r.range(1, 300);
  const auto n = static_cast<std::size_t>(a.batch * a.channels * a.spatial);
  const float scales[] = {1.0f, 0.5f, 1.0f / 64, 1e-30f, 3.7f};
  a.scale = r.coin(60) ? r.floats(1, 1e-4f, 2.0f)[0] : scales[r.range(0, 4)];
  a.zero_point = static_cast<int32_t>(r.range(-128, 127));
  a.to_nhwc = r.coin(50);
  std::vector<float> x = r.floats(n, -300.0f * a.scale, 300.0f * a.scale);
  for (std::size_t k = 0; k < n; k += static_cast<std::size_t>(r.range(1, 40))) {
    switch (r.range(0, 5)) {  // specials and exact ties among them
      case 0: x[k] = std::numeric_limits<float>::infinity(); break;
      case 1: x[k] = -std::numeric_limits<float>::infinity(); break;
      case 2: x[k] = std::numeric_limits<float>::quiet_NaN(); break;
      case 3: x[k] = 3e38f; break;
      default: x[k] = (static_cast<float>(r.range(-200, 200)) + 0.5f) * a.scale; break;
    }
  }
  a.X = x.data();
  std::vector<int8_t> y_local(n + 16, 77), y_dev(n + 16, 77);
  a.Y = y_local.data() + 8;
  sys::quantize(a);
  sys::QuantizeArgs d = a;
  d.Y = y_dev.data() + 8;
  dev.quantize(d);
  CHECK_MSG(same_bytes(y_local, y_dev), "quantize case " + std::to_string(i) + ": outputs differ (" +
                                            std::to_string(a.batch) + "x" + std::to_string(a.channels) + "x" +
                                            std::to_string(a.spatial) + (a.to_nhwc ? " nhwc)" : " nchw)"));
}

void quantize_errors(Client& dev) {
  std::vector<float> x(6, 1.0f);
  std::vector<int8_t> y(6, 9);
  sys::QuantizeArgs a;
  a.batch = 1, a.channels = 2, a.spatial = 3;
  a.X = x.data(), a.Y = y.data();
  const auto remote_error = [&](const sys::QuantizeArgs& b) {
    try {
      dev.quantize(b);
    } catch (const DeviceError& e) {
      return std::string("DeviceError (wrong type): ") + e.what();
    } catch (const sys::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  sys::QuantizeArgs b = a;
  b.scale = 0.0f;  // refused by the device
  std::string msg = remote_error(b);
  CHECK_MSG(msg.rfind("device: quantize: scale must be finite and > 0", 0) == 0, "'" + msg + "'");
  b = a;
  b.zero_point = 128;
  msg = remote_error(b);
  CHECK_MSG(msg.rfind("device: quantize: zero_point must be in [-128, 127]", 0) == 0, "'" + msg + "'");
  CHECK_MSG(y == std::vector<int8_t>(6, 9), "a refused quantize wrote its output");
  b = a;
  b.channels = -1;  // refused before anything is sent, as in-process
  CHECK_THROWS(dev.quantize(b), sys::Error);
  CHECK_THROWS(sys::quantize(b), sys::Error);
  b = a;
  b.X = nullptr;
  CHECK_THROWS(dev.quantize(b), sys::Error);
  b = a;
  b.batch = b.channels = b.spatial = int64_t{1} << 40;
  msg = remote_error(b);
  CHECK_MSG(msg.find("over the limit") != std::string::npos, "'" + msg + "'");
  b = a;
  b.spatial = 0;  // nothing to do: no error, nothing written, in-process and through the device
  b.scale = -1.0f;
  dev.quantize(b);
  sys::quantize(b);
  CHECK(y == std::vector<int8_t>(6, 9));
  dev.quantize(a);
  CHECK(y == std::vector<int8_t>(6, 1));
}

void errors(Client& dev, const sys::AcceleratorConfig& cfg) {
  std::vector<int8_t> x(16), w(16), y(16);
  sys::ConvArgs a;
  a.shape.in_h = a.shape.in_w = 4;
  a.input = x.data(), a.weights = w.data(), a.output = y.data();
  a.y_zero_point = 300;  // refused by the model itself, on the device
  std::string local, remote;
  try {
    sys::conv2d(cfg, sys::Mode::WS, a);
  } catch (const sys::Error& e) {
    local = e.what();
  }
  try {
    dev.conv2d(cfg, sys::Mode::WS, a);
  } catch (const DeviceError&) {
    remote = "DeviceError (wrong type)";
  } catch (const sys::Error& e) {
    remote = e.what();
  }
  CHECK_MSG(!local.empty() && remote == "device: conv2d: " + local, "'" + local + "' vs '" + remote + "'");
  dev.ping();  // still usable
  a.shape.kernel_h = 9;  // larger than the input: refused locally, nothing sent
  CHECK_THROWS(dev.conv2d(cfg, sys::Mode::WS, a), sys::Error);
  a.shape.kernel_h = 1;
  a.y_zero_point = 0;
  a.output = nullptr;
  CHECK_THROWS(dev.conv2d(cfg, sys::Mode::WS, a), sys::Error);
  CHECK_THROWS(dev.set_config("dim = 3\n"), sys::Error);
  CHECK_THROWS(Client::connect_from_env(), DeviceError);  // one Client per process
  CHECK_THROWS(Client::connect("7"), DeviceError);
}

int run_cases(Client& dev, int n) {
  Rng r(12345);
  sys::AcceleratorConfig small = sys::AcceleratorConfig{}.with_dim(8);
  small.sp_bank_rows = 256;
  small.acc_rows = 64;
  small.validate();
  const sys::AcceleratorConfig int8_cfgs[] = {sys::AcceleratorConfig{}, small};
  const sys::AcceleratorConfig f32 = sys::AcceleratorConfig::fp32_defaults();
  for (int i = 0; i < n; ++i) {
    const sys::AcceleratorConfig& cfg = int8_cfgs[i % 2];
    conv_int8_case(dev, r, cfg, i);
    matmul_int8_case(dev, r, cfg, i);
    resadd_case(dev, r, cfg, i);
    quantize_case(dev, r, i);
    if (i % 2 == 0) {
      conv_f32_case(dev, r, f32, i);
      matmul_f32_case(dev, r, f32, i);
    }
  }
  errors(dev, sys::AcceleratorConfig{});
  quantize_errors(dev);
  return check::finish("device_e2e");
}

int small_window(Client& dev) {
  const sys::AcceleratorConfig cfg;
  sys::ConvArgs a;
  a.shape.in_h = a.shape.in_w = 256;
  a.shape.in_ch = 16;  // 1 MiB input alone: more than the 1 MiB window's data area
  a.shape.out_ch = 16;
  std::vector<int8_t> x(static_cast<std::size_t>(a.shape.input_elems())), w(256), y(x.size());
  a.input = x.data(), a.weights = w.data(), a.output = y.data();
  std::string msg;
  try {
    dev.conv2d(cfg, sys::Mode::CPU, a);
  } catch (const DeviceError& e) {
    msg = e.what();
  }
  CHECK_MSG(msg.find("--window-mb") != std::string::npos, "refusal: '" + msg + "'");
  // A quantize of 256 Ki floats (1 MiB in, 256 KiB out) does not fit either; one of 64 Ki does.
  {
    sys::QuantizeArgs q;
    q.batch = 1, q.channels = 4, q.spatial = 65536;
    std::vector<float> qx(static_cast<std::size_t>(q.channels * q.spatial), 0.3f);
    std::vector<int8_t> qy(qx.size());
    q.X = qx.data(), q.Y = qy.data(), q.scale = 0.1f;
    msg.clear();
    try {
      dev.quantize(q);
    } catch (const DeviceError& e) {
      msg = e.what();
    }
    CHECK_MSG(msg.find("quantize: the operands need") != std::string::npos &&
                  msg.find("--window-mb") != std::string::npos,
              "quantize refusal: '" + msg + "'");
    q.channels = 1;
    dev.quantize(q);
    CHECK_EQ(static_cast<int>(qy[65535]), 3);
  }
  // Chunked upload of 3 MiB, then weights of a conv taken from its end.
  Rng r(7);
  auto big = r.ints<int8_t>(3 << 20, -128, 127);
  const uint64_t h = dev.upload(big.data(), big.size());
  sys::ConvArgs c;
  c.shape.in_h = c.shape.in_w = 8;
  c.shape.in_ch = 64;
  c.shape.out_ch = 64;
  c.shape.kernel_h = c.shape.kernel_w = 3;
  c.multiplier = 0.001f;
  auto cx = r.ints<int8_t>(static_cast<std::size_t>(c.shape.input_elems()), -128, 127);
  std::vector<int8_t> yl(static_cast<std::size_t>(c.shape.output_elems())), yd(yl.size());
  const uint64_t off = big.size() - static_cast<uint64_t>(c.shape.weight_elems());
  c.input = cx.data();
  c.weights = big.data() + off;
  c.output = yl.data();
  const sys::Counters kl = sys::conv2d(cfg, sys::Mode::WS, c);
  c.weights = nullptr;
  c.output = yd.data();
  ResidentOperands res;
  res.weights = {h, off};
  const sys::Counters kd = dev.conv2d(cfg, sys::Mode::WS, c, res);
  check_same(kl, kd, same_bytes(yl, yd), "conv with weights at the end of a 3 MiB upload");
  return check::finish("device_small_window");
}

int bench(Client& dev) {
  const auto best = [](int reps, const auto& fn) {
    double b = 1e30;
    for (int i = 0; i < reps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      b = std::min(b, ms_since(t0));
    }
    return b;
  };
  dev.ping();
  const int n = 2000;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) dev.ping();
  std::printf("round trip (ping): %.1f us mean over %d\n", 1e3 * ms_since(t0) / n, n);
  Rng r(1);
  const sys::AcceleratorConfig cfg;
  sys::ConvArgs a;
  a.shape.in_h = a.shape.in_w = 56;
  a.shape.in_ch = a.shape.out_ch = 64;
  a.shape.kernel_h = a.shape.kernel_w = 3;
  a.shape.pad_top = a.shape.pad_left = a.shape.pad_bottom = a.shape.pad_right = 1;
  auto x = r.ints<int8_t>(static_cast<std::size_t>(a.shape.input_elems()), -128, 127);
  auto w = r.ints<int8_t>(static_cast<std::size_t>(a.shape.weight_elems()), -128, 127);
  auto b = r.ints<int32_t>(64, -1000, 1000);
  std::vector<int8_t> y(static_cast<std::size_t>(a.shape.output_elems()));
  a.input = x.data(), a.weights = w.data(), a.bias = b.data(), a.output = y.data(), a.multiplier = 0.002f;
  a.relu = true;
  const uint64_t h = dev.upload(w.data(), w.size());
  ResidentOperands res;
  res.weights = {h, 0};
  for (sys::Mode mode : kModes) {
    const double local = best(3, [&] { sys::conv2d(cfg, mode, a); });
    const double remote = best(5, [&] { dev.conv2d(cfg, mode, a); });
    const double resident = best(5, [&] { dev.conv2d(cfg, mode, a, res); });
    std::printf("conv 56x56x64->64 3x3 %s: in-process %.2f ms, device %.2f ms, device with resident weights %.2f ms\n",
                sys::mode_name(mode), local, remote, resident);
  }
  return 0;
}

int fault_kill_device(Client& dev, const char* out_file) {
  const pid_t device = dev.device_pid();
  std::vector<int8_t> x(64 * 64 * 64), w(9 * 64 * 64), y(x.size());
  sys::ConvArgs a;
  a.shape.in_h = a.shape.in_w = 64;
  a.shape.in_ch = a.shape.out_ch = 64;
  a.shape.kernel_h = a.shape.kernel_w = 3;
  a.input = x.data(), a.weights = w.data(), a.output = y.data();
  std::chrono::steady_clock::time_point killed{};
  std::atomic<bool> sent{false};
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    killed = std::chrono::steady_clock::now();
    sent = true;
    kill(device, SIGKILL);
  });
  std::string result;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    for (;;) {
      dev.conv2d(sys::AcceleratorConfig{}, sys::Mode::WS, a);
      if (ms_since(t0) > 20000) {
        result = "fail: no error 20 s after the kill";
        break;
      }
    }
  } catch (const DeviceError& e) {
    killer.join();
    const double ms = ms_since(killed);
    result = (ms < 3000 ? "ok " : "fail: too slow ") + std::to_string(ms) + " ms: " + e.what();
    // Every later call fails at once.
    try {
      dev.ping();
      result = "fail: ping after death worked";
    } catch (const DeviceError&) {
    }
  }
  if (killer.joinable()) killer.join();
  std::ofstream(out_file) << result << "\n";
  std::printf("%s\n", result.c_str());
  return result.rfind("ok", 0) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  std::unique_ptr<Client> dev;
  try {
    dev = Client::connect_from_env();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test_device_e2e: %s\n", e.what());
    return 1;
  }
  if (!dev) {
    std::fprintf(stderr, "test_device_e2e: run me under rcnn_device (RCNN_SYSTOLIC_DEVICE is not set)\n");
    return 1;
  }
  try {
    if (mode.empty()) return run_cases(*dev, 60);
    if (mode == "--quick") return run_cases(*dev, 12);
    if (mode == "--small-window") return small_window(*dev);
    if (mode == "--bench") return bench(*dev);
    if (mode == "--fault" && argc > 3 && std::string(argv[2]) == "kill-device") return fault_kill_device(*dev, argv[3]);
    if (mode == "--fault" && argc > 2 && std::string(argv[2]) == "kill-self") {
      dev->ping();
      raise(SIGKILL);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test_device_e2e: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "test_device_e2e: unknown mode '%s'\n", mode.c_str());
  return 2;
}
