// Image preprocessing numerics: every mode on a tiny synthetic image against values worked out by hand, the
// bilinear resize (half-pixel centres) on small cases, and the float32 evaluation order.
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "preprocess.h"

using namespace ort_test;

namespace {

// 1 row x 2 columns: pixel 0 = (R 10, G 20, B 30), pixel 1 = (R 200, G 100, B 0).
RgbImage two_pixel_image() {
  RgbImage image;
  image.width = 2;
  image.height = 1;
  image.pixels = {10, 20, 30, 200, 100, 0};
  return image;
}

PreprocessMode preset(const char* name) { return parse_preprocess_mode(name); }

// Expected planar CHW output of two_pixel_image: {channel 0 px 0, channel 0 px 1, channel 1 ..., channel 2 ...}.
void check_mode(test::Checker& t, const PreprocessMode& mode, const std::vector<double>& expected) {
  const std::vector<float> out = preprocess_image(two_pixel_image(), mode, 1, 2);
  CHECK_EQ(out.size(), expected.size());
  for (size_t i = 0; i < out.size() && i < expected.size(); ++i) CHECK_NEAR(out[i], expected[i], 2e-5);
}

void every_mode_by_hand(test::Checker& t) {
  // BGR modes: channel 0 is B (30, 0), 1 is G (20, 100), 2 is R (10, 200).
  check_mode(t, preset("zoo"), {30 - 102.9801, 0 - 102.9801, 20 - 115.9465, 100 - 115.9465, 10 - 122.7717,
                                       200 - 122.7717});
  check_mode(t, preset("zoo"), {-72.9801, -102.9801, -95.9465, -15.9465, -112.7717, 77.2283});
  check_mode(t, preset("caffe2"), {-73.939, -103.939, -96.779, -16.779, -113.68, 76.32});
  check_mode(t, preset("caffe"), {-1.25698, -1.76698, -1.64526, -0.28526, -1.93256, 1.29744});
  check_mode(t, preset("mxnet"), {-1.28156863, -1.80444444, -1.68557423, -0.28501401, -1.94665639, 1.30704684});
  // RGB modes: channel 0 is R.
  check_mode(t, preset("torchvision"), {10 / 255.0, 200 / 255.0, 20 / 255.0, 100 / 255.0, 30 / 255.0, 0.0});
  check_mode(t, preset("none"), {10, 200, 20, 100, 30, 0});
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The documented float32 expressions, bit for bit (a reciprocal multiply or an FMA would change some of these).
void float32_evaluation_order(test::Checker& t) {
  const std::vector<float> mx = preprocess_image(two_pixel_image(), preset("mxnet"), 1, 2);
  CHECK(same_bits(mx[0], (30.0f / 255.0f - 0.406f) / 0.225f));
  CHECK(same_bits(mx[5], (200.0f / 255.0f - 0.485f) / 0.229f));
  const std::vector<float> caffe = preprocess_image(two_pixel_image(), preset("caffe"), 1, 2);
  CHECK(same_bits(caffe[2], (20.0f - 116.78f) * 0.017f));
  const std::vector<float> tv = preprocess_image(two_pixel_image(), preset("torchvision"), 1, 2);
  CHECK(same_bits(tv[1], 200.0f / 255.0f));
  const std::vector<float> zoo = preprocess_image(two_pixel_image(), preset("zoo"), 1, 2);
  CHECK(same_bits(zoo[5], 200.0f - 122.7717f));
}

// 2x2 -> 3x3. R = {0, 40; 80, 120}, G = 2R, B = 255 - R. Source positions per output index (rows and columns
// alike): 0 -> 0 (clamped from -1/6), 1 -> 0.5, 2 -> 1.1667 (i0 = i1 = 1), so by hand:
//   R = {0, 20, 40; 40, 60, 80; 80, 100, 120}.
void resize_2x2_to_3x3(test::Checker& t) {
  RgbImage image;
  image.width = 2;
  image.height = 2;
  for (int r : {0, 40, 80, 120}) {
    image.pixels.push_back(static_cast<uint8_t>(r));
    image.pixels.push_back(static_cast<uint8_t>(2 * r));
    image.pixels.push_back(static_cast<uint8_t>(255 - r));
  }
  const std::vector<float> hwc = resize_bilinear(image, 3, 3);
  const double expected_r[9] = {0, 20, 40, 40, 60, 80, 80, 100, 120};
  CHECK_EQ(hwc.size(), size_t{27});
  for (size_t i = 0; i < 9 && hwc.size() == 27; ++i) {
    CHECK_NEAR(hwc[3 * i + 0], expected_r[i], 1e-4);
    CHECK_NEAR(hwc[3 * i + 1], 2 * expected_r[i], 1e-4);
    CHECK_NEAR(hwc[3 * i + 2], 255 - expected_r[i], 1e-4);
  }
  // Where both weights are exactly 0 or 0.5 the result is exact.
  CHECK_EQ(hwc[0], 0.0f);
  CHECK_EQ(hwc[3 * 1], 20.0f);
  CHECK_EQ(hwc[3 * 4], 60.0f);
  CHECK_EQ(hwc[3 * 3 + 1], 80.0f);

  // And through preprocess_image with mode none: planar CHW of the same numbers.
  const std::vector<float> chw = preprocess_image(image, preset("none"), 3, 3);
  CHECK_NEAR(chw[4], 60.0, 1e-4);           // R centre
  CHECK_NEAR(chw[9 + 4], 120.0, 1e-4);      // G centre
  CHECK_NEAR(chw[18 + 8], 255 - 120.0, 1e-4);  // B bottom-right
}

// 4x4 -> 2x2 samples at 0.5 and 2.5: each output is the mean of a 2x2 block (half-pixel centres, no antialias).
void resize_4x4_to_2x2(test::Checker& t) {
  RgbImage image;
  image.width = 4;
  image.height = 4;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) {
      for (int c = 0; c < 3; ++c) image.pixels.push_back(static_cast<uint8_t>(10 * y + x + 50 * c));
    }
  }
  const std::vector<float> hwc = resize_bilinear(image, 2, 2);
  CHECK_EQ(hwc[0], 5.5f);
  CHECK_EQ(hwc[3], 7.5f);
  CHECK_EQ(hwc[6], 25.5f);
  CHECK_EQ(hwc[9], 27.5f);
  CHECK_EQ(hwc[9 + 2], 127.5f);
}

