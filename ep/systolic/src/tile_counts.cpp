// Counting of a tiled matmul walk and the closing of a call's counters (tile_counts.h).
#include "tile_counts.h"

#include <algorithm>

namespace rcnn::systolic::detail {

Counters count_tiled_matmul(int64_t dim, Mode mode, int64_t I, int64_t J, int64_t K, const MatmulTiles& tiles,
                            int64_t elem_bytes, int64_t acc_bytes, bool has_bias, bool per_channel_scales) {
  const int64_t TI = tiles.tI * dim, TJ = tiles.tJ * dim, TK = tiles.tK * dim;
  const int64_t nK0 = blocks(K, TK);
  Counters c;
  for (int64_t row0 = 0; row0 < I; row0 += TI) {
    const int64_t rows = std::min(TI, I - row0);
    for (int64_t col0 = 0; col0 < J; col0 += TJ) {
      const int64_t cols = std::min(TJ, J - col0);
      for (int64_t k0 = 0; k0 < nK0; ++k0) {
        const int64_t kk = std::min(TK, K - k0 * TK);
        count_matmul_tile(c, dim, mode, rows, cols, kk, elem_bytes, acc_bytes, has_bias && k0 == 0, k0 == nK0 - 1,
                          per_channel_scales);
      }
    }
  }
  return c;
}

void finish_call(Counters& c, const AcceleratorConfig& cfg, Mode mode, uint64_t macs, bool array_op) {
  c.calls = 1;
  c.macs = macs;
  if (mode == Mode::CPU) c.padded_macs = macs;
  estimate_cycles(c, cfg, mode, array_op);
}

}  // namespace rcnn::systolic::detail
