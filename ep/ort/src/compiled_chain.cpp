#include "compiled_chain.h"

#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "dims.h"
#include "op_args.h"
#include "systolic/conv.h"
#include "systolic/matmul.h"
#include "systolic/numerics.h"
#include "systolic/quantize.h"
#include "systolic/resadd.h"

namespace rcnn::ep {
namespace {

// A tensor inside the chain: int8-domain bytes (quantized units) or float32 (float units).
struct Buf {
  bool is_float = false;
  std::vector<int8_t> q;      // int8 domain
  std::vector<float> f;
  std::vector<int64_t> dims;  // logical ONNX dims (NCHW for rank 4)
  bool nhwc = false;          // data stored as NHWC (rank 4 only)

  size_t size() const noexcept { return is_float ? f.size() : q.size(); }
};

std::string dims_str(const std::vector<int64_t>& d) { return ort::format_dims(d); }

int64_t numel(const std::vector<int64_t>& d) {
  int64_t n = 1;
  for (int64_t v : d) n *= v;
  return n;
}

// NCHW <-> NHWC of one buffer's data (dims stay the logical NCHW ones).
template <typename T>
void transpose(std::vector<T>& data, const std::vector<int64_t>& dims, bool to_nhwc) {
  const int64_t N = dims[0], C = dims[1], HW = dims[2] * dims[3];
  std::vector<T> out(data.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t planar = (n * C + c) * HW, packed = n * HW * C + c;
      for (int64_t hw = 0; hw < HW; ++hw) {
        if (to_nhwc) out[static_cast<size_t>(packed + hw * C)] = data[static_cast<size_t>(planar + hw)];
        else out[static_cast<size_t>(planar + hw)] = data[static_cast<size_t>(packed + hw * C)];
      }
    }
  data.swap(out);
}

void to_nhwc(Buf& b) {
  if (b.nhwc || b.dims.size() != 4) return;
  if (b.is_float) transpose(b.f, b.dims, true);
  else transpose(b.q, b.dims, true);
  b.nhwc = true;
}

void to_nchw(Buf& b) {
  if (!b.nhwc) return;
  if (b.is_float) transpose(b.f, b.dims, false);
  else transpose(b.q, b.dims, false);
  b.nhwc = false;
}

// OIHW [oc, ic/g, kh, kw] -> HWIO, the accelerator model's conv weight layout.
template <typename T>
std::vector<T> pack_hwio(const std::vector<T>& w, const std::vector<int64_t>& d) {
  const int64_t OC = d[0], ICg = d[1], KH = d[2], KW = d[3];
  std::vector<T> out(w.size());
  for (int64_t oc = 0; oc < OC; ++oc)
    for (int64_t ic = 0; ic < ICg; ++ic)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw)
          out[static_cast<size_t>(((kh * KW + kw) * ICg + ic) * OC + oc)] =
              w[static_cast<size_t>(((oc * ICg + ic) * KH + kh) * KW + kw)];
  return out;
}

// plan_conv's view of a unit's conv (its pool keeps the unit's ONNX padding semantics).
ort::ConvAttributes conv_attributes(const Unit& u) {
  ort::ConvAttributes a;
  a.stride_h = u.stride_h;
  a.stride_w = u.stride_w;
  a.dil_h = u.dil_h;
  a.dil_w = u.dil_w;
  a.pad_top = u.pad_top;
  a.pad_left = u.pad_left;
  a.pad_bottom = u.pad_bottom;
  a.pad_right = u.pad_right;
  a.group = u.group;
  a.relu = u.relu;
  a.pool = u.pool;
  return a;
}

}  // namespace

