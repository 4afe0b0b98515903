// rcnn._systolic: the accelerator model (ep/systolic) for Python. Thin by design: shapes are checked here,
// everything else (numerics, tiling, counters) is the library's. Library errors become Python ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "systolic/systolic.h"

namespace py = pybind11;
namespace sy = rcnn::systolic;

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

// The stored counters, keyed and ordered as in counter_fields.def.
py::dict counters_dict(const sy::Counters& c) {
  py::dict d;
#define RCNN_SYSTOLIC_COUNTER(name, meaning) d[#name] = c.name;
#include "systolic/counter_fields.def"
  return d;
}

// Names from counter_fields.def: the stored counters (the dict's keys) or every counter key of the EP's report
// (derived ones included), so Python tests can hold the EP and ort_test to the same list.
py::tuple counter_fields() {
  std::vector<std::string> names;
#define RCNN_SYSTOLIC_COUNTER(name, meaning) names.emplace_back(#name);
#include "systolic/counter_fields.def"
  return py::tuple(py::cast(names));
}

py::tuple counter_json_keys() {
  std::vector<std::string> names;
#define RCNN_SYSTOLIC_COUNTER(name, meaning) names.emplace_back(#name);
#define RCNN_SYSTOLIC_DERIVED(name, meaning) names.emplace_back(#name);
#include "systolic/counter_fields.def"
  return py::tuple(py::cast(names));
}

// What every op call shares: config (text of the TOML subset, or the built-in default), mode, threads.
struct Exec {
  sy::AcceleratorConfig cfg;
  sy::Mode mode;
  std::unique_ptr<sy::ThreadPool> pool;
  sy::ExecOptions options() const { return sy::ExecOptions{pool.get(), sy::KernelKind::Auto}; }
};

Exec make_exec(const std::string& mode, const std::optional<std::string>& config_text, unsigned threads, bool fp32) {
  Exec e{config_text ? sy::parse_config_text(*config_text, "config")
                     : (fp32 ? sy::AcceleratorConfig::fp32_defaults() : sy::AcceleratorConfig{}),
         sy::mode_from_name(mode), nullptr};
  if (threads > 1) e.pool = std::make_unique<sy::ThreadPool>(threads);
  return e;
}

void require(bool ok, const std::string& what) {
  if (!ok) throw py::value_error(what);
}

// Per-channel multipliers as float32 [n], or none.
std::optional<Array<float>> channel_multipliers(const std::optional<py::array>& m, int64_t n) {
  if (!m) return std::nullopt;
  auto a = Array<float>::ensure(*m);
  require(a && a.ndim() == 1 && a.shape(0) == n, "multipliers must be [" + std::to_string(n) + "] (one per output "
                                                  "channel/column)");
  return a;
}

int8_t zero_point_i8(int v, const char* name) {
  require(v >= -128 && v <= 127, std::string(name) + " must be in [-128, 127] (int8 domain)");
  return static_cast<int8_t>(v);
}

template <typename T>
py::object matmul_impl(const Array<T>& a, const Array<T>& b, const std::optional<py::array>& bias, float multiplier,
                       bool relu, const std::string& mode, const std::optional<std::string>& config,
                       unsigned threads, const std::optional<py::array>& multipliers, int x_zero_point,
                       int y_zero_point) {
  constexpr bool f32 = std::is_same<T, float>::value;
  using Acc = typename std::conditional<f32, float, int32_t>::type;
  require(a.ndim() == 2 && b.ndim() == 2 && a.shape(1) == b.shape(0), "matmul wants A [I,K] and B [K,J]");
  const int64_t I = a.shape(0), K = a.shape(1), J = b.shape(1);
  std::optional<Array<Acc>> d;
  if (bias) {
    d = Array<Acc>::ensure(*bias);
    require(d && ((d->ndim() == 1 && d->shape(0) == J) || (d->ndim() == 2 && d->shape(0) == I && d->shape(1) == J)),
            "bias must be [J] or [I,J]");
  }
  Array<T> c({I, J});
  const auto ms = channel_multipliers(multipliers, J);
  const int8_t x_zp = zero_point_i8(x_zero_point, "x_zero_point");
  require(!f32 || (!ms && x_zp == 0 && y_zero_point == 0), "fp32 matmul takes no multipliers or zero points");
  Exec e = make_exec(mode, config, threads, f32);
  sy::Counters counters;
  {
    py::gil_scoped_release nogil;
    auto set_common = [&](auto& args) {
      args.I = I;
      args.J = J;
      args.K = K;
      args.A = a.data();
      args.B = b.data();
      args.relu = relu;
      args.C = c.mutable_data();
      if (d) {
        args.bias_kind = d->ndim() == 1 ? sy::BiasKind::PerColumn : sy::BiasKind::Full;
        args.bias = d->data();
      }
    };
    if constexpr (f32) {
      sy::MatmulF32Args args;
      set_common(args);
      counters = sy::matmul_f32(e.cfg, e.mode, args, e.options());
    } else {
      sy::MatmulArgs args;
      set_common(args);
      args.multiplier = multiplier;
      args.multipliers = ms ? ms->data() : nullptr;
      args.x_zero_point = x_zp;
      args.y_zero_point = y_zero_point;
      counters = sy::matmul(e.cfg, e.mode, args, e.options());
    }
  }
  return py::make_tuple(c, counters_dict(counters));
}

