// quantize (float32 -> int8, ONNX QuantizeLinear per tensor) against a reference written here from the definition:
// x / scale in float32, std::nearbyint in the default rounding mode (ties to even), + zero point, clamp to
// [-128, 127], NaN -> -128. Random values and random bit patterns, exact ties, +-inf, NaN, huge values, every zero
// point, the uint8 domain (zp_u8 - 128), NCHW and NHWC outputs on odd sizes (nothing written outside Y), a pool of
// 3 threads against one, and the argument errors.
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "systolic/quantize.h"
#include "systolic/thread_pool.h"
#include "test_util.h"

using namespace rcnn::systolic;

namespace {

int ref_quantize(float x, float scale, int zp) {
  const float v = x / scale;
  if (std::isnan(v)) return -128;
  const double r = static_cast<double>(std::nearbyint(v)) + zp;  // v may be +-inf: the clamp takes it
  return r < -128.0 ? -128 : r > 127.0 ? 127 : static_cast<int>(r);
}

// uint8 tensors, as ONNX defines them: clamp(round(x / scale) + zp_u8, 0, 255).
int ref_quantize_u8(float x, float scale, int zp_u8) {
  const float v = x / scale;
  if (std::isnan(v)) return 0;
  const double r = static_cast<double>(std::nearbyint(v)) + zp_u8;
  return r < 0.0 ? 0 : r > 255.0 ? 255 : static_cast<int>(r);
}

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

std::string desc(float x, float scale, int zp) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  char buf[128];
  std::snprintf(buf, sizeof buf, "x=%.9g (0x%08x) scale=%.9g zp=%d", static_cast<double>(x), bits,
                static_cast<double>(scale), zp);
  return buf;
}

void check_value(float x, float scale, int zp) {
  CHECK_EQ_CTX(static_cast<int>(quantize_value(x, scale, zp)), ref_quantize(x, scale, zp), desc(x, scale, zp));
}

float random_scale(tu::Rng& r) {
  switch (r.range(0, 5)) {
    case 0: return std::ldexp(1.0f, static_cast<int>(r.range(-20, 10)));  // powers of two: exact ties
    case 1: return 1e-30f;
    case 2: return 1.0f;
    case 3: return std::numeric_limits<float>::denorm_min();
    default: return static_cast<float>(r.range(1, 100000)) / static_cast<float>(r.range(1, 3000000));
  }
}

// The whole tensor in one call, checked element by element against the reference in the chosen layout; the
// guard bytes around Y must stay as they were.
void check_tensor(tu::Rng& r, int64_t batch, int64_t channels, int64_t spatial, bool nhwc, ThreadPool* pool,
                  const std::string& what) {
  const int64_t n = batch * channels * spatial;
  std::vector<float> X(static_cast<std::size_t>(n));
  const float scale = random_scale(r);
  const int zp = static_cast<int>(r.range(-128, 127));
  for (auto& x : X) {
    if (r.coin(5))
      x = from_bits(static_cast<uint32_t>(r.range(0, 0xffffffffLL)));
    else
      x = scale * static_cast<float>(r.range(-40000, 40000)) / 200.0f;
  }
  constexpr int64_t kGuard = 64;
  std::vector<int8_t> Y(static_cast<std::size_t>(n + 2 * kGuard), int8_t{0x5a});
  QuantizeArgs a;
  a.batch = batch, a.channels = channels, a.spatial = spatial;
  a.X = X.data();
  a.Y = Y.data() + kGuard;
  a.scale = scale;
  a.zero_point = zp;
  a.to_nhwc = nhwc;
  ExecOptions opt;
  opt.pool = pool;
  quantize(a, opt);
  long bad = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t s = 0; s < spatial; ++s) {
        const float x = X[static_cast<std::size_t>((b * channels + c) * spatial + s)];
        const int64_t at = nhwc ? (b * spatial + s) * channels + c : (b * channels + c) * spatial + s;
        const int got = Y[static_cast<std::size_t>(kGuard + at)];
        if (got != ref_quantize(x, scale, zp) && ++bad <= 3)
          CHECK_EQ_CTX(got, ref_quantize(x, scale, zp), what + " at " + std::to_string(at) + " " + desc(x, scale, zp));
      }
  CHECK_MSG(bad == 0, what + ": " + std::to_string(bad) + " elements differ");
  bool guards = true;
  for (int64_t i = 0; i < kGuard; ++i)
    guards = guards && Y[static_cast<std::size_t>(i)] == 0x5a && Y[static_cast<std::size_t>(kGuard + n + i)] == 0x5a;
  CHECK_MSG(guards, what + ": wrote outside Y");
}

}  // namespace

