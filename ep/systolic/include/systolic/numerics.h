// The accelerator's int8 numerics, exactly as the reference Gemmini int8 build (systolic_params_int8.h,
// systolic_include.h) computes them. Every mode (CPU, OS, WS) and every kernel goes through these functions for the
// rounding steps, so the modes are bit-identical by construction.
//
//   acc  = int32 bias (accumulator init, 0 without bias) + sum_k a*b      int8*int8 products, int32 wrap-around
//   mult = (x_scale * w_scale) / y_scale                                   float32, in exactly this order
//   y    = RNE(float(acc) * mult)                                          float32 multiply, round half to even
//   y    = clamp(y, -128, 127); relu ? max(y, 0) : y                       ReLU after saturation
//
// Residual add (QLinearAdd): each input is scaled, rounded and saturated on its own (Gemmini's scaled mvin), then
//   c = clamp(a' + b', relu ? 0 : -128, 127),  a' = sat8(RNE(float(a) * (a_scale/c_scale))), b' likewise.
//
// Floating-point notes: float(acc) is a float32 conversion (round to nearest even for |acc| > 2^24, as in the
// reference). The code relies on IEEE float32 evaluation: no -ffast-math (checked below), FLT_EVAL_METHOD 0 (checked),
// and no FMA contraction of "multiply then add the rounding constant" (impossible here: a clamp sits between the two;
// the library also builds with -ffp-contract=off).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#if defined(__FAST_MATH__)
#error "rcnn systolic numerics need IEEE float semantics: do not build with -ffast-math/-Ofast"
#endif
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "rcnn systolic numerics need float32 evaluation of float expressions (FLT_EVAL_METHOD == 0)"
#endif