std::array<int64_t, 2> pair(const std::vector<int64_t>& v, const char* name) {
  require(v.size() == 2, std::string(name) + " needs 2 values");
  return {v[0], v[1]};
}

std::array<int64_t, 4> quad(const std::vector<int64_t>& v, const char* name) {
  require(v.size() == 4, std::string(name) + " needs 4 values [top, left, bottom, right]");
  return {v[0], v[1], v[2], v[3]};
}

template <typename T>
py::object conv_impl(const Array<T>& x, const Array<T>& w, const std::optional<py::array>& bias, float multiplier,
                     const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                     const std::vector<int64_t>& pads, int64_t groups, bool relu,
                     const std::optional<std::vector<int64_t>>& pool_kernel, const std::vector<int64_t>& pool_strides,
                     const std::vector<int64_t>& pool_pads, bool pool_ignore_padding, const std::string& mode,
                     const std::optional<std::string>& config, unsigned threads,
                     const std::optional<py::array>& multipliers, int x_zero_point, int y_zero_point) {
  constexpr bool f32 = std::is_same<T, float>::value;
  using Acc = typename std::conditional<f32, float, int32_t>::type;
  require(x.ndim() == 4 && w.ndim() == 4, "conv2d wants x NHWC [N,H,W,C] and w HWIO [KH,KW,C/groups,OC]");
  sy::ConvShape s;
  s.batch = x.shape(0);
  s.in_h = x.shape(1);
  s.in_w = x.shape(2);
  s.in_ch = x.shape(3);
  s.kernel_h = w.shape(0);
  s.kernel_w = w.shape(1);
  s.out_ch = w.shape(3);
  s.groups = groups;
  const auto st = pair(strides, "strides");
  const auto dl = pair(dilations, "dilations");
  s.stride_h = st[0];
  s.stride_w = st[1];
  s.dil_h = dl[0];
  s.dil_w = dl[1];
  const auto p = quad(pads, "pads");
  s.pad_top = p[0];
  s.pad_left = p[1];
  s.pad_bottom = p[2];
  s.pad_right = p[3];
  if (pool_kernel) {
    const auto k = pair(*pool_kernel, "pool_kernel");
    const auto ps = pair(pool_strides, "pool_strides");
    const auto pp = quad(pool_pads, "pool_pads");
    s.pool = sy::PoolParams{true, k[0], k[1], ps[0], ps[1], pp[0], pp[1], pp[2], pp[3],
                            pool_ignore_padding ? sy::PoolPadding::Ignore : sy::PoolPadding::Zero};
  }
  require(groups >= 1 && s.in_ch % groups == 0 && w.shape(2) == s.in_ch / groups,
          "w's third dim must be in_ch / groups");
  s.validate();
  std::optional<Array<Acc>> b;
  if (bias) {
    b = Array<Acc>::ensure(*bias);
    require(b && b->ndim() == 1 && b->shape(0) == s.out_ch, "bias must be [out_ch]");
  }
  Array<T> y({s.batch, s.out_h(), s.out_w(), s.out_ch});
  const auto ms = channel_multipliers(multipliers, s.out_ch);
  const int8_t x_zp = zero_point_i8(x_zero_point, "x_zero_point");
  require(!f32 || (!ms && x_zp == 0 && y_zero_point == 0), "fp32 conv2d takes no multipliers or zero points");
  Exec e = make_exec(mode, config, threads, f32);
  sy::Counters counters;
  {
    py::gil_scoped_release nogil;
    if constexpr (f32) {
      sy::ConvF32Args args{s, x.data(), w.data(), b ? b->data() : nullptr, relu, y.mutable_data()};
      counters = sy::conv2d_f32(e.cfg, e.mode, args, e.options());
    } else {
      sy::ConvArgs args{s, x.data(), w.data(), b ? b->data() : nullptr, multiplier, relu, y.mutable_data()};
      args.multipliers = ms ? ms->data() : nullptr;
      args.x_zero_point = x_zp;
      args.y_zero_point = y_zero_point;
      counters = sy::conv2d(e.cfg, e.mode, args, e.options());
    }
  }
  return py::make_tuple(y, counters_dict(counters));
}