CompiledChain::CompiledChain(std::string name, std::vector<Unit> units, std::vector<std::string> inputs,
                             std::vector<std::string> outputs, const ort::Settings& settings,
                             std::shared_ptr<systolic::ThreadPool> pool, std::shared_ptr<Report> report,
                             std::shared_ptr<const Backend> backend)
    : name_(std::move(name)),
      inputs_(std::move(inputs)),
      outputs_(std::move(outputs)),
      config_(settings.config),  // one element type per session: its units are all int8 or all float
      mode_(settings.mode),
      pool_(std::move(pool)),
      report_(std::move(report)),
      backend_(backend ? std::move(backend) : std::make_shared<const Backend>(nullptr)) {
  std::map<std::string, int32_t> produced;  // tensor -> element type
  for (Unit& u : units) {
    if (u.is_float() != (config_.elem == systolic::ElemType::Fp32))
      throw std::invalid_argument(std::string(unit_kind_name(u.kind)) + " unit on an " +
                                  systolic::elem_name(config_.elem) + " accelerator config");
    Prepared p;
    for (const QTensor& in : u.inputs) {
      int slot = -1;
      if (produced.count(in.name) == 0) {
        const std::string& source = in.float_source.empty() ? in.name : in.float_source;
        for (size_t i = 0; i < inputs_.size(); ++i)
          if (inputs_[i] == source) slot = static_cast<int>(i);
        if (slot < 0) throw std::invalid_argument("input '" + source + "' of the chain is neither an input of the fused node nor produced in it");
      }
      p.input_slots.push_back(slot);
    }
    if (u.kind == Unit::QConv) p.w_packed = pack_hwio(u.weights, u.w_dims);
    else if (u.kind == Unit::QMatMul) p.w_packed = u.weights;
    else if (u.kind == Unit::Conv) p.wf_packed = pack_hwio(u.weights_f32, u.w_dims);
    else if (u.kind == Unit::MatMul) p.wf_packed = u.weights_f32;
    if (u.kind == Unit::QConv || u.kind == Unit::QMatMul) {
      const float x_scale = u.inputs.at(0).scale;
      for (float ws : u.w_scales) p.multipliers.push_back(systolic::make_multiplier(x_scale, ws, u.op_output().scale));
    }
    u.weights.clear();
    u.weights.shrink_to_fit();
    u.weights_f32.clear();
    u.weights_f32.shrink_to_fit();
    if (backend_->on_device()) {  // the device keeps them; this process (the guest) needs no copy
      if (!p.w_packed.empty()) p.w_resident = backend_->keep(p.w_packed.data(), p.w_packed.size());
      if (!p.wf_packed.empty()) p.w_resident = backend_->keep(p.wf_packed.data(), p.wf_packed.size() * sizeof(float));
      std::vector<int8_t>().swap(p.w_packed);
      std::vector<float>().swap(p.wf_packed);
    }
    produced[u.output.name] = u.output.elem;
    p.unit = std::move(u);
    units_.push_back(std::move(p));
  }
  for (const std::string& out : outputs_) {
    auto it = produced.find(out);
    if (it == produced.end()) throw std::invalid_argument("output '" + out + "' is not produced by the chain's units");
    output_elems_.push_back(it->second);
  }
}

CompiledChain::~CompiledChain() {
  for (const Prepared& p : units_) backend_->release(p.w_resident);
}

