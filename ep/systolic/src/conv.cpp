// conv2d / conv2d_f32: shape checks, the CPU execution (im2col + packed GEMM, pointwise and depthwise fast paths),
// the WS execution (the reference's tiled_conv loop over 7-D tiles, one tiled conv per group) and the OS execution
// (im2col tiles + OS matmul tiles per group, host pool).
#include "systolic/conv.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "conv_geom.h"
#include "gemm.h"
#include "systolic/thread_pool.h"
#include "systolic/tiling.h"
#include "tile_counts.h"

namespace rcnn::systolic {

// ---- ConvShape -------------------------------------------------------------------------------------------------

int64_t ConvShape::conv_out_h() const noexcept {
  const int64_t span = in_h + pad_top + pad_bottom - dil_h * (kernel_h - 1) - 1;
  return span < 0 ? 0 : span / stride_h + 1;
}
int64_t ConvShape::conv_out_w() const noexcept {
  const int64_t span = in_w + pad_left + pad_right - dil_w * (kernel_w - 1) - 1;
  return span < 0 ? 0 : span / stride_w + 1;
}
int64_t ConvShape::out_h() const noexcept {
  if (!pool.enabled) return conv_out_h();
  const int64_t span = conv_out_h() + pool.pad_top + pool.pad_bottom - pool.kh;
  return span < 0 ? 0 : span / pool.sh + 1;
}
int64_t ConvShape::out_w() const noexcept {
  if (!pool.enabled) return conv_out_w();
  const int64_t span = conv_out_w() + pool.pad_left + pool.pad_right - pool.kw;
  return span < 0 ? 0 : span / pool.sw + 1;
}
int64_t ConvShape::macs() const noexcept {
  return batch * conv_out_h() * conv_out_w() * out_ch * kernel_h * kernel_w * in_ch_per_group();
}

void ConvShape::validate() const {
  constexpr int64_t kMaxDim = int64_t{1} << 20;
  auto in_range = [](const char* what, int64_t v, int64_t lo) {
    if (v < lo || v > kMaxDim)
      throw Error(std::string("conv2d: ") + what + " must be between " + std::to_string(lo) + " and " +
                  std::to_string(kMaxDim) + ", got " + std::to_string(v));
  };
  in_range("batch", batch, 1);
  in_range("in_h", in_h, 1);
  in_range("in_w", in_w, 1);
  in_range("in_ch", in_ch, 1);
  in_range("out_ch", out_ch, 1);
  in_range("kernel_h", kernel_h, 1);
  in_range("kernel_w", kernel_w, 1);
  in_range("stride_h", stride_h, 1);
  in_range("stride_w", stride_w, 1);
  in_range("dil_h", dil_h, 1);
  in_range("dil_w", dil_w, 1);
  in_range("pad_top", pad_top, 0);
  in_range("pad_left", pad_left, 0);
  in_range("pad_bottom", pad_bottom, 0);
  in_range("pad_right", pad_right, 0);
  in_range("groups", groups, 1);
  if (in_ch % groups != 0 || out_ch % groups != 0)
    throw Error("conv2d: groups (" + std::to_string(groups) + ") must divide in_ch (" + std::to_string(in_ch) +
                ") and out_ch (" + std::to_string(out_ch) + ")");
  if (conv_out_h() < 1 || conv_out_w() < 1) throw Error("conv2d: the (dilated) kernel is larger than the padded input");
  if (pool.enabled) {
    in_range("pool kh", pool.kh, 1);
    in_range("pool kw", pool.kw, 1);
    in_range("pool sh", pool.sh, 1);
    in_range("pool sw", pool.sw, 1);
    in_range("pool pad_top", pool.pad_top, 0);
    in_range("pool pad_left", pool.pad_left, 0);
    in_range("pool pad_bottom", pool.pad_bottom, 0);
    in_range("pool pad_right", pool.pad_right, 0);
    if (pool.pad_top >= pool.kh || pool.pad_bottom >= pool.kh || pool.pad_left >= pool.kw ||
        pool.pad_right >= pool.kw)
      throw Error("conv2d: pool pads must be smaller than the pool kernel");
    if (out_h() < 1 || out_w() < 1) throw Error("conv2d: the pool window is larger than the padded conv output");
  }
  constexpr int64_t kMaxElems = int64_t{1} << 40;
  const double elems[] = {static_cast<double>(batch) * static_cast<double>(in_h) * static_cast<double>(in_w) *
                              static_cast<double>(in_ch),
                          static_cast<double>(batch) * static_cast<double>(conv_out_h()) *
                              static_cast<double>(conv_out_w()) * static_cast<double>(out_ch),
                          static_cast<double>(kernel_h) * static_cast<double>(kernel_w) * static_cast<double>(in_ch) *
                              static_cast<double>(out_ch)};
  for (double e : elems)
    if (e > static_cast<double>(kMaxElems)) throw Error("conv2d: tensor too large");
  const double macs_d = elems[1] * static_cast<double>(kernel_h) * static_cast<double>(kernel_w) *
                        static_cast<double>(in_ch / groups);
  if (macs_d > 4.0e18) throw Error("conv2d: too many MACs for the 64-bit counters");
}

namespace {

using detail::ceil_div;
using detail::ConvGeom;

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

// Host max-pool pass over a full conv output buffer [batch][OH][OW][out_ch].
template <class T>
void pool_full(const ConvGeom& G, const T* conv_out, T* out, ThreadPool* pool) {
  const int64_t OC = G.s.out_ch;
  parallel_for(pool, static_cast<size_t>(G.s.batch * G.POH), [&](size_t t, unsigned) {
    const int64_t b = static_cast<int64_t>(t) / G.POH, ph = static_cast<int64_t>(t) % G.POH;
    for (int64_t pw = 0; pw < G.POW; ++pw) {
      auto at = [&](int64_t oh, int64_t ow) { return conv_out + ((b * G.OH + oh) * G.OW + ow) * OC; };
      detail::pool_one<T>(G, ph, pw, OC, at, out + ((b * G.POH + ph) * G.POW + pw) * OC);
    }
  });
}

// ---- CPU ---------------------------------------------------------------------------------------------------------

// Depthwise-like convs (one input channel per group): a direct loop over taps, vectorizable across channels.
template <class T, class Post>
void cpu_depthwise(const Job<T>& j, const Post& post, T* dst, ThreadPool* pool) {
  using CT = ConvTypes<T>;
  const ConvGeom& G = j.G;
  const ConvShape& s = G.s;
  const int64_t OC = s.out_ch, ocg = G.ocg;
  const unsigned workers = worker_count(pool);
  std::vector<std::vector<typename CT::DwAcc>> accs(workers);
  parallel_for(pool, static_cast<size_t>(s.batch * G.OH), [&](size_t t, unsigned wk) {
    auto& acc = accs[wk];
    acc.resize(static_cast<size_t>(OC));
    const int64_t b = static_cast<int64_t>(t) / G.OH, oh = static_cast<int64_t>(t) % G.OH;
    for (int64_t ow = 0; ow < G.OW; ++ow) {
      for (int64_t oc = 0; oc < OC; ++oc) acc[oc] = CT::dw_init(j.bias ? j.bias[oc] : typename CT::Acc{});
      for (int64_t kr = 0; kr < s.kernel_h; ++kr) {
        const int64_t ih = oh * s.stride_h - s.pad_top + kr * s.dil_h;
        if (ih < 0 || ih >= s.in_h) continue;
        for (int64_t kc = 0; kc < s.kernel_w; ++kc) {
          const int64_t iw = ow * s.stride_w - s.pad_left + kc * s.dil_w;
          if (iw < 0 || iw >= s.in_w) continue;
          const T* x = G.input_pixel(j.in, b, ih, iw);
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
      for (int64_t oc = 0; oc < OC; ++oc) o[oc] = post(CT::dw_final(acc[oc]));
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
  std::vector<detail::GemmScratch<Kern>> scratch(workers);

  // Pack every group's weights once: B[k][c] = w[k][g*ocg + c] (HWIO rows of out_ch values).
  const bool direct_gemm = detail::use_direct_gemm(K, G.ocg);
  std::vector<detail::PackedB<Kern>> packed(static_cast<size_t>(direct_gemm ? 0 : s.groups));
  parallel_for(pool, static_cast<size_t>(direct_gemm ? 0 : s.groups), [&](size_t g, unsigned wk) {
    std::vector<const T*>& rows = scratch[wk].b_ptrs;
    rows.resize(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) rows[k] = j.w + k * OC + static_cast<int64_t>(g) * G.ocg;
    packed[g].pack(rows.data(), K, G.ocg, scratch[wk].b_tmp);
  });

  // Rows per task: bounded so the im2col block stays around 64 KiB.
  const int64_t MC = std::max<int64_t>(detail::kMR, std::min<int64_t>(256, (262144 / std::max<int64_t>(K, 1)) / 4 * 4));
  constexpr int64_t NBP = std::max<int64_t>(1, 256 / Kern::NR);
  const int64_t panels = ceil_div(G.ocg, Kern::NR);
  const int64_t m_blocks = ceil_div(M, MC), n_blocks = ceil_div(panels, NBP);
  const bool direct = G.pointwise();
  parallel_for(pool, static_cast<size_t>(s.groups * m_blocks * n_blocks), [&](size_t t, unsigned wk) {
    auto& sc = scratch[wk];
    const int64_t g = static_cast<int64_t>(t) / (m_blocks * n_blocks);
    const int64_t rest = static_cast<int64_t>(t) % (m_blocks * n_blocks);
    const int64_t p_begin = rest % n_blocks * NBP, p_end = std::min(panels, p_begin + NBP);
    const int64_t i0 = rest / n_blocks * MC, rows = std::min(MC, M - i0);
    const int64_t c0 = p_begin * Kern::NR, cols = std::min(G.ocg - c0, (p_end - p_begin) * Kern::NR);
    sc.a_ptrs.resize(static_cast<size_t>(rows));
    if (direct) {
      for (int64_t r = 0; r < rows; ++r) sc.a_ptrs[r] = j.in + (i0 + r) * s.in_ch + g * G.icg;
    } else if (!direct_gemm) {
      detail::fill_a_block_packed<Kern>(rows, K, sc.a_packed, sc.a_rows, sc.a_ptrs, [&](int64_t r, T* a_dst, int64_t st) {
        int64_t b, oh, ow;
        G.pixel(i0 + r, b, oh, ow);
        detail::fill_row_box(G, j.in, b, oh, ow, g, 0, s.kernel_h, 0, s.kernel_w, 0, G.icg, a_dst, st);
      });
    } else {
      sc.a_rows.resize(static_cast<size_t>(rows * K));
      for (int64_t r = 0; r < rows; ++r) {
        int64_t b, oh, ow;
        G.pixel(i0 + r, b, oh, ow);
        T* row = sc.a_rows.data() + r * K;
        detail::fill_row_box(G, j.in, b, oh, ow, g, 0, s.kernel_h, 0, s.kernel_w, 0, G.icg, row);
        sc.a_ptrs[r] = row;
      }
    }
    const int64_t ld = (p_end - p_begin) * Kern::NR;
    sc.acc.resize(static_cast<size_t>(rows * ld));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        sc.acc[r * ld + c] = j.bias ? j.bias[g * G.ocg + c0 + c] : typename Kern::Acc{};
    if (direct_gemm) {
      sc.b_ptrs.resize(static_cast<size_t>(K));
      for (int64_t k = 0; k < K; ++k) sc.b_ptrs[k] = j.w + k * OC + g * G.ocg + c0;
      detail::direct_gemm(sc.a_ptrs.data(), rows, K, sc.b_ptrs.data(), cols, sc.acc.data(), ld);
    } else {
      if (direct) detail::pack_a_block(sc.a_ptrs.data(), rows, K, sc.a_packed);
      detail::gemm_packed<Kern>(sc.a_packed.data(), rows, packed[g], p_begin, p_end, sc.acc.data(), ld);
    }
    detail::store_tile(sc.acc.data(), ld, rows, cols, post, dst + i0 * OC + g * G.ocg + c0, OC);
  });
}

template <class Kern, class Post>
Counters run_cpu(const Job<typename Kern::In>& j, const Post& post, ThreadPool* pool) {
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
  Counters c;
  c.calls = 1;
  c.macs = static_cast<uint64_t>(G.s.macs());
  c.padded_macs = c.macs;
  return c;
}

// ---- WS: the reference's tiled conv ------------------------------------------------------------------------------

template <class Kern, class Post>
Counters run_ws(const AcceleratorConfig& cfg, const Job<typename Kern::In>& j, const Post& post, ThreadPool* pool) {
  using T = typename Kern::In;
  using Acc = typename Kern::Acc;
  using detail::blocks;
  using detail::u64;
  const ConvGeom& G = j.G;
  const ConvShape& s = G.s;
  const int64_t D = cfg.dim, OC = s.out_ch;
  const int64_t eb = static_cast<int64_t>(sizeof(T)), ab = static_cast<int64_t>(sizeof(Acc));

  ConvTileProblem tp;
  tp.batch = s.batch;
  tp.pooled_rows = G.POH;
  tp.pooled_cols = G.POW;
  tp.out_ch = G.ocg;
  tp.in_ch = G.icg;
  tp.kernel_h = s.kernel_h;
  tp.kernel_w = s.kernel_w;
  tp.stride_h = s.stride_h;
  tp.stride_w = s.stride_w;
  tp.dil_h = s.dil_h;
  tp.dil_w = s.dil_w;
  tp.pool_kh = G.pkh;
  tp.pool_kw = G.pkw;
  tp.pool_sh = G.psh;
  tp.pool_sw = G.psw;
  const ConvTiles ct = choose_conv_tiles(cfg, tp);

  const int64_t nB = ceil_div(s.batch, ct.batches), nPR = ceil_div(G.POH, ct.porows);
  const int64_t nPC = ceil_div(G.POW, ct.pocols), nOC = ceil_div(G.ocg, ct.ochs);
  const int64_t nKR = ceil_div(s.kernel_h, ct.krows), nKC = ceil_div(s.kernel_w, ct.kcols);
  const int64_t nIC = ceil_div(G.icg, ct.kchs);
  // Tasks: (group, batch tile, pooled-row tile, pooled-col tile, range of out-channel tiles). Inside a task the
  // out-channel tiles and, inside those, the krow/kcol/kch tiles run in the reference's loop order, accumulating into
  // the task's accumulator tile. Out-channel tiles are grouped so there are a few tasks per worker; when the whole
  // kernel fits one k tile, the packed im2col block of a spatial tile is built once and reused for its out-channel
  // tiles (the counters still count the input mvin of every tile, as the hardware reloads it).
  const int64_t spatial = nB * nPR * nPC;
  const unsigned workers = worker_count(pool);
  const int64_t oc_groups = std::min(nOC, ceil_div(4 * static_cast<int64_t>(workers), s.groups * spatial));
  const int64_t per_group = spatial * oc_groups;
  const bool single_k_tile = nKR * nKC * nIC == 1;
  std::vector<detail::GemmScratch<Kern>> scratch(workers);
  std::vector<std::vector<T>> tile_out(workers);
  std::vector<Counters> counts(workers);
  // Every (group, out-channel tile, krow tile, kcol tile, kch tile) weight box is packed once, not once per spatial
  // tile (a pure function of the weights, so the results are unchanged). Boxes that take the direct GEMM stay
  // unpacked.
  const int64_t n_boxes = nOC * nKR * nKC * nIC;
  std::vector<detail::PackedB<Kern>> bcache(static_cast<size_t>(s.groups * n_boxes));
  parallel_for(pool, bcache.size(), [&](size_t i, unsigned wk) {
    int64_t t = static_cast<int64_t>(i);
    const int64_t tic = t % nIC;
    t /= nIC;
    const int64_t tkc = t % nKC;
    t /= nKC;
    const int64_t tkr = t % nKR;
    t /= nKR;
    const int64_t ti_oc = t % nOC;
    const int64_t g = t / nOC;
    const int64_t oc0 = ti_oc * ct.ochs, noc = std::min(ct.ochs, G.ocg - oc0);
    const int64_t kr0 = tkr * ct.krows, nkr = std::min(ct.krows, s.kernel_h - kr0);
    const int64_t kc0 = tkc * ct.kcols, nkc = std::min(ct.kcols, s.kernel_w - kc0);
    const int64_t ic0 = tic * ct.kchs, nic = std::min(ct.kchs, G.icg - ic0);
    const int64_t kbox = nkr * nkc * nic;
    if (detail::use_direct_gemm(kbox, noc)) return;
    auto& sc = scratch[wk];
    sc.b_ptrs.resize(static_cast<size_t>(kbox));
    int64_t k = 0;
    for (int64_t kr = kr0; kr < kr0 + nkr; ++kr)
      for (int64_t kc = kc0; kc < kc0 + nkc; ++kc)
        for (int64_t ic = ic0; ic < ic0 + nic; ++ic) sc.b_ptrs[k++] = weight_row(j, g, kr, kc, ic) + oc0;
    bcache[i].pack(sc.b_ptrs.data(), kbox, noc, sc.b_tmp);
  });

  parallel_for(pool, static_cast<size_t>(s.groups * per_group), [&](size_t task, unsigned wk) {
    auto& sc = scratch[wk];
    Counters& c = counts[wk];
    int64_t t = static_cast<int64_t>(task);
    const int64_t g = t / per_group;
    t %= per_group;
    const int64_t ocg_i = t % oc_groups;
    t /= oc_groups;
    const int64_t ti_pc = t % nPC;
    t /= nPC;
    const int64_t ti_pr = t % nPR;
    const int64_t ti_b = t / nPR;
    const int64_t b0 = ti_b * ct.batches, nb = std::min(ct.batches, s.batch - b0);
    const int64_t pr0 = ti_pr * ct.porows, npr = std::min(ct.porows, G.POH - pr0);
    const int64_t pc0 = ti_pc * ct.pocols, npc = std::min(ct.pocols, G.POW - pc0);
    // Conv output rows/cols this tile computes (the pool windows of its pooled outputs, clipped to the output).
    const int64_t or_lo = std::max<int64_t>(0, pr0 * G.psh - G.ppt);
    const int64_t or_hi = std::min(G.OH, (pr0 + npr - 1) * G.psh - G.ppt + G.pkh);
    const int64_t ocl_lo = std::max<int64_t>(0, pc0 * G.psw - G.ppl);
    const int64_t ocl_hi = std::min(G.OW, (pc0 + npc - 1) * G.psw - G.ppl + G.pkw);
    const int64_t nor = or_hi - or_lo, nocl = ocl_hi - ocl_lo;
    const int64_t pixels = nb * nor * nocl;
    const int64_t pixel_blocks = nb * nor * blocks(nocl, D);  // array rows come in DIM-pixel chunks of one row
    bool rows_ready = false, packed_ready = false;  // im2col rows / packed block of the single k tile built

    const int64_t oct_begin = nOC * ocg_i / oc_groups, oct_end = nOC * (ocg_i + 1) / oc_groups;
    for (int64_t ti_oc = oct_begin; ti_oc < oct_end; ++ti_oc) {
      const int64_t oc0 = ti_oc * ct.ochs, noc = std::min(ct.ochs, G.ocg - oc0);
      sc.acc.resize(static_cast<size_t>(pixels * noc));
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t cc = 0; cc < noc; ++cc) sc.acc[p * noc + cc] = j.bias ? j.bias[g * G.ocg + oc0 + cc] : Acc{};
      if (j.bias) {
        c.mvin_acc_bytes += u64(pixels * noc * ab);
        c.mvin_cmds += u64(pixel_blocks * blocks(noc, D));
      }

      for (int64_t tkr = 0; tkr < nKR; ++tkr) {
        const int64_t kr0 = tkr * ct.krows, nkr = std::min(ct.krows, s.kernel_h - kr0);
        for (int64_t tkc = 0; tkc < nKC; ++tkc) {
          const int64_t kc0 = tkc * ct.kcols, nkc = std::min(ct.kcols, s.kernel_w - kc0);
          for (int64_t tic = 0; tic < nIC; ++tic) {
            const int64_t ic0 = tic * ct.kchs, nic = std::min(ct.kchs, G.icg - ic0);
            const int64_t kbox = nkr * nkc * nic;
            const bool direct = detail::use_direct_gemm(kbox, noc);
            // ---- counters of this tile (see counters.h) ----
            c.tiles += 1;
            {
              // Input patch: the bounding rows/cols the tile's taps touch, clipped to the image (padding is not
              // moved).
              const int64_t ir_lo = or_lo * s.stride_h - s.pad_top + kr0 * s.dil_h;
              const int64_t ir_hi = (or_hi - 1) * s.stride_h - s.pad_top + (kr0 + nkr - 1) * s.dil_h + 1;
              const int64_t icl_lo = ocl_lo * s.stride_w - s.pad_left + kc0 * s.dil_w;
              const int64_t icl_hi = (ocl_hi - 1) * s.stride_w - s.pad_left + (kc0 + nkc - 1) * s.dil_w + 1;
              const int64_t irows = std::max<int64_t>(0, std::min(s.in_h, ir_hi) - std::max<int64_t>(0, ir_lo));
              const int64_t icols = std::max<int64_t>(0, std::min(s.in_w, icl_hi) - std::max<int64_t>(0, icl_lo));
              c.mvin_sp_bytes += u64(nb * irows * icols * nic * eb);
              c.mvin_cmds += u64(nb * irows * blocks(icols, D) * blocks(nic, D));
              c.mvin_sp_bytes += u64(kbox * noc * eb);
              c.mvin_cmds += u64(nkr * nkc * blocks(nic, D) * blocks(noc, D));
              const int64_t weight_blocks = blocks(noc, D) * nkr * nkc * blocks(nic, D);
              const int64_t computes = weight_blocks * pixel_blocks;
              c.preloads += u64(computes);
              c.compute_preloaded += u64(weight_blocks);
              c.compute_accumulated += u64(computes - weight_blocks);
              c.padded_macs += u64(computes) * u64(D * D * D);
            }
            // ---- execution: im2col of the tile's pixels over the tap box, weights of the box, accumulate ----
            // The direct GEMM reads im2col rows, the packed one a packed block; out-channel tiles of one spatial
            // tile may differ in which they take (a narrow last tile), so each form is built once when needed.
            if (!single_k_tile) rows_ready = packed_ready = false;
            // Pixel p of the tile is (b0 + p / (nor * nocl), or_lo + p / nocl % nor, ocl_lo + p % nocl).
            auto fill = [&](int64_t p, T* a_dst, int64_t st) {
              detail::fill_row_box(G, j.in, b0 + p / (nor * nocl), or_lo + p / nocl % nor, ocl_lo + p % nocl, g, kr0,
                                   nkr, kc0, nkc, ic0, nic, a_dst, st);
            };
            if (direct && !rows_ready) {
              sc.a_rows.resize(static_cast<size_t>(pixels * kbox));
              sc.a_ptrs.resize(static_cast<size_t>(pixels));
              for (int64_t p = 0; p < pixels; ++p) {
                T* row = sc.a_rows.data() + p * kbox;
                fill(p, row, 1);
                sc.a_ptrs[p] = row;
              }
              rows_ready = true;
            } else if (!direct && !packed_ready) {
              detail::fill_a_block_packed<Kern>(pixels, kbox, sc.a_packed, sc.a_rows, sc.a_ptrs, fill);
              packed_ready = true;
            }
            if (direct) {
              sc.b_ptrs.resize(static_cast<size_t>(kbox));
              int64_t k = 0;
              for (int64_t kr = kr0; kr < kr0 + nkr; ++kr)
                for (int64_t kc = kc0; kc < kc0 + nkc; ++kc)
                  for (int64_t ic = ic0; ic < ic0 + nic; ++ic) sc.b_ptrs[k++] = weight_row(j, g, kr, kc, ic) + oc0;
              detail::direct_gemm(sc.a_ptrs.data(), pixels, kbox, sc.b_ptrs.data(), noc, sc.acc.data(), noc);
            } else {
              const detail::PackedB<Kern>& pb =
                  bcache[static_cast<size_t>((((g * nOC + ti_oc) * nKR + tkr) * nKC + tkc) * nIC + tic)];
              detail::gemm_packed<Kern>(sc.a_packed.data(), pixels, pb, 0, pb.panels, sc.acc.data(), noc);
            }
          }
        }
      }

      // mvout: scale the accumulator tile, then (fused) pool it into the output.
      T* dst_base = j.out + g * G.ocg + oc0;
      if (!G.pooled()) {
        int64_t p = 0;
        for (int64_t b = b0; b < b0 + nb; ++b)
          for (int64_t oh = or_lo; oh < or_hi; ++oh, p += nocl)
            detail::store_tile(sc.acc.data() + p * noc, noc, nocl, noc, post,
                               dst_base + ((b * G.OH + oh) * G.OW + ocl_lo) * OC, OC);
        c.mvout_bytes += u64(pixels * noc * eb);
        c.mvout_cmds += u64(pixel_blocks * blocks(noc, D));
      } else {
        auto& tout = tile_out[wk];
        tout.resize(static_cast<size_t>(pixels * noc));
        detail::store_tile(sc.acc.data(), noc, pixels, noc, post, tout.data(), noc);
        for (int64_t b = b0; b < b0 + nb; ++b) {
          const T* tb = tout.data() + (b - b0) * nor * nocl * noc;
          auto at = [&](int64_t oh, int64_t ow) { return tb + ((oh - or_lo) * nocl + (ow - ocl_lo)) * noc; };
          for (int64_t ph = pr0; ph < pr0 + npr; ++ph)
            for (int64_t pw = pc0; pw < pc0 + npc; ++pw)
              detail::pool_one<T>(G, ph, pw, noc, at, dst_base + ((b * G.POH + ph) * G.POW + pw) * OC);
        }
        c.mvout_bytes += u64(nb * npr * npc * noc * eb);
        c.mvout_cmds += u64(nb * npr * blocks(npc, D) * blocks(noc, D));
      }
    }
  });
  Counters total;
  for (const auto& c : counts) total += c;
  total.calls = 1;
  total.macs = static_cast<uint64_t>(s.macs());
  estimate_cycles(total, cfg, Mode::WS, true);
  return total;
}

// ---- OS: im2col tiles + OS matmul tiles, per group ---------------------------------------------------------------

template <class Kern, class Post>
Counters run_os(const AcceleratorConfig& cfg, const Job<typename Kern::In>& j, const Post& post, ThreadPool* pool) {
  using T = typename Kern::In;
  using Acc = typename Kern::Acc;
  const ConvGeom& G = j.G;
  const ConvShape& s = G.s;
  const int64_t D = cfg.dim, OC = s.out_ch;
  const int64_t M = s.batch * G.OH * G.OW, K = G.K;
  const MatmulTiles mt = choose_matmul_tiles(cfg, Mode::OS, M, G.ocg, K);
  const int64_t TI = mt.tI * D, TJ = mt.tJ * D, TK = mt.tK * D;
  const int64_t nI0 = ceil_div(M, TI), nJ0 = ceil_div(G.ocg, TJ), nK0 = ceil_div(K, TK);
  std::vector<T> conv_out;
  T* dst = j.out;
  if (G.pooled()) {
    conv_out.resize(static_cast<size_t>(M * OC));
    dst = conv_out.data();
  }
  const unsigned workers = worker_count(pool);
  std::vector<detail::GemmScratch<Kern>> scratch(workers);
  std::vector<Counters> counts(workers);
  // Every (group, k tile, column tile) weight block is packed once, not once per row tile (a pure function of the
  // weights, so the results are unchanged). Blocks that take the direct GEMM stay unpacked.
  std::vector<detail::PackedB<Kern>> bcache(static_cast<size_t>(s.groups * nK0 * nJ0));
  parallel_for(pool, bcache.size(), [&](size_t i, unsigned wk) {
    const int64_t g = static_cast<int64_t>(i) / (nK0 * nJ0), k0 = static_cast<int64_t>(i) / nJ0 % nK0;
    const int64_t col0 = static_cast<int64_t>(i) % nJ0 * TJ, cols = std::min(TJ, G.ocg - col0);
    const int64_t kbase = k0 * TK, kk = std::min(TK, K - kbase);
    if (detail::use_direct_gemm(kk, cols)) return;
    auto& sc = scratch[wk];
    sc.b_ptrs.resize(static_cast<size_t>(kk));
    for (int64_t k = 0; k < kk; ++k) sc.b_ptrs[k] = j.w + (kbase + k) * OC + g * G.ocg + col0;
    bcache[i].pack(sc.b_ptrs.data(), kk, cols, sc.b_tmp);
  });
  const int64_t per_group = nI0 * nJ0;
  parallel_for(pool, static_cast<size_t>(s.groups * per_group), [&](size_t task, unsigned wk) {
    auto& sc = scratch[wk];
    Counters& c = counts[wk];
    const int64_t g = static_cast<int64_t>(task) / per_group, t = static_cast<int64_t>(task) % per_group;
    const int64_t row0 = t / nJ0 * TI, rows = std::min(TI, M - row0);
    const int64_t col0 = t % nJ0 * TJ, cols = std::min(TJ, G.ocg - col0);
    sc.acc.resize(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t cc = 0; cc < cols; ++cc) sc.acc[r * cols + cc] = j.bias ? j.bias[g * G.ocg + col0 + cc] : Acc{};
    for (int64_t k0 = 0; k0 < nK0; ++k0) {
      const int64_t kbase = k0 * TK, kk = std::min(TK, K - kbase);
      detail::count_matmul_tile(c, D, Mode::OS, rows, cols, kk, static_cast<int64_t>(sizeof(T)),
                                static_cast<int64_t>(sizeof(Acc)), j.bias != nullptr && k0 == 0, k0 == nK0 - 1);
      // The host builds the im2col block of this tile (K range [kbase, kbase + kk)), then it is moved in.
      auto fill = [&](int64_t r, T* a_dst, int64_t st) {
        int64_t b, oh, ow;
        G.pixel(row0 + r, b, oh, ow);
        detail::fill_row_linear(G, j.in, b, oh, ow, g, kbase, kbase + kk, a_dst, st);
      };
      if (detail::use_direct_gemm(kk, cols)) {
        sc.b_ptrs.resize(static_cast<size_t>(kk));
        for (int64_t k = 0; k < kk; ++k) sc.b_ptrs[k] = j.w + (kbase + k) * OC + g * G.ocg + col0;
        sc.a_rows.resize(static_cast<size_t>(rows * kk));
        sc.a_ptrs.resize(static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r) {
          T* row = sc.a_rows.data() + r * kk;
          fill(r, row, 1);
          sc.a_ptrs[r] = row;
        }
        detail::direct_gemm(sc.a_ptrs.data(), rows, kk, sc.b_ptrs.data(), cols, sc.acc.data(), cols);
      } else {
        detail::fill_a_block_packed<Kern>(rows, kk, sc.a_packed, sc.a_rows, sc.a_ptrs, fill);
        const detail::PackedB<Kern>& pb = bcache[static_cast<size_t>((g * nK0 + k0) * nJ0 + t % nJ0)];
        detail::gemm_packed<Kern>(sc.a_packed.data(), rows, pb, 0, pb.panels, sc.acc.data(), cols);
      }
    }
    detail::store_tile(sc.acc.data(), cols, rows, cols, post, dst + row0 * OC + g * G.ocg + col0, OC);
  });
  if (G.pooled()) pool_full(G, conv_out.data(), j.out, pool);
  Counters total;
  for (const auto& c : counts) total += c;
  total.calls = 1;
  total.macs = static_cast<uint64_t>(s.macs());
  estimate_cycles(total, cfg, Mode::OS, true);
  return total;
}

template <class Kern, class Post>
Counters run(const AcceleratorConfig& cfg, Mode mode, const Job<typename Kern::In>& j, const Post& post,
             ThreadPool* pool) {
  switch (mode) {
    case Mode::CPU: return run_cpu<Kern>(j, post, pool);
    case Mode::OS: return run_os<Kern>(cfg, j, post, pool);
    case Mode::WS: return run_ws<Kern>(cfg, j, post, pool);
  }
  throw Error("conv2d: unknown mode");
}

template <class T, class B>
void check_pointers(const ConvShape& s, const T* in, const T* w, const B*, const T* out) {
  s.validate();
  if (!in || !w || !out) throw Error("conv2d: input, weights and output must not be null");
}

}  // namespace

Counters conv2d(const AcceleratorConfig& cfg, Mode mode, const ConvArgs& a, const ExecOptions& opt) {
  cfg.validate();
  if (cfg.elem != ElemType::Int8) throw Error("conv2d: int8 data needs an int8 accelerator config (elem = \"int8\")");
  if (!std::isfinite(a.multiplier)) throw Error("conv2d: the multiplier must be finite");
  check_pointers(a.shape, a.input, a.weights, a.bias, a.output);
  const Job<int8_t> j{ConvGeom(a.shape), a.input, a.weights, a.bias, a.output};
  const detail::PostI8 post{a.multiplier, a.relu};
  Counters c;
  detail::with_kernel<int8_t>(opt.kernel, [&](auto kern) { c = run<decltype(kern)>(cfg, mode, j, post, opt.pool); });
  return c;
}

Counters conv2d_f32(const AcceleratorConfig& cfg, Mode mode, const ConvF32Args& a, const ExecOptions& opt) {
  cfg.validate();
  if (cfg.elem != ElemType::Fp32) throw Error("conv2d_f32: fp32 data needs an fp32 accelerator config (elem = \"fp32\")");
  check_pointers(a.shape, a.input, a.weights, a.bias, a.output);
  const Job<float> j{ConvGeom(a.shape), a.input, a.weights, a.bias, a.output};
  const detail::PostF32 post{a.relu};
  Counters c;
  detail::with_kernel<float>(opt.kernel, [&](auto kern) { c = run<decltype(kern)>(cfg, mode, j, post, opt.pool); });
  return c;
}

}  // namespace rcnn::systolic