py::object resadd_impl(const Array<int8_t>& a, const Array<int8_t>& b, float a_ratio, float b_ratio, bool relu,
                       const std::string& mode, const std::optional<std::string>& config, unsigned threads,
                       int a_zero_point, int b_zero_point, int c_zero_point) {
  require(a.ndim() == b.ndim() && std::equal(a.shape(), a.shape() + a.ndim(), b.shape()),
          "resadd wants two arrays of the same shape");
  py::array_t<int8_t> c(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
  const int8_t a_zp = zero_point_i8(a_zero_point, "a_zero_point");
  const int8_t b_zp = zero_point_i8(b_zero_point, "b_zero_point");
  Exec e = make_exec(mode, config, threads, false);
  sy::Counters counters;
  {
    py::gil_scoped_release nogil;
    sy::ResaddArgs args{a.size(), a.data(), a_ratio, b.data(), b_ratio, relu, c.mutable_data()};
    args.a_zero_point = a_zp;
    args.b_zero_point = b_zp;
    args.c_zero_point = c_zero_point;
    counters = sy::resadd(e.cfg, e.mode, args, e.options());
  }
  return py::make_tuple(c, counters_dict(counters));
}

py::dict config_dict(const sy::AcceleratorConfig& c) {
  py::dict d;
  d["dim"] = c.dim;
  d["sp_banks"] = c.sp_banks;
  d["sp_bank_rows"] = c.sp_bank_rows;
  d["acc_rows"] = c.acc_rows;
  d["dataflow"] = sy::mode_name(c.dataflow);
  d["elem"] = sy::elem_name(c.elem);
  d["dma_bytes_per_cycle"] = c.dma_bytes_per_cycle;
  d["per_channel_scale"] = c.per_channel_scale;
  d["zero_points"] = c.zero_points;
  return d;
}

}  // namespace

