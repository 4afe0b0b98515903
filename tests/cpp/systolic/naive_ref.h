// Independent naive references for the systolic tests: straight loops over the definitions, int64 sums reduced
// modulo 2^32 at the end, rounding through std::nearbyint (default rounding mode = round half to even). Written
// without the library's helpers so a shared mistake cannot hide.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace ref {

inline int32_t wrap32(int64_t v) {
  uint32_t u = static_cast<uint32_t>(static_cast<uint64_t>(v));
  return u <= 0x7fffffffu ? static_cast<int32_t>(u) : static_cast<int32_t>(static_cast<int64_t>(u) - 4294967296LL);
}

inline int8_t requant(int32_t acc, float mult, bool relu) {
  float f = static_cast<float>(acc);
  float y = f * mult;
  float r = std::nearbyint(y);
  long v;
  if (std::isnan(r)) v = 0;
  else if (r > 127.0f) v = 127;
  else if (r < -128.0f) v = -128;
  else v = static_cast<long>(r);
  if (relu && v < 0) v = 0;
  return static_cast<int8_t>(v);
}

inline int32_t mvin_scale(int8_t v, float ratio) {
  float y = static_cast<float>(v) * ratio;
  float r = std::nearbyint(y);
  if (r > 127.0f) return 127;
  if (r < -128.0f) return -128;
  return static_cast<int32_t>(r);
}

inline int8_t resadd(int8_t a, float ar, int8_t b, float br, bool relu) {
  int32_t s = mvin_scale(a, ar) + mvin_scale(b, br);
  int32_t lo = relu ? 0 : -128;
  return static_cast<int8_t>(std::min(127, std::max(lo, s)));
}

// bias_kind: 0 none, 1 per column, 2 full (ldd = J).
inline void matmul(int64_t I, int64_t J, int64_t K, const int8_t* A, int64_t lda, const int8_t* B, int64_t ldb,
                   int bias_kind, const int32_t* bias, float mult, bool relu, int8_t* C, int64_t ldc) {
  for (int64_t i = 0; i < I; ++i)
    for (int64_t j = 0; j < J; ++j) {
      int64_t s = bias_kind == 1 ? bias[j] : (bias_kind == 2 ? bias[i * J + j] : 0);
      for (int64_t k = 0; k < K; ++k) s += static_cast<int64_t>(A[i * lda + k]) * B[k * ldb + j];
      C[i * ldc + j] = requant(wrap32(s), mult, relu);
    }
}

struct Conv {
  int64_t N = 1, H = 1, W = 1, C = 1, OC = 1, KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1;
  int64_t PT = 0, PL = 0, PB = 0, PR = 0, G = 1;
  bool pool = false;
  int64_t pkh = 1, pkw = 1, psh = 1, psw = 1, ppt = 0, ppl = 0, ppb = 0, ppr = 0;
  bool pool_zero_pad = true;
  int64_t OH() const { return (H + PT + PB - DH * (KH - 1) - 1) / SH + 1; }
  int64_t OW() const { return (W + PL + PR - DW * (KW - 1) - 1) / SW + 1; }
  int64_t POH() const { return pool ? (OH() + ppt + ppb - pkh) / psh + 1 : OH(); }
  int64_t POW() const { return pool ? (OW() + ppl + ppr - pkw) / psw + 1 : OW(); }
};

// Generic over element type via a post-processing functor acc -> out.
template <class T, class AccT, class Post>
std::vector<T> conv(const Conv& p, const T* x, const T* w, const AccT* bias, const Post& post) {
  const int64_t OH = p.OH(), OW = p.OW(), icg = p.C / p.G, ocg = p.OC / p.G;
  std::vector<T> y(static_cast<size_t>(p.N * OH * OW * p.OC));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t oc = 0; oc < p.OC; ++oc) {
          const int64_t g = oc / ocg;
          AccT s = bias ? bias[oc] : AccT{};
          int64_t si = 0;
          double sd = 0.0;
          (void)s;
          for (int64_t kh = 0; kh < p.KH; ++kh)
            for (int64_t kw = 0; kw < p.KW; ++kw) {
              const int64_t ih = oh * p.SH - p.PT + kh * p.DH, iw = ow * p.SW - p.PL + kw * p.DW;
              if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;
              for (int64_t ic = 0; ic < icg; ++ic) {
                const T xv = x[((n * p.H + ih) * p.W + iw) * p.C + g * icg + ic];
                const T wv = w[((kh * p.KW + kw) * icg + ic) * p.OC + oc];
                si += static_cast<int64_t>(xv) * static_cast<int64_t>(wv);
                sd += static_cast<double>(xv) * static_cast<double>(wv);
              }
            }
          y[((n * OH + oh) * OW + ow) * p.OC + oc] = post(bias ? bias[oc] : AccT{}, si, sd);
        }
  if (!p.pool) return y;
  const int64_t POH = p.POH(), POW = p.POW();
  std::vector<T> z(static_cast<size_t>(p.N * POH * POW * p.OC));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t ph = 0; ph < POH; ++ph)
      for (int64_t pw = 0; pw < POW; ++pw)
        for (int64_t c = 0; c < p.OC; ++c) {
          bool have = false, pad = false;
          T m{};
          for (int64_t a = 0; a < p.pkh; ++a)
            for (int64_t b = 0; b < p.pkw; ++b) {
              const int64_t oh = ph * p.psh - p.ppt + a, ow = pw * p.psw - p.ppl + b;
              if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) {
                pad = true;
                continue;
              }
              const T v = y[((n * OH + oh) * OW + ow) * p.OC + c];
              if (!have || v > m) m = v;
              have = true;
            }
          if (pad && p.pool_zero_pad && m < T{}) m = T{};
          z[((n * POH + ph) * POW + pw) * p.OC + c] = m;
        }
  return z;
}

}  // namespace ref
