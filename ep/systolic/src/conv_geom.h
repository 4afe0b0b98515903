// Convolution geometry helpers shared by the conv executions: im2col row filling and the fused max-pool.
// Internal header.
#pragma once

#include <algorithm>
#include <cstdint>

#include "systolic/conv.h"

namespace rcnn::systolic::detail {

struct ConvGeom {
  ConvShape s;
  int64_t OH = 0, OW = 0;    // conv output (before the pool)
  int64_t POH = 0, POW = 0;  // final output (after the pool, = OH/OW without)
  int64_t icg = 0, ocg = 0;  // channels per group
  int64_t K = 0;             // GEMM depth per group: kernel_h * kernel_w * icg
  // Pool parameters with "no pool" normalized to a 1x1/1 window.
  int64_t pkh = 1, pkw = 1, psh = 1, psw = 1, ppt = 0, ppl = 0;
  // Value of padded input positions in the im2col rows and the direct loops: the input zero point (int8; 0 for
  // fp32 and zero-point-free int8), as ONNX QLinearConv pads with x_zero_point.
  int32_t pad_value = 0;
  // Value of padded max-pool window positions with PoolPadding::Zero: the output zero point (the real value 0).
  int32_t pool_pad_value = 0;

  explicit ConvGeom(const ConvShape& shape) : s(shape) {
    OH = s.conv_out_h();
    OW = s.conv_out_w();
    POH = s.out_h();
    POW = s.out_w();
    icg = s.in_ch_per_group();
    ocg = s.out_ch_per_group();
    K = s.kernel_h * s.kernel_w * icg;
    if (s.pool.enabled) {
      pkh = s.pool.kh;
      pkw = s.pool.kw;
      psh = s.pool.sh;
      psw = s.pool.sw;
      ppt = s.pool.pad_top;
      ppl = s.pool.pad_left;
    }
  }
  bool pooled() const { return s.pool.enabled; }
  // 1x1 kernel, stride 1, no padding: the im2col matrix is the input itself.
  bool pointwise() const {
    return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
           s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0;
  }
  // Pixel index p in [0, batch*OH*OW) -> (b, oh, ow).
  void pixel(int64_t p, int64_t& b, int64_t& oh, int64_t& ow) const {
    ow = p % OW;
    const int64_t q = p / OW;
    oh = q % OH;
    b = q / OH;
  }
  template <class T>
  const T* input_pixel(const T* in, int64_t b, int64_t ih, int64_t iw) const {
    return in + ((b * s.in_h + ih) * s.in_w + iw) * s.in_ch;
  }
};

// Copies / zeroes n elements; short runs (depthwise: one channel) avoid a memmove call per tap.
template <class T>
inline void copy_small(const T* src, int64_t n, T* dst) {
  if (n <= 8) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    std::copy(src, src + n, dst);
  }
}
template <class T>
inline void fill_small(int64_t n, T v, T* dst) {
  if (n <= 8) {
    for (int64_t i = 0; i < n; ++i) dst[i] = v;
  } else {
    std::fill(dst, dst + n, v);
  }
}

// Strided variants (dst[i * st]): im2col straight into a packed A panel (st = kMR), skipping the row copy + pack.
template <class T>
inline void copy_to(const T* src, int64_t n, T* dst, int64_t st) {
  if (st == 1) {
    copy_small(src, n, dst);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i * st] = src[i];
}
template <class T>
inline void fill_to(int64_t n, T v, T* dst, int64_t st) {
  if (st == 1) {
    fill_small(n, v, dst);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i * st] = v;
}

// Copies the n elements of input row (b, ih) starting at element offset u0 (may be negative or run past the row:
// those positions are padding and take G.pad_value). Row element u is input (b, ih, u / in_ch, u % in_ch).
// Element i goes to out[i * st].
template <class T>
inline void copy_row_span(const ConvGeom& G, const T* in, int64_t b, int64_t ih, int64_t u0, int64_t n, T* out,
                          int64_t st = 1) {
  const ConvShape& s = G.s;
  const T pad = static_cast<T>(G.pad_value);
  if (ih < 0 || ih >= s.in_h) {
    fill_to(n, pad, out, st);
    return;
  }
  const int64_t row_len = s.in_w * s.in_ch;
  const int64_t lo = std::min(n, std::max<int64_t>(0, -u0));            // leading padding
  const int64_t hi = std::max(lo, std::min(n, row_len - u0));           // end of the real elements
  fill_to(lo, pad, out, st);
  if (hi > lo) copy_to(in + (b * s.in_h + ih) * row_len + u0 + lo, hi - lo, out + lo * st, st);
  fill_to(n - hi, pad, out + hi * st, st);
}

// Taps of one kernel row are contiguous in the input when the group spans all channels and dil_w = 1: the im2col
// row segment of kernel row kr is then one input row span (fewer, longer copies; in_ch = 3 stems copy 3 bytes per
// tap otherwise).
inline bool contiguous_kernel_rows(const ConvGeom& G) { return G.icg == G.s.in_ch && G.s.dil_w == 1; }