int main() {
  CHECK(std::fegetround() == FE_TONEAREST);
  tu::Rng r(21);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();

  // Known values (not from the reference): ties to even, both signs.
  CHECK_EQ(quantize_value(0.5f, 1.0f, 0), int8_t{0});
  CHECK_EQ(quantize_value(1.5f, 1.0f, 0), int8_t{2});
  CHECK_EQ(quantize_value(2.5f, 1.0f, 0), int8_t{2});
  CHECK_EQ(quantize_value(-0.5f, 1.0f, 0), int8_t{0});
  CHECK_EQ(quantize_value(-1.5f, 1.0f, 0), int8_t{-2});
  CHECK_EQ(quantize_value(-2.5f, 1.0f, 0), int8_t{-2});
  CHECK_EQ(quantize_value(0.75f, 0.5f, 3), int8_t{5});       // 1.5 -> 2, + 3
  CHECK_EQ(quantize_value(1.25f, 0.5f, -128), int8_t{-126});  // 2.5 -> 2, - 128
  CHECK_EQ(quantize_value(126.5f, 1.0f, 0), int8_t{126});
  CHECK_EQ(quantize_value(127.5f, 1.0f, 0), int8_t{127});
  CHECK_EQ(quantize_value(-128.5f, 1.0f, 0), int8_t{-128});
  CHECK_EQ(quantize_value(1000.0f, 1.0f, -100), int8_t{127});
  CHECK_EQ(quantize_value(-1000.0f, 1.0f, 100), int8_t{-128});

  // Random values (and random bit patterns: NaNs, infinities, denormals) with random scales and zero points.
  for (int i = 0; i < 400000; ++i) {
    const float scale = random_scale(r);
    const int zp = static_cast<int>(r.range(-128, 127));
    const float x = r.coin(30) ? from_bits(static_cast<uint32_t>(r.range(0, 0xffffffffLL)))
                               : scale * static_cast<float>(r.range(-100000, 100000)) / 317.0f;
    check_value(x, scale, zp);
  }

  // Exact ties: (k + 0.5) * scale for many k. With a power-of-two scale x / scale is exactly k + 0.5; with other
  // scales it often is; the reference decides either way, and enough of them must be real ties.
  {
    long ties = 0;
    const float scales[] = {1.0f, 0.5f, 0.25f, 0.0078125f, 1.0f / 1024, 4.0f, 0.1f, 0.3f, 0.0123f, 1.7f, 3e-5f};
    for (float scale : scales)
      for (int k = -300; k <= 300; ++k) {
        const float x = (static_cast<float>(k) + 0.5f) * scale;
        ties += x / scale == static_cast<float>(k) + 0.5f;
        for (int zp : {-128, -3, 0, 1, 64, 127}) check_value(x, scale, zp);
        if (std::ldexp(1.0f, std::ilogb(scale)) == scale && k > -100 && k < 100) {  // hard facts, exact ties
          const int even = (k % 2 == 0) ? k : k + 1;                              // k + 0.5 rounds to the even one
          CHECK_EQ_CTX(static_cast<int>(quantize_value(x, scale, 0)), even, desc(x, scale, 0));
        }
      }
    CHECK_MSG(ties > 5 * 601, "only " + std::to_string(ties) + " exact ties");
  }

  // +-inf, NaN, huge values and extreme scales, every zero point.
  const float specials[] = {inf,
                            -inf,
                            nan,
                            -nan,
                            from_bits(0x7f800001u),  // signalling NaN
                            from_bits(0xffc12345u),
                            std::numeric_limits<float>::max(),
                            -std::numeric_limits<float>::max(),
                            1e30f,
                            -1e30f,
                            3e9f,
                            -3e9f,
                            2147483648.0f,
                            -2147483904.0f,
                            std::numeric_limits<float>::min(),
                            std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::denorm_min(),
                            0.0f,
                            -0.0f,
                            1.0f,
                            -1.0f,
                            0.49999997f,
                            -0.49999997f,
                            127.49999f,
                            -128.5f};
  const float special_scales[] = {1.0f, 1e-30f, std::numeric_limits<float>::denorm_min(),
                                  std::numeric_limits<float>::max(), 0.0039215689f, 3.5f};
  for (int zp = -128; zp <= 127; ++zp) {
    for (float x : specials)
      for (float scale : special_scales) check_value(x, scale, zp);
    for (float scale : special_scales) {
      CHECK_EQ(quantize_value(inf, scale, zp), int8_t{127});
      CHECK_EQ(quantize_value(-inf, scale, zp), int8_t{-128});
      CHECK_EQ(quantize_value(nan, scale, zp), int8_t{-128});
      CHECK_EQ(quantize_value(-nan, scale, zp), int8_t{-128});
    }
    CHECK_EQ(static_cast<int>(quantize_value(0.0f, 1.0f, zp)), zp);
    for (int i = 0; i < 200; ++i) check_value(static_cast<float>(r.range(-2000, 2000)) / 7.0f, 0.37f, zp);
  }

  // uint8 tensors: the int8-domain zero point zp_u8 - 128 gives y_u8 - 128.
  for (int zp_u8 = 0; zp_u8 <= 255; ++zp_u8)
    for (int i = 0; i < 300; ++i) {
      const float scale = random_scale(r);
      const float x = i < 4 ? specials[i] : scale * static_cast<float>(r.range(-80000, 80000)) / 211.0f;
      CHECK_EQ_CTX(static_cast<int>(quantize_value(x, scale, zp_u8 - 128)), ref_quantize_u8(x, scale, zp_u8) - 128,
                   desc(x, scale, zp_u8) + " (uint8 zp)");
    }

  // Tensors: NCHW and NHWC on odd sizes, one thread and a pool of 3.
  ThreadPool pool(3);
  const int64_t sizes[][3] = {{1, 1, 1}, {1, 3, 5}, {2, 7, 9}, {3, 5, 13}, {1, 17, 1}, {2, 1, 31},
                              {1, 64, 49}, {2, 3, 70001}, {3, 257, 300}, {1, 1001, 67}};
  for (const auto& s : sizes)
    for (bool nhwc : {false, true})
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        const std::string what = std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]) +
                                 (nhwc ? " nhwc" : " nchw") + (p ? " t3" : " t1");
        check_tensor(r, s[0], s[1], s[2], nhwc, p, what);
      }

  // Threads: the same call on a pool of 3 gives the same bytes as on one thread (many tasks: rows of 300 and of
  // 100,000 elements).
  for (const auto& s : {std::vector<int64_t>{2, 300, 1000}, std::vector<int64_t>{2, 5, 100000}})
    for (bool nhwc : {false, true}) {
      const int64_t n = s[0] * s[1] * s[2];
      std::vector<float> X(static_cast<std::size_t>(n));
      for (auto& x : X) x = static_cast<float>(r.range(-1000000, 1000000)) / 3000.0f;
      std::vector<int8_t> y1(X.size(), 1), y3(X.size(), 2);
      QuantizeArgs a;
      a.batch = s[0], a.channels = s[1], a.spatial = s[2];
      a.X = X.data();
      a.scale = 0.77f;
      a.zero_point = -5;
      a.to_nhwc = nhwc;
      a.Y = y1.data();
      quantize(a, {});
      a.Y = y3.data();
      ExecOptions opt;
      opt.pool = &pool;
      quantize(a, opt);
      CHECK_MSG(y1 == y3, std::string("pool of 3 vs one thread, ") + (nhwc ? "nhwc" : "nchw"));
    }

  // Argument errors.
  {
    std::vector<float> X(12, 1.0f);
    std::vector<int8_t> Y(12);
    QuantizeArgs a;
    a.batch = 1, a.channels = 3, a.spatial = 4;
    a.X = X.data(), a.Y = Y.data();
    quantize(a);  // valid
    CHECK_EQ(Y[11], int8_t{1});
    auto bad = [&](auto change) {
      QuantizeArgs b = a;
      change(b);
      return b;
    };
    CHECK_THROWS(quantize(bad([](QuantizeArgs& b) { b.batch = -1; })), Error);
    CHECK_THROWS(quantize(bad([](QuantizeArgs& b) { b.channels = -3; })), Error);
    CHECK_THROWS(quantize(bad([](QuantizeArgs& b) { b.spatial = std::numeric_limits<int64_t>::min(); })), Error);
    CHECK_THROWS(quantize(bad([](QuantizeArgs& b) { b.X = nullptr; })), Error);
    CHECK_THROWS(quantize(bad([](QuantizeArgs& b) { b.Y = nullptr; })), Error);
    for (float s : {0.0f, -0.0f, -1.0f, inf, -inf, nan})
      CHECK_THROWS(quantize(bad([s](QuantizeArgs& b) { b.scale = s; })), Error);
    for (int zp : {-129, 128, 255, -1000000})
      CHECK_THROWS(quantize(bad([zp](QuantizeArgs& b) { b.zero_point = zp; })), Error);
    // No elements: nothing to read or write, null pointers are fine.
    QuantizeArgs empty;
    empty.batch = 0, empty.channels = 3, empty.spatial = 4;
    quantize(empty);
    empty.batch = 2, empty.spatial = 0;
    quantize(empty);
    // A refused call writes nothing.
    std::vector<int8_t> before = Y;
    CHECK_THROWS(quantize(bad([](QuantizeArgs& b) { b.zero_point = 300; })), Error);
    CHECK(Y == before);
  }
  return check::finish("systolic_quantize");
}
