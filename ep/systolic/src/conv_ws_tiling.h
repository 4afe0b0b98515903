// The WS tiling of a conv: the reference's tiled_conv_auto loop over 7-D tiles (batch, pooled rows, pooled cols, out
// channels, kernel rows, kernel cols, in channels), one tiled conv per group. The event counting (conv_counts.cpp)
// and the host execution (conv_ws.h) walk the same tiles through these helpers, so they cannot disagree about what a
// tile is. Internal header.
#pragma once

#include <cstdint>

#include "conv_geom.h"
#include "systolic/config.h"
#include "systolic/tiling.h"

namespace rcnn::systolic::detail {

struct WsConvTiling {
  ConvTiles size;  // tile extents (choose_conv_tiles)
  // Tiles along each dimension (the last ones may be partial).
  int64_t n_batch = 1, n_prow = 1, n_pcol = 1, n_och = 1, n_krow = 1, n_kcol = 1, n_kch = 1;

  // Spatial tiles (batch, pooled rows, pooled cols) and kernel tiles (kernel rows, kernel cols, in channels) of
  // one group.
  int64_t spatial_tiles() const noexcept { return n_batch * n_prow * n_pcol; }
  int64_t kernel_tiles() const noexcept { return n_krow * n_kcol * n_kch; }
};

WsConvTiling ws_conv_tiling(const AcceleratorConfig& cfg, const ConvGeom& G);

// Spatial tile `index` in [0, spatial_tiles()) (order: batch, pooled row, pooled col; the col fastest): its batch
// range, its pooled output window, and the conv output rows/cols its pool windows read (clipped to the output).
struct WsSpatialTile {
  int64_t b0 = 0, nb = 0;    // batch range
  int64_t pr0 = 0, npr = 0;  // pooled rows
  int64_t pc0 = 0, npc = 0;  // pooled cols
  int64_t or_lo = 0, or_hi = 0, ocl_lo = 0, ocl_hi = 0;  // conv output rows [or_lo, or_hi), cols [ocl_lo, ocl_hi)

  int64_t rows() const noexcept { return or_hi - or_lo; }
  int64_t cols() const noexcept { return ocl_hi - ocl_lo; }
  // Accumulator rows of the tile: pixel p is (b0 + p / (rows * cols), or_lo + p / cols % rows, ocl_lo + p % cols).
  int64_t pixels() const noexcept { return nb * rows() * cols(); }
};
WsSpatialTile ws_spatial_tile(const ConvGeom& G, const WsConvTiling& t, int64_t index);

// Kernel tile `index` in [0, kernel_tiles()) (order: kernel row, kernel col, in channel; the channel fastest): the
// box of taps [kr0, kr0 + nkr) x [kc0, kc0 + nkc) and group channels [ic0, ic0 + nic).
struct WsKernelTile {
  int64_t kr0 = 0, nkr = 0, kc0 = 0, nkc = 0, ic0 = 0, nic = 0;
  int64_t box() const noexcept { return nkr * nkc * nic; }  // the tile's GEMM depth
};
WsKernelTile ws_kernel_tile(const ConvGeom& G, const WsConvTiling& t, int64_t index);

// Out-channel tile `index` in [0, n_och): group channels [oc0, oc0 + noc).
struct WsChannelTile {
  int64_t oc0 = 0, noc = 0;
};
WsChannelTile ws_channel_tile(const ConvGeom& G, const WsConvTiling& t, int64_t index);

}  // namespace rcnn::systolic::detail