// im2col row of output pixel (b, oh, ow) of group g over the tap box kr in [kr0, kr0+nkr), kc in [kc0, kc0+nkc) and
// channels [ic0, ic0+nic) of the group; K order (kr, kc, ic), G.pad_value where the tap falls into the padding.
// Element k goes to out[k * st] (st = kMR: straight into a packed A panel).
template <class T>
void fill_row_box(const ConvGeom& G, const T* in, int64_t b, int64_t oh, int64_t ow, int64_t g, int64_t kr0,
                  int64_t nkr, int64_t kc0, int64_t nkc, int64_t ic0, int64_t nic, T* out, int64_t st = 1) {
  const ConvShape& s = G.s;
  if (nic == G.icg && contiguous_kernel_rows(G)) {
    const int64_t u0 = (ow * s.stride_w - s.pad_left + kc0) * s.in_ch;
    for (int64_t kr = kr0; kr < kr0 + nkr; ++kr, out += nkc * nic * st)
      copy_row_span(G, in, b, oh * s.stride_h - s.pad_top + kr * s.dil_h, u0, nkc * nic, out, st);
    return;
  }
  for (int64_t kr = kr0; kr < kr0 + nkr; ++kr) {
    const int64_t ih = oh * s.stride_h - s.pad_top + kr * s.dil_h;
    for (int64_t kc = kc0; kc < kc0 + nkc; ++kc) {
      const int64_t iw = ow * s.stride_w - s.pad_left + kc * s.dil_w;
      if (ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w) {
        copy_to(G.input_pixel(in, b, ih, iw) + g * G.icg + ic0, nic, out, st);
      } else {
        fill_to(nic, static_cast<T>(G.pad_value), out, st);
      }
      out += nic * st;
    }
  }
}

// im2col row of output pixel (b, oh, ow) of group g for the linear K range [k_lo, k_hi) (K order (kr, kc, ic));
// element k goes to out[(k - k_lo) * st].
template <class T>
void fill_row_linear(const ConvGeom& G, const T* in, int64_t b, int64_t oh, int64_t ow, int64_t g, int64_t k_lo,
                     int64_t k_hi, T* out, int64_t st = 1) {
  const ConvShape& s = G.s;
  int64_t t = k_lo;
  if (contiguous_kernel_rows(G)) {
    const int64_t row_k = s.kernel_w * s.in_ch;  // K elements per kernel row
    const int64_t u_base = (ow * s.stride_w - s.pad_left) * s.in_ch;
    while (t < k_hi) {
      const int64_t kr = t / row_k, u = t % row_k;
      const int64_t n = std::min(row_k - u, k_hi - t);
      copy_row_span(G, in, b, oh * s.stride_h - s.pad_top + kr * s.dil_h, u_base + u, n, out, st);
      out += n * st;
      t += n;
    }
    return;
  }
  while (t < k_hi) {
    const int64_t tap = t / G.icg, ic = t % G.icg;
    const int64_t n = std::min(G.icg - ic, k_hi - t);
    const int64_t kr = tap / s.kernel_w, kc = tap % s.kernel_w;
    const int64_t ih = oh * s.stride_h - s.pad_top + kr * s.dil_h;
    const int64_t iw = ow * s.stride_w - s.pad_left + kc * s.dil_w;
    if (ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w) {
      copy_to(G.input_pixel(in, b, ih, iw) + g * G.icg + ic, n, out, st);
    } else {
      fill_to(n, static_cast<T>(G.pad_value), out, st);
    }
    out += n * st;
    t += n;
  }
}

// Max-pool of one output position (b, ph, pw), channels [c0, c0+nc) of the conv output, read through
// at(oh, ow) -> pointer to channel c0 of conv output (b, oh, ow) (only called for oh/ow inside the conv output).
// Zero padding: padded window positions count as G.pool_pad_value (the output zero point: the real value 0);
// Ignore: they are skipped.
template <class T, class At>
void pool_one(const ConvGeom& G, int64_t ph, int64_t pw, int64_t nc, const At& at, T* out) {
  const int64_t oh0 = ph * G.psh - G.ppt, ow0 = pw * G.psw - G.ppl;
  bool any_pad = false, first = true;
  for (int64_t dh = 0; dh < G.pkh; ++dh) {
    const int64_t oh = oh0 + dh;
    for (int64_t dw = 0; dw < G.pkw; ++dw) {
      const int64_t ow = ow0 + dw;
      if (oh < 0 || oh >= G.OH || ow < 0 || ow >= G.OW) {
        any_pad = true;
        continue;
      }
      const T* v = at(oh, ow);
      if (first) {
        std::copy(v, v + nc, out);
        first = false;
      } else {
        for (int64_t c = 0; c < nc; ++c) out[c] = std::max(out[c], v[c]);
      }
    }
  }
  // Validated shapes guarantee at least one real position per window (pool pads < pool kernel).
  if (any_pad && G.s.pool.padding == PoolPadding::Zero) {
    const T pad = static_cast<T>(G.pool_pad_value);
    for (int64_t c = 0; c < nc; ++c) out[c] = std::max(out[c], pad);
  }
}

}  // namespace rcnn::systolic::detail
