// The accelerator's int8 numerics, exactly as the reference Gemmini int8 build (systolic_params_int8.h,
// systolic_include.h) computes them. Every mode (CPU, OS, WS) and every kernel goes through these functions for the
// rounding steps, so the modes are bit-identical by construction.
//
//   acc  = int32 bias (accumulator init, 0 without bias) + sum_k a*b      int8*int8 products, int32 wrap-around
//   mult = (x_scale * w_scale) / y_scale                                   float32, in exactly this order
//   y    = RNE(float(acc) * mult)                                          float32 multiply, round half to even
//   y    = clamp(y, -128, 127); relu ? max(y, 0) : y                       ReLU after saturation
//
// Quantization forms beyond that (conv.h, matmul.h): a per-output-channel multiplier (one float32 per output
// column, each formed by make_multiplier), an input zero point (folded into the int32 accumulator init, see the op
// headers) and an output zero point y_zp in [-128, 127] added after rounding:
//   y    = clamp(RNE(float(acc) * mult[c]) + y_zp, lo, 127),  lo = relu ? y_zp : -128     (requantize())
// With y_zp = 0 this is exactly the line above (ReLU clamps at the zero point, i.e. at the real value 0).
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

// One output element with an output zero point: y = clamp(RNE(float(acc) * multiplier) + y_zp, lo, hi).
// Requires -128 <= lo <= hi <= 127 and y_zp in [-128, 127] (the ops check it); `multiplier` must not be NaN.
// Clamping the scaled value to [-256, 256] first does not change the result: |y_zp| <= 128, so both bounds still
// saturate.
inline int8_t requantize(int32_t acc, float multiplier, int32_t y_zp, int32_t lo, int32_t hi) noexcept {
  const float y = static_cast<float>(acc) * multiplier;
  const int32_t r = static_cast<int32_t>(rne_small(clamp_pre_round(y))) + y_zp;
  return static_cast<int8_t>(r < lo ? lo : (r > hi ? hi : r));
}

// One output element: int32 accumulator -> scaled, rounded, saturated, optionally ReLU'd int8 (zero point 0).
// `multiplier` must not be NaN (ops reject non-finite multipliers).
inline int8_t scale_acc(int32_t acc, float multiplier, bool relu) noexcept {
  return requantize(acc, multiplier, 0, relu ? 0 : -128, 127);
}

#if defined(__GNUC__)
#define RCNN_SYSTOLIC_COLD __attribute__((noinline, cold))
#else
#define RCNN_SYSTOLIC_COLD
#endif
// requantize() kept out of line for the rare slow path of Requantizer::apply (keeps the hot loop's registers free).
RCNN_SYSTOLIC_COLD inline int8_t requantize_slow(int32_t acc, float multiplier, int32_t y_zp, int32_t lo,
                                                 int32_t hi) noexcept {
  return requantize(acc, multiplier, y_zp, lo, hi);
}

// requantize() for one fixed multiplier, output zero point and clamp range, computed mostly in integer arithmetic
// (float operations are slow under qemu, where each one is a softfloat helper call). Bit-identical to requantize()
// by construction:
//   m = Mm * 2^-sh exactly (Mm a 24-bit integer). For |acc| < 2^24, float(acc) is exact and x = acc * m is the
//   exact product, so t = acc * Mm (an exact int64) equals x * 2^sh. float32 rounding moves x by at most
//   |x| * 2^-24 < 2^-15 for |x| <= 258. If x is farther than 2^-15 from every half-integer, round(float(x)) equals
//   round-to-nearest(x) = q = (t + 2^(sh-1)) >> sh, which the fast path uses. When q + y_zp is above hi + 1 or
//   below -129 the result saturates to hi or lo whatever the rounding (the float rounding moves q by at most 1), so
//   only |x| <= 258 reaches the tie test. Everything else (near-ties, |acc| >= 2^24, unusual multipliers) takes
//   requantize() itself.
// One Requantizer per output column for per-channel multipliers (built once per call, never per element).
class Requantizer {
 public:
  Requantizer(float multiplier, bool relu) noexcept : Requantizer(multiplier, 0, relu) {}
  // y_zp in [-128, 127] (callers check); ReLU clamps at the zero point.
  Requantizer(float multiplier, int32_t y_zp, bool relu) noexcept
      : multiplier_(multiplier), y_zp_(y_zp), lo_(relu ? y_zp : -128), hi_(127) {
    if (lo_ < -128) lo_ = -128;
    if (lo_ > 127) lo_ = 127;
    // Shortcut bounds of the unclamped range (ReLU's bound is left to the final clamp: a shortcut at y_zp would be a
    // data-dependent branch taken by about half of the values, which costs more than it saves).
    sat_hi_ = hi_ - y_zp_ + 1;
    sat_lo_ = -128 - y_zp_ - 1;
    int e = 0;
    const float fr = std::frexp(multiplier, &e);  // multiplier = fr * 2^e, 0.5 <= |fr| < 1
    const int shift = 24 - e;                     // multiplier = (fr * 2^24) * 2^-shift
    if (multiplier != 0.0f && std::isfinite(multiplier) && shift >= 1 && shift <= 62) {
      fast_ = true;
      mant_ = static_cast<int64_t>(std::ldexp(fr, 24));  // exact: a float has 24 significant bits
      shift_ = shift;
      half_ = int64_t{1} << (shift - 1);
      mask_ = (int64_t{1} << shift) - 1;
      // shift < 15 means |multiplier| >= 512: any acc != 0 saturates before the tie test, acc == 0 is exact.
      margin_ = shift >= 15 ? (int64_t{1} << (shift - 15)) : 0;
    }
  }

