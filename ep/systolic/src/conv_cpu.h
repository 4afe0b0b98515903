// CPU mode of conv2d: the host computes the output directly (im2col + packed GEMM, pointwise convs straight from the
// input, a tap loop for depthwise-like convs), no tiling. Internal header, included by conv.cpp only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "conv_job.h"
#include "gemm.h"

namespace rcnn::systolic::detail {

// Depthwise-like convs (one input channel per group): a direct loop over taps, vectorizable across channels.
template <class T, class Post>
void cpu_depthwise(const Job<T>& j, const Post& post, T* dst, ThreadPool* pool) {
  using CT = ConvTypes<T>;
  const ConvGeom& G = j.G;
  const ConvShape& s = G.s;
  const int64_t OC = s.out_ch, ocg = G.ocg;
  const unsigned workers = worker_count(pool);
  std::vector<std::vector<typename CT::DwAcc>> accs(workers);
  std::vector<std::vector<typename CT::Acc>> finals(workers);
  // Padded taps read a pixel of pad values (the input zero point); with pad value 0 they are skipped (exact).
  const T pad = static_cast<T>(G.pad_value);
  const std::vector<T> pad_pixel(static_cast<size_t>(s.in_ch), pad);
  const bool skip_padding = pad == T{};
  parallel_for(pool, static_cast<size_t>(s.batch * G.OH), [&](size_t t, unsigned wk) {
    auto& acc = accs[wk];
    auto& fin = finals[wk];
    acc.resize(static_cast<size_t>(OC));
    fin.resize(static_cast<size_t>(OC));
    const int64_t b = static_cast<int64_t>(t) / G.OH, oh = static_cast<int64_t>(t) % G.OH;
    for (int64_t ow = 0; ow < G.OW; ++ow) {
      for (int64_t oc = 0; oc < OC; ++oc) acc[oc] = CT::dw_init(j.bias ? j.bias[oc] : typename CT::Acc{});
      for (int64_t kr = 0; kr < s.kernel_h; ++kr) {
        const int64_t ih = oh * s.stride_h - s.pad_top + kr * s.dil_h;
        const bool row_in = ih >= 0 && ih < s.in_h;
        if (!row_in && skip_padding) continue;
        for (int64_t kc = 0; kc < s.kernel_w; ++kc) {
          const int64_t iw = ow * s.stride_w - s.pad_left + kc * s.dil_w;
          const bool in = row_in && iw >= 0 && iw < s.in_w;
          if (!in && skip_padding) continue;
          const T* x = in ? G.input_pixel(j.in, b, ih, iw) : pad_pixel.data();
          const T* w = j.w + (kr * s.kernel_w + kc) * OC;  // icg == 1: [kr][kc][0][oc]
          if (ocg == 1) {
            for (int64_t oc = 0; oc < OC; ++oc) acc[oc] = CT::dw_mac(acc[oc], x[oc], w[oc]);
          } else {
            for (int64_t g = 0; g < s.groups; ++g)
              for (int64_t m = 0; m < ocg; ++m) acc[g * ocg + m] = CT::dw_mac(acc[g * ocg + m], x[g], w[g * ocg + m]);
          }
        }
      }
      T* o = dst + ((b * G.OH + oh) * G.OW + ow) * OC;
      for (int64_t oc = 0; oc < OC; ++oc) fin[oc] = CT::dw_final(acc[oc]);
      post.row(fin.data(), OC, 0, o);
    }
  });
}

template <class Kern, class Post>
void cpu_gemm(const Job<typename Kern::In>& j, const Post& post, typename Kern::In* dst, ThreadPool* pool) {
  using T = typename Kern::In;
  const ConvGeom& G = j.G;
  const ConvShape& s = G.s;
  const int64_t M = s.batch * G.OH * G.OW, K = G.K, OC = s.out_ch;
  const unsigned workers = worker_count(pool);
  std::vector<GemmScratch<Kern>> scratch(workers);

  // Pack every group's weights once: B[k][c] = w[k][g*ocg + c] (HWIO rows of out_ch values).
  const bool unpacked = use_direct_gemm(K, G.ocg);  // tiny GEMMs: direct loops, weights not packed
  std::vector<PackedB<Kern>> packed(static_cast<size_t>(unpacked ? 0 : s.groups));
  parallel_for(pool, static_cast<size_t>(unpacked ? 0 : s.groups), [&](size_t g, unsigned wk) {
    std::vector<const T*>& rows = scratch[wk].b_ptrs;
    rows.resize(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) rows[k] = j.w + k * OC + static_cast<int64_t>(g) * G.ocg;
    packed[g].pack(rows.data(), K, G.ocg, scratch[wk].b_tmp);
  });

  // Rows per task: bounded so the im2col block stays around 64 KiB.
  const int64_t MC = std::max<int64_t>(kMR, std::min<int64_t>(256, (262144 / std::max<int64_t>(K, 1)) / 4 * 4));
  constexpr int64_t NBP = std::max<int64_t>(1, 256 / Kern::NR);
  const int64_t panels = ceil_div(G.ocg, Kern::NR);
  const int64_t m_blocks = ceil_div(M, MC), n_blocks = ceil_div(panels, NBP);
  const bool pointwise = G.pointwise();  // the input rows are the im2col rows
  parallel_for(pool, static_cast<size_t>(s.groups * m_blocks * n_blocks), [&](size_t t, unsigned wk) {
    auto& sc = scratch[wk];
    const int64_t g = static_cast<int64_t>(t) / (m_blocks * n_blocks);
    const int64_t rest = static_cast<int64_t>(t) % (m_blocks * n_blocks);
    const int64_t p_begin = rest % n_blocks * NBP, p_end = std::min(panels, p_begin + NBP);
    const int64_t i0 = rest / n_blocks * MC, rows = std::min(MC, M - i0);
    const int64_t c0 = p_begin * Kern::NR, cols = std::min(G.ocg - c0, (p_end - p_begin) * Kern::NR);
    sc.a_ptrs.resize(static_cast<size_t>(rows));
    if (pointwise) {
      for (int64_t r = 0; r < rows; ++r) sc.a_ptrs[r] = j.in + (i0 + r) * s.in_ch + g * G.icg;
    } else if (!unpacked) {
      fill_a_block_packed<Kern>(rows, K, sc.a_packed, sc.a_rows, sc.a_ptrs, [&](int64_t r, T* a_dst, int64_t st) {
        int64_t b, oh, ow;
        G.pixel(i0 + r, b, oh, ow);
        fill_row_box(G, j.in, b, oh, ow, g, 0, s.kernel_h, 0, s.kernel_w, 0, G.icg, a_dst, st);
      });
    } else {
      sc.a_rows.resize(static_cast<size_t>(rows * K));
      for (int64_t r = 0; r < rows; ++r) {
        int64_t b, oh, ow;
        G.pixel(i0 + r, b, oh, ow);
        T* row = sc.a_rows.data() + r * K;
        fill_row_box(G, j.in, b, oh, ow, g, 0, s.kernel_h, 0, s.kernel_w, 0, G.icg, row);
        sc.a_ptrs[r] = row;
      }
    }
    const int64_t ld = (p_end - p_begin) * Kern::NR;
    sc.acc.resize(static_cast<size_t>(rows * ld));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        sc.acc[r * ld + c] = j.bias ? j.bias[g * G.ocg + c0 + c] : typename Kern::Acc{};
    if (unpacked) {
      sc.b_ptrs.resize(static_cast<size_t>(K));
      for (int64_t k = 0; k < K; ++k) sc.b_ptrs[k] = j.w + k * OC + g * G.ocg + c0;
      direct_gemm(sc.a_ptrs.data(), rows, K, sc.b_ptrs.data(), cols, sc.acc.data(), ld);
    } else {
      if (pointwise) pack_a_block(sc.a_ptrs.data(), rows, K, sc.a_packed);
      gemm_packed<Kern>(sc.a_packed.data(), rows, packed[g], p_begin, p_end, sc.acc.data(), ld);
    }
    store_tile(sc.acc.data(), ld, rows, cols, post, g * G.ocg + c0, dst + i0 * OC + g * G.ocg + c0, OC);
  });
}

// Output of the whole conv: the packed GEMM, or the tap loop for depthwise-like convs, then the pool pass when fused.
template <class Kern, class Post>
void execute_cpu(const Job<typename Kern::In>& j, const Post& post, ThreadPool* pool) {
  using T = typename Kern::In;
  const ConvGeom& G = j.G;
  std::vector<T> conv_out;
  T* dst = j.out;
  if (G.pooled()) {
    conv_out.resize(static_cast<size_t>(G.s.batch * G.OH * G.OW * G.s.out_ch));
    dst = conv_out.data();
  }
  if (G.icg == 1) cpu_depthwise(j, post, dst, pool);
  else cpu_gemm<Kern>(j, post, dst, pool);
  if (G.pooled()) pool_full(G, conv_out.data(), j.out, pool);
}

}  // namespace rcnn::systolic::detail