namespace rcnn::systolic {

// Wrapping int32 addition without signed-overflow UB (two's complement, like the hardware accumulator).
constexpr int32_t wrap_add(int32_t a, int32_t b) noexcept {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// Round half to even of a float32 whose magnitude is at most 2^22, without touching the FP environment: adding and
// subtracting 1.5 * 2^23 leaves an integer because the float32 ulp at that magnitude is 1, and the hardware rounds the
// sum to nearest even (default rounding mode). Exact for |x| <= 2^22. Without -ffast-math the compiler may not fold
// (x + M) - M, and there is no multiply to contract into an FMA.
inline float rne_small(float x) noexcept {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  const float t = x + kMagic;
  return t - kMagic;
}

// Round half to even for any float32 (|x| >= 2^23 is already integral; NaN stays NaN). Same trick with 2^23: for
// 0 <= x < 2^23 the sum x + 2^23 lies in [2^23, 2^24) where the ulp is 1 (mirrored for negative x).
inline float round_half_even(float x) noexcept {
  constexpr float kTwo23 = 8388608.0f;
  if (!(x > -kTwo23 && x < kTwo23)) return x;
  if (x >= 0.0f) {
    const float t = x + kTwo23;
    return t - kTwo23;
  }
  const float t = x - kTwo23;
  return t + kTwo23;
}

// Saturate an int32 to int8.
constexpr int8_t sat8(int32_t v) noexcept {
  return static_cast<int8_t>(v < -128 ? -128 : (v > 127 ? 127 : v));
}

// Float32 multiplier of a quantized matmul/conv: (x_scale * w_scale) / y_scale, each step a float32 operation.
inline float make_multiplier(float x_scale, float w_scale, float y_scale) noexcept {
  const float t = x_scale * w_scale;  // rounded to float32 here (FLT_EVAL_METHOD 0), then divided
  return t / y_scale;
}

// Float32 ratio of an input scale to the output scale for resadd: a_scale / c_scale.
inline float make_ratio(float in_scale, float out_scale) noexcept { return in_scale / out_scale; }

// Clamp a scaled float into [-256, 256] before rounding: rounding is monotonic and both bounds saturate to the int8
// limits, so this does not change the final int8 and keeps the value in rne_small's exact range (inf included).
inline float clamp_pre_round(float y) noexcept { return y < -256.0f ? -256.0f : (y > 256.0f ? 256.0f : y); }

// One output element: int32 accumulator -> scaled, rounded, saturated, optionally ReLU'd int8.
// `multiplier` must not be NaN (ops reject non-finite multipliers).
inline int8_t scale_acc(int32_t acc, float multiplier, bool relu) noexcept {
  const float y = static_cast<float>(acc) * multiplier;
  const int32_t r = static_cast<int32_t>(rne_small(clamp_pre_round(y)));
  const int8_t s = sat8(r);
  return (relu && s < 0) ? int8_t{0} : s;
}

// scale_acc for one fixed multiplier, computed mostly in integer arithmetic (float operations are slow under
// qemu, where each one is a softfloat helper call). Bit-identical to scale_acc by construction:
//   m = Mm * 2^-sh exactly (Mm a 24-bit integer). For |acc| < 2^24, float(acc) is exact and x = acc * m is the
//   exact product, so t = acc * Mm (an exact int64) equals x * 2^sh. float32 rounding moves x by at most
//   |x| * 2^-24 <= 2^-16.9 for |x| <= 130. If x is farther than 2^-16 from every half-integer, round(float(x)) equals
//   round-to-nearest(x) = (t + 2^(sh-1)) >> sh, which the fast path returns. Results beyond +-129 saturate whatever
//   the rounding. Everything else (near-ties, |acc| >= 2^24, unusual multipliers) takes scale_acc itself.
class Requantizer {
 public:
  Requantizer(float multiplier, bool relu) noexcept : multiplier_(multiplier), relu_(relu) {
    int e = 0;
    const float fr = std::frexp(multiplier, &e);  // multiplier = fr * 2^e, 0.5 <= |fr| < 1
    const int shift = 24 - e;                     // multiplier = (fr * 2^24) * 2^-shift
    if (multiplier != 0.0f && std::isfinite(multiplier) && shift >= 1 && shift <= 62) {
      fast_ = true;
      mant_ = static_cast<int64_t>(std::ldexp(fr, 24));  // exact: a float has 24 significant bits
      shift_ = shift;
      half_ = int64_t{1} << (shift - 1);
      mask_ = (int64_t{1} << shift) - 1;
      margin_ = shift >= 16 ? (int64_t{1} << (shift - 16)) : 0;
    }
  }

  int8_t operator()(int32_t acc) const noexcept {
    if (fast_ && acc > -16777216 && acc < 16777216) {
      const int64_t t = static_cast<int64_t>(acc) * mant_ + half_;  // |t| < 2^48 + 2^61
      const int64_t q = t >> shift_;  // floor: arithmetic shift (implementation-defined, arithmetic on GCC/Clang)
      if (q > 129) return 127;
      if (q < -129) return relu_ ? int8_t{0} : int8_t{-128};
      const int64_t f = t & mask_;    // distance above the half-integer below x, in units of 2^-shift
      if (f > margin_ && mask_ + 1 - f > margin_) {
        const int8_t s = sat8(static_cast<int32_t>(q));
        return (relu_ && s < 0) ? int8_t{0} : s;
      }
    }
    return scale_acc(acc, multiplier_, relu_);
  }

 private:
  float multiplier_;
  bool relu_;
  bool fast_ = false;
  int64_t mant_ = 0;
  int shift_ = 0;
  int64_t half_ = 0;
  int64_t mask_ = 0;
  int64_t margin_ = 0;
};

// Gemmini's scaled mvin of one int8 input of a resadd: sat8(RNE(float(v) * ratio)).
inline int32_t resadd_scale_input(int8_t v, float ratio) noexcept {
  const float y = static_cast<float>(v) * ratio;
  return sat8(static_cast<int32_t>(rne_small(clamp_pre_round(y))));
}

// One resadd element.
inline int8_t resadd_elem(int8_t a, float a_ratio, int8_t b, float b_ratio, bool relu) noexcept {
  const int32_t s = resadd_scale_input(a, a_ratio) + resadd_scale_input(b, b_ratio);
  const int32_t lo = relu ? 0 : -128;
  return static_cast<int8_t>(s < lo ? lo : (s > 127 ? 127 : s));
}

}  // namespace rcnn::systolic