void CompiledChain::run(const std::vector<ChainInput>& inputs, const Allocate& allocate) const {
  std::unordered_map<std::string, Buf> bufs;
  systolic::ExecOptions opt;
  opt.pool = pool_.get();
  // A unit input: produced earlier in the chain (slot -1), else taken from the fused node's inputs, where a float
  // tensor is quantized on the way in (an absorbed QuantizeLinear) straight into the layout its reader wants.
  auto fetch = [&](const QTensor& q, int slot, bool conv_reader) -> Buf& {
    if (slot < 0) return bufs.at(q.name);
    auto it = bufs.find(q.name);
    if (it != bufs.end()) return it->second;
    const ChainInput& in = inputs.at(static_cast<size_t>(slot));
    const bool quantize = !q.float_source.empty();
    const int32_t expected = quantize ? kFloat : q.elem;
    const std::string& name = quantize ? q.float_source : q.name;
    if (in.elem != expected)
      throw std::invalid_argument("input '" + name + "' is " + elem_type_name(in.elem) + ", expected " +
                                  elem_type_name(expected));
    Buf b;
    b.dims = in.dims;
    b.is_float = q.elem == kFloat;
    const size_t n = static_cast<size_t>(ort::element_count(in.dims, name.c_str()));
    if (quantize) {
      b.q.resize(n);
      systolic::QuantizeArgs a;
      a.batch = in.dims.empty() ? 1 : in.dims[0];
      a.channels = in.dims.size() >= 2 ? in.dims[1] : 1;
      a.spatial = a.batch * a.channels == 0 ? 0 : static_cast<int64_t>(n) / (a.batch * a.channels);
      a.to_nhwc = conv_reader && in.dims.size() == 4;
      a.X = static_cast<const float*>(in.data);
      a.Y = b.q.data();
      a.scale = q.scale;
      a.zero_point = q.zero_point;
      if (n > 0) backend_->quantize(a, opt);
      b.nhwc = a.to_nhwc;
    } else if (b.is_float) {
      b.f.resize(n);
      if (n > 0) std::memcpy(b.f.data(), in.data, n * sizeof(float));
    } else {
      b.q.resize(n);
      if (n > 0) std::memcpy(b.q.data(), in.data, n);
      if (q.elem == kUint8)
        for (int8_t& v : b.q) v = static_cast<int8_t>(static_cast<uint8_t>(v) ^ 0x80u);  // x_u8 - 128
    }
    return bufs.emplace(q.name, std::move(b)).first->second;
  };
  // The int8 conv's and matmul's output scaling: per-tensor or per-channel multipliers and the zero points.
  auto set_requantization = [](auto& a, const Prepared& p, const Unit& u) {
    if (p.multipliers.size() == 1) a.multiplier = p.multipliers[0];
    else a.multipliers = p.multipliers.data();
    a.x_zero_point = static_cast<int8_t>(u.inputs[0].zero_point);
    a.y_zero_point = u.op_output().zero_point;
  };
  for (const Prepared& p : units_) {
    const Unit& u = p.unit;
    Buf out;
    out.is_float = u.is_float();
    systolic::Counters c;
    if (u.kind == Unit::QConv || u.kind == Unit::Conv) {
      Buf& x = fetch(u.inputs[0], p.input_slots[0], true);
      if (x.dims.size() != 4) throw std::invalid_argument("conv input " + dims_str(x.dims) + " is not 4-D");
      to_nhwc(x);
      const std::vector<int64_t> w_hwio = {u.w_dims[2], u.w_dims[3], u.w_dims[1], u.w_dims[0]};
      const std::vector<int64_t> b_dims = {u.w_dims[0]};
      const bool has_bias = u.is_float() ? !u.bias_f32.empty() : !u.bias.empty();
      const ort::ConvCall call = ort::plan_conv(conv_attributes(u), {x.dims[0], x.dims[2], x.dims[3], x.dims[1]},
                                                w_hwio, has_bias ? &b_dims : nullptr);
      const std::vector<int64_t>& y = call.output_dims;  // NHWC
      out.dims = {y[0], y[3], y[1], y[2]};
      out.nhwc = true;
      const size_t n = static_cast<size_t>(numel(out.dims));
      if (u.is_float()) {
        out.f.resize(n);
        if (!call.empty) {
          const void* bias = has_bias ? u.bias_f32.data() : nullptr;
          const auto a = ort::conv_args<systolic::ConvF32Args, float, float>(call, x.f.data(), p.wf_packed.data(),
                                                                             bias, u.relu, out.f.data());
          c = backend_->conv2d_f32(config_, mode_, a, opt, p.w_resident);
        }
      } else {
        out.q.resize(n);
        if (!call.empty) {
          const void* bias = has_bias ? u.bias.data() : nullptr;
          auto a = ort::conv_args<systolic::ConvArgs, int8_t, int32_t>(call, x.q.data(), p.w_packed.data(), bias,
                                                                       u.relu, out.q.data());
          set_requantization(a, p, u);
          c = backend_->conv2d(config_, mode_, a, opt, p.w_resident);
        }
      }
    } else if (u.kind == Unit::QMatMul || u.kind == Unit::MatMul) {
      Buf& x = fetch(u.inputs[0], p.input_slots[0], false);
      to_nchw(x);
      const std::vector<int64_t> b_dims = {u.w_dims[1]};
      const bool has_bias = u.is_float() ? !u.bias_f32.empty() : !u.bias.empty();
      const ort::MatmulCall call = ort::plan_matmul(x.dims, u.w_dims, has_bias ? &b_dims : nullptr);
      out.dims = call.output_dims;
      const size_t n = static_cast<size_t>(numel(out.dims));
      if (u.is_float()) {
        out.f.resize(n);
        if (!call.empty) {
          const void* bias = has_bias ? u.bias_f32.data() : nullptr;
          const auto a = ort::matmul_args<systolic::MatmulF32Args, float, float>(call, x.f.data(), p.wf_packed.data(),
                                                                                 bias, u.relu, out.f.data());
          c = backend_->matmul_f32(config_, mode_, a, opt, p.w_resident);
        }
      } else {
        out.q.resize(n);
        if (!call.empty) {
          const void* bias = has_bias ? u.bias.data() : nullptr;
          auto a = ort::matmul_args<systolic::MatmulArgs, int8_t, int32_t>(call, x.q.data(), p.w_packed.data(), bias,
                                                                           u.relu, out.q.data());
          set_requantization(a, p, u);
          c = backend_->matmul(config_, mode_, a, opt, p.w_resident);
        }
      }
    } else {
      Buf& a = fetch(u.inputs[0], p.input_slots[0], false);
      Buf& b = fetch(u.inputs[1], p.input_slots[1], false);
      if (a.dims != b.dims)
        throw std::invalid_argument("add inputs " + dims_str(a.dims) + " and " + dims_str(b.dims) + " differ");
      if (a.nhwc || b.nhwc) {
        to_nhwc(a);
        to_nhwc(b);
      }
      out.dims = a.dims;
      out.nhwc = a.nhwc;
      out.q.resize(a.q.size());
      if (!out.q.empty()) {
        systolic::ResaddArgs r;
        r.n = static_cast<int64_t>(out.q.size());
        r.A = a.q.data();
        r.B = b.q.data();
        r.a_ratio = systolic::make_ratio(u.inputs[0].scale, u.op_output().scale);
        r.b_ratio = systolic::make_ratio(u.inputs[1].scale, u.op_output().scale);
        r.a_zero_point = static_cast<int8_t>(u.inputs[0].zero_point);
        r.b_zero_point = static_cast<int8_t>(u.inputs[1].zero_point);
        r.c_zero_point = u.op_output().zero_point;
        r.relu = u.relu;
        r.C = out.q.data();
        c = backend_->resadd(config_, mode_, r, opt);
      }
    }
    if (u.requant.enabled)  // the float DQ -> Relu -> Q that followed the op, as ONNX Runtime computes it
      for (int8_t& v : out.q) v = u.requant.table[static_cast<size_t>(v + 128)];
    if (report_) report_->add(u.kind, c);
    bufs[u.output.name] = std::move(out);
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    Buf& b = bufs.at(outputs_[i]);
    to_nchw(b);
    void* dst = allocate(i, b.dims);
    if (b.size() == 0) continue;
    if (dst == nullptr) throw std::runtime_error("no buffer for output '" + outputs_[i] + "'");
    if (b.is_float) {
      std::memcpy(dst, b.f.data(), b.f.size() * sizeof(float));
    } else if (output_elems_[i] == kUint8) {
      uint8_t* d = static_cast<uint8_t*>(dst);
      for (size_t k = 0; k < b.q.size(); ++k) d[k] = static_cast<uint8_t>(static_cast<uint8_t>(b.q[k]) ^ 0x80u);
    } else {
      std::memcpy(dst, b.q.data(), b.q.size());
    }
  }
  if (report_) report_->add_node_run();
}

}  // namespace rcnn::ep
