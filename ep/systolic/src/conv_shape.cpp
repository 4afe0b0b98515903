// ConvShape: output sizes, MAC count and the argument checks every conv2d call starts with.
#include <string>

#include "systolic/conv.h"

namespace rcnn::systolic {

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

}  // namespace rcnn::systolic