  int8_t operator()(int32_t acc) const noexcept {
    return fast_ ? step(acc, multiplier_, y_zp_, lo_, hi_, mant_, half_, mask_, margin_, sat_hi_, sat_lo_, shift_)
                 : requantize(acc, multiplier_, y_zp_, lo_, hi_);
  }

  // out[c] = (*this)(acc[c]) for c < n, with the constants in locals (the int8 stores could alias the members).
  void apply(const int32_t* acc, int64_t n, int8_t* out) const noexcept {
    const float m = multiplier_;
    const int32_t y_zp = y_zp_, lo = lo_, hi = hi_;
    if (!fast_) {
      for (int64_t c = 0; c < n; ++c) out[c] = requantize(acc[c], m, y_zp, lo, hi);
      return;
    }
    const int64_t mant = mant_, half = half_, mask = mask_, margin = margin_, sat_hi = sat_hi_, sat_lo = sat_lo_;
    const int shift = shift_;
    for (int64_t c = 0; c < n; ++c)
      out[c] = step(acc[c], m, y_zp, lo, hi, mant, half, mask, margin, sat_hi, sat_lo, shift);
  }

  float multiplier() const noexcept { return multiplier_; }
  int32_t zero_point() const noexcept { return y_zp_; }
  int32_t lo() const noexcept { return lo_; }
  int32_t hi() const noexcept { return hi_; }

 private:
  // The fast path (fast_ only): one int64 multiply, a shift and compares; requantize_slow() near ties and for
  // |acc| >= 2^24.
  static int8_t step(int32_t a, float m, int32_t y_zp, int32_t lo, int32_t hi, int64_t mant, int64_t half,
                     int64_t mask, int64_t margin, int64_t sat_hi, int64_t sat_lo, int shift) noexcept {
    if (a <= -16777216 || a >= 16777216) return requantize_slow(a, m, y_zp, lo, hi);
    const int64_t t = static_cast<int64_t>(a) * mant + half;  // |t| < 2^48 + 2^61
    const int64_t q = t >> shift;  // floor: arithmetic shift (implementation-defined, arithmetic on GCC/Clang)
    if (q > sat_hi) return static_cast<int8_t>(hi);
    if (q < sat_lo) return static_cast<int8_t>(lo);
    const int64_t f = t & mask;  // distance above the half-integer below x, in units of 2^-shift
    if (f <= margin || mask + 1 - f <= margin) return requantize_slow(a, m, y_zp, lo, hi);
    const int64_t r = q + y_zp;
    return static_cast<int8_t>(r < lo ? lo : (r > hi ? hi : r));
  }

  float multiplier_;
  int32_t y_zp_;
  int32_t lo_, hi_;
  int64_t sat_hi_ = 0, sat_lo_ = 0;
  bool fast_ = false;
  int64_t mant_ = 0;
  int shift_ = 0;
  int64_t half_ = 0;
  int64_t mask_ = 0;
  int64_t margin_ = 0;
};

// Gemmini's scaled mvin of one input of a resadd, already centred on its zero point (v = x - x_zp, |v| <= 255):
// sat8(RNE(float(v) * ratio)).
inline int32_t resadd_scale_centered(int32_t v, float ratio) noexcept {
  const float y = static_cast<float>(v) * ratio;
  return sat8(static_cast<int32_t>(rne_small(clamp_pre_round(y))));
}
// The same for an int8 input with zero point 0: sat8(RNE(float(v) * ratio)).
inline int32_t resadd_scale_input(int8_t v, float ratio) noexcept { return resadd_scale_centered(v, ratio); }

// One resadd element.
inline int8_t resadd_elem(int8_t a, float a_ratio, int8_t b, float b_ratio, bool relu) noexcept {
  const int32_t s = resadd_scale_input(a, a_ratio) + resadd_scale_input(b, b_ratio);
  const int32_t lo = relu ? 0 : -128;
  return static_cast<int8_t>(s < lo ? lo : (s > 127 ? 127 : s));
}

// One resadd element with zero points (c_zp in [-128, 127]): a' = sat8(RNE((a - a_zp) * a_ratio)), b' likewise,
// c = clamp(a' + b' + c_zp, relu ? c_zp : -128, 127).
inline int8_t resadd_elem_zp(int8_t a, int8_t a_zp, float a_ratio, int8_t b, int8_t b_zp, float b_ratio, int32_t c_zp,
                             bool relu) noexcept {
  const int32_t s = resadd_scale_centered(a - a_zp, a_ratio) + resadd_scale_centered(b - b_zp, b_ratio) + c_zp;
  const int32_t lo = relu ? c_zp : -128;
  return static_cast<int8_t>(s < lo ? lo : (s > 127 ? 127 : s));
}

}  // namespace rcnn::systolic