PYBIND11_MODULE(_systolic, m) {
  m.doc() = "The Gemmini-style accelerator model (ep/systolic): int8/fp32 matmul, conv2d, resadd with counters.";
  py::register_exception<sy::Error>(m, "SystolicError", PyExc_ValueError);
  // ep/systolic/include/systolic/counter_fields.def as Python tuples.
  m.attr("COUNTER_FIELDS") = counter_fields();        // the counters dict's keys, in order
  m.attr("COUNTER_JSON_KEYS") = counter_json_keys();  // the statistics JSON's counter keys (derived ones too)

  const char* common = "mode: 'cpu' | 'os' | 'ws'; config: accelerator config text (TOML subset) or None for the "
                       "built-in default; threads: worker threads. Returns (result, counters dict).";
  const char* quant = " multipliers: per output channel/column float32 multipliers (replace multiplier) or None; "
                      "x_zero_point / y_zero_point: input and output zero points in the int8 domain (uint8 data: "
                      "shift by 128 first).";
  m.def("matmul", &matmul_impl<int8_t>, py::arg("a"), py::arg("b"), py::arg("bias") = py::none(),
        py::arg("multiplier") = 1.0f, py::arg("relu") = false, py::arg("mode") = "cpu", py::arg("config") = py::none(),
        py::arg("threads") = 1u, py::arg("multipliers") = py::none(), py::arg("x_zero_point") = 0,
        py::arg("y_zero_point") = 0,
        (std::string("int8 C = clamp(rne((bias + (A - x_zp)@B) * multiplier[j]) + y_zp). ") + common + quant).c_str());
  m.def("matmul_f32", &matmul_impl<float>, py::arg("a"), py::arg("b"), py::arg("bias") = py::none(),
        py::arg("multiplier") = 1.0f, py::arg("relu") = false, py::arg("mode") = "cpu", py::arg("config") = py::none(),
        py::arg("threads") = 1u, py::arg("multipliers") = py::none(), py::arg("x_zero_point") = 0,
        py::arg("y_zero_point") = 0,
        (std::string("fp32 C = bias + A@B (multiplier unused). ") + common).c_str());
  m.def("conv2d", &conv_impl<int8_t>, py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
        py::arg("multiplier") = 1.0f, py::arg("strides") = std::vector<int64_t>{1, 1},
        py::arg("dilations") = std::vector<int64_t>{1, 1}, py::arg("pads") = std::vector<int64_t>{0, 0, 0, 0},
        py::arg("groups") = 1, py::arg("relu") = false, py::arg("pool_kernel") = py::none(),
        py::arg("pool_strides") = std::vector<int64_t>{1, 1}, py::arg("pool_pads") = std::vector<int64_t>{0, 0, 0, 0},
        py::arg("pool_ignore_padding") = false, py::arg("mode") = "cpu", py::arg("config") = py::none(),
        py::arg("threads") = 1u, py::arg("multipliers") = py::none(), py::arg("x_zero_point") = 0,
        py::arg("y_zero_point") = 0,
        (std::string("int8 NHWC/HWIO convolution with fused bias, scaling, ReLU and max-pool. ") + common + quant)
            .c_str());
  m.def("conv2d_f32", &conv_impl<float>, py::arg("x"), py::arg("w"), py::arg("bias") = py::none(),
        py::arg("multiplier") = 1.0f, py::arg("strides") = std::vector<int64_t>{1, 1},
        py::arg("dilations") = std::vector<int64_t>{1, 1}, py::arg("pads") = std::vector<int64_t>{0, 0, 0, 0},
        py::arg("groups") = 1, py::arg("relu") = false, py::arg("pool_kernel") = py::none(),
        py::arg("pool_strides") = std::vector<int64_t>{1, 1}, py::arg("pool_pads") = std::vector<int64_t>{0, 0, 0, 0},
        py::arg("pool_ignore_padding") = false, py::arg("mode") = "cpu", py::arg("config") = py::none(),
        py::arg("threads") = 1u, py::arg("multipliers") = py::none(), py::arg("x_zero_point") = 0,
        py::arg("y_zero_point") = 0, (std::string("fp32 NHWC/HWIO convolution. ") + common).c_str());
  m.def("resadd", &resadd_impl, py::arg("a"), py::arg("b"), py::arg("a_ratio"), py::arg("b_ratio"),
        py::arg("relu") = false, py::arg("mode") = "cpu", py::arg("config") = py::none(), py::arg("threads") = 1u,
        py::arg("a_zero_point") = 0, py::arg("b_zero_point") = 0, py::arg("c_zero_point") = 0,
        (std::string("int8 residual add with Gemmini semantics (each input scaled and saturated on its own). ") +
         common).c_str());
  m.def("parse_config", [](const std::string& text) { return config_dict(sy::parse_config_text(text, "config")); },
        py::arg("text"), "Parse and validate accelerator config text; returns its values as a dict.");
  m.def("default_config", [](bool fp32) {
    return config_dict(fp32 ? sy::AcceleratorConfig::fp32_defaults() : sy::AcceleratorConfig{});
  }, py::arg("fp32") = false, "The built-in default config (equals ep/systolic/accelerator.toml).");
  m.def("make_multiplier", &sy::make_multiplier, py::arg("x_scale"), py::arg("w_scale"), py::arg("y_scale"),
        "float32 (x_scale * w_scale) / y_scale, as the accelerator forms it.");
}