// Only one axis changes: 1x2 -> 1x4. Columns sample at 0 (clamped from -0.25), 0.25, 0.75 and 1.25
// (i0 = i1 = 1, the last column).
void resize_one_axis(test::Checker& t) {
  const std::vector<float> hwc = resize_bilinear(two_pixel_image(), 1, 4);
  CHECK_EQ(hwc[0], 10.0f);
  CHECK_NEAR(hwc[3], 10 + 0.25 * 190, 1e-4);
  CHECK_NEAR(hwc[6], 10 + 0.75 * 190, 1e-4);
  CHECK_NEAR(hwc[9], 200.0, 1e-4);
  CHECK_NEAR(hwc[3 + 2], 30 - 0.25 * 30, 1e-4);  // B
}

void same_size_is_exact_copy(test::Checker& t) {
  const RgbImage image = two_pixel_image();
  const std::vector<float> hwc = resize_bilinear(image, 1, 2);
  for (size_t i = 0; i < image.pixels.size(); ++i) CHECK_EQ(hwc[i], static_cast<float>(image.pixels[i]));
}

void upscale_single_pixel(test::Checker& t) {
  RgbImage image;
  image.width = 1;
  image.height = 1;
  image.pixels = {7, 8, 9};
  const std::vector<float> hwc = resize_bilinear(image, 3, 2);
  CHECK_EQ(hwc.size(), size_t{18});
  for (size_t i = 0; i < hwc.size(); ++i) CHECK_EQ(hwc[i], static_cast<float>(7 + i % 3));
}

void rejects_bad_sizes(test::Checker& t) {
  RgbImage empty;
  CHECK_THROWS(resize_bilinear(empty, 2, 2), "image size 0x0 is empty");
  CHECK_THROWS(resize_bilinear(two_pixel_image(), 0, 2), "target size 0x2 is empty");
  RgbImage short_buffer = two_pixel_image();
  short_buffer.pixels.pop_back();
  CHECK_THROWS(resize_bilinear(short_buffer, 1, 2), "does not match");
}

void mode_names_round_trip(test::Checker& t) {
  for (const char* name : {"zoo", "torchvision", "caffe2", "caffe", "mxnet", "none"}) {
    CHECK_EQ(std::string(preprocess_mode_name(parse_preprocess_mode(name))), std::string(name));
  }
  CHECK_EQ(std::string(preprocess_mode_name(parse_preprocess_mode("rcnn"))), std::string("zoo"));
  CHECK_THROWS(parse_preprocess_mode("ZOO"), "token 'ZOO' is unknown");
  CHECK_THROWS(parse_preprocess_mode(""), "it is empty");
}

}  // namespace

int main() {
  return test::run_tests("preprocess", {{"every_mode_by_hand", every_mode_by_hand},
                                        {"float32_evaluation_order", float32_evaluation_order},
                                        {"resize_2x2_to_3x3", resize_2x2_to_3x3},
                                        {"resize_4x4_to_2x2", resize_4x4_to_2x2},
                                        {"resize_one_axis", resize_one_axis},
                                        {"same_size_is_exact_copy", same_size_is_exact_copy},
                                        {"upscale_single_pixel", upscale_single_pixel},
                                        {"rejects_bad_sizes", rejects_bad_sizes},
                                        {"mode_names_round_trip", mode_names_round_trip}});
}
