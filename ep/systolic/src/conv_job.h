// What the conv executions (conv_cpu.h, conv_os.h, conv_ws.h) share: the call's data (Job), the accumulator type of
// each element type, weight addressing and the host max-pool pass. Internal header.
#pragma once

#include <cstdint>

#include "conv_geom.h"
#include "systolic/thread_pool.h"

namespace rcnn::systolic::detail {

// Per element type: accumulator/bias type and the depthwise accumulation (int8 wraps through uint32, no UB).
template <class T>
struct ConvTypes;
template <>
struct ConvTypes<int8_t> {
  using Acc = int32_t;
  using DwAcc = uint32_t;
  static DwAcc dw_init(int32_t b) { return static_cast<uint32_t>(b); }
  static DwAcc dw_mac(DwAcc acc, int8_t x, int8_t w) {
    return acc + static_cast<uint32_t>(static_cast<int32_t>(x) * static_cast<int32_t>(w));
  }
  static int32_t dw_final(DwAcc v) {
    return v <= 0x7fffffffu ? static_cast<int32_t>(v) : -static_cast<int32_t>(~v) - 1;  // two's complement
  }
};
template <>
struct ConvTypes<float> {
  using Acc = float;
  using DwAcc = float;
  static float dw_init(float b) { return b; }
  static float dw_mac(float acc, float x, float w) { return acc + x * w; }
  static float dw_final(float v) { return v; }
};

// One conv2d call: geometry and the caller's buffers.
template <class T>
struct Job {
  ConvGeom G;
  const T* in;
  const T* w;
  const typename ConvTypes<T>::Acc* bias;
  T* out;
};

// Weight row of K index (kr, kc, ic) in group g (HWIO), starting at the group's first output channel.
template <class T>
const T* weight_row(const Job<T>& j, int64_t g, int64_t kr, int64_t kc, int64_t ic) {
  const ConvShape& s = j.G.s;
  return j.w + ((kr * s.kernel_w + kc) * j.G.icg + ic) * s.out_ch + g * j.G.ocg;
}

// Accumulator tile of `pixels` rows x `noc` columns starting from the bias of out channels [c0, c0 + noc) of group g
// (zeros without a bias).
template <class T>
void init_acc_tile(const Job<T>& j, int64_t g, int64_t c0, int64_t pixels, int64_t noc,
                   typename ConvTypes<T>::Acc* acc) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t cc = 0; cc < noc; ++cc)
      acc[p * noc + cc] = j.bias ? j.bias[g * j.G.ocg + c0 + cc] : typename ConvTypes<T>::Acc{};
}

// Host max-pool pass over a full conv output buffer [batch][OH][OW][out_ch].
template <class T>
void pool_full(const ConvGeom& G, const T* conv_out, T* out, ThreadPool* pool) {
  const int64_t OC = G.s.out_ch;
  parallel_for(pool, static_cast<size_t>(G.s.batch * G.POH), [&](size_t t, unsigned) {
    const int64_t b = static_cast<int64_t>(t) / G.POH, ph = static_cast<int64_t>(t) % G.POH;
    for (int64_t pw = 0; pw < G.POW; ++pw) {
      auto at = [&](int64_t oh, int64_t ow) { return conv_out + ((b * G.OH + oh) * G.OW + ow) * OC; };
      pool_one<T>(G, ph, pw, OC, at, out + ((b * G.POH + ph) * G.POW + pw) * OC);
    }
  });
}

}  // namespace rcnn::systolic::detail
