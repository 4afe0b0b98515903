#include "compiled_chain.h"

#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "systolic/conv.h"
#include "systolic/matmul.h"
#include "systolic/numerics.h"
#include "systolic/resadd.h"

namespace rcnn::ep {
namespace {

struct Buf {
  std::vector<int8_t> data;   // int8 domain
  std::vector<int64_t> dims;  // logical ONNX dims (NCHW for rank 4)
  bool nhwc = false;          // data stored as NHWC (rank 4 only)
};

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

int64_t numel(const std::vector<int64_t>& d) {
  int64_t n = 1;
  for (int64_t v : d) n *= v;
  return n;
}

void to_nhwc(Buf& b) {
  if (b.nhwc || b.dims.size() != 4) return;
  const int64_t N = b.dims[0], C = b.dims[1], H = b.dims[2], W = b.dims[3];
  std::vector<int8_t> out(b.data.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int8_t* src = b.data.data() + ((n * C + c) * H) * W;
      int8_t* dst = out.data() + n * H * W * C + c;
      for (int64_t hw = 0; hw < H * W; ++hw) dst[hw * C] = src[hw];
    }
  b.data.swap(out);
  b.nhwc = true;
}

void to_nchw(Buf& b) {
  if (!b.nhwc) return;
  const int64_t N = b.dims[0], C = b.dims[1], H = b.dims[2], W = b.dims[3];
  std::vector<int8_t> out(b.data.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int8_t* src = b.data.data() + n * H * W * C + c;
      int8_t* dst = out.data() + ((n * C + c) * H) * W;
      for (int64_t hw = 0; hw < H * W; ++hw) dst[hw] = src[hw * C];
    }
  b.data.swap(out);
  b.nhwc = false;
}

}  // namespace

CompiledChain::CompiledChain(std::string name, std::vector<Unit> units, std::vector<std::string> inputs,
                             std::vector<std::string> outputs, const ort::Settings& settings,
                             std::shared_ptr<systolic::ThreadPool> pool, std::shared_ptr<Report> report)
    : name_(std::move(name)),
      inputs_(std::move(inputs)),
      outputs_(std::move(outputs)),
      config_(settings.config_for(systolic::ElemType::Int8)),
      mode_(settings.mode),
      pool_(std::move(pool)),
      report_(std::move(report)) {
  std::map<std::string, int32_t> produced;  // tensor -> element type
  for (Unit& u : units) {
    Prepared p;
    for (const QTensor& in : u.inputs) {
      int slot = -1;
      if (produced.count(in.name) == 0) {
        for (size_t i = 0; i < inputs_.size(); ++i)
          if (inputs_[i] == in.name) slot = static_cast<int>(i);
        if (slot < 0) throw std::invalid_argument("input '" + in.name + "' of the chain is neither an input of the fused node nor produced in it");
      }
      p.input_slots.push_back(slot);
    }
    const float x_scale = u.inputs.at(0).scale;
    if (u.kind == Unit::QConv) {
      const int64_t OC = u.w_dims[0], ICg = u.w_dims[1], KH = u.w_dims[2], KW = u.w_dims[3];
      p.w_packed.resize(u.weights.size());
      for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t ic = 0; ic < ICg; ++ic)
          for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw)
              p.w_packed[static_cast<size_t>(((kh * KW + kw) * ICg + ic) * OC + oc)] =
                  u.weights[static_cast<size_t>(((oc * ICg + ic) * KH + kh) * KW + kw)];
    } else if (u.kind == Unit::QMatMul) {
      p.w_packed = u.weights;
    }
    if (u.kind != Unit::QAdd)
      for (float ws : u.w_scales) p.multipliers.push_back(systolic::make_multiplier(x_scale, ws, u.op_output().scale));
    u.weights.clear();
    u.weights.shrink_to_fit();
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

void CompiledChain::run(const std::vector<ChainInput>& inputs, const Allocate& allocate) const {
  std::unordered_map<std::string, Buf> bufs;
  systolic::ExecOptions opt;
  opt.pool = pool_.get();
  auto fetch = [&](const QTensor& q, int slot) -> Buf& {
    if (slot < 0) return bufs.at(q.name);
    auto it = bufs.find(q.name);
    if (it != bufs.end()) return it->second;
    const ChainInput& in = inputs.at(static_cast<size_t>(slot));
    if (in.elem != q.elem)
      throw std::invalid_argument("input '" + q.name + "' is " + elem_type_name(in.elem) + ", expected " +
                                  elem_type_name(q.elem));
    Buf b;
    b.dims = in.dims;
    const size_t n = static_cast<size_t>(numel(in.dims));
    b.data.resize(n);
    if (n > 0) std::memcpy(b.data.data(), in.data, n);
    if (q.elem == kUint8)
      for (int8_t& v : b.data) v = static_cast<int8_t>(static_cast<uint8_t>(v) ^ 0x80u);  // x_u8 - 128
    return bufs.emplace(q.name, std::move(b)).first->second;
  };
  for (const Prepared& p : units_) {
    const Unit& u = p.unit;
    Buf out;
    systolic::Counters c;
    if (u.kind == Unit::QConv) {
      Buf& x = fetch(u.inputs[0], p.input_slots[0]);
      if (x.dims.size() != 4) throw std::invalid_argument("conv input " + dims_str(x.dims) + " is not 4-D");
      to_nhwc(x);
      systolic::ConvArgs a;
      systolic::ConvShape& s = a.shape;
      s.batch = x.dims[0]; s.in_ch = x.dims[1]; s.in_h = x.dims[2]; s.in_w = x.dims[3];
      s.out_ch = u.w_dims[0]; s.kernel_h = u.w_dims[2]; s.kernel_w = u.w_dims[3];
      s.stride_h = u.stride_h; s.stride_w = u.stride_w; s.dil_h = u.dil_h; s.dil_w = u.dil_w;
      s.pad_top = u.pad_top; s.pad_left = u.pad_left; s.pad_bottom = u.pad_bottom; s.pad_right = u.pad_right;
      s.groups = u.group;
      s.pool = u.pool;
      if (s.in_ch != u.w_dims[1] * u.group)
        throw std::invalid_argument("conv input " + dims_str(x.dims) + " does not match the weights");
      out.dims = {s.batch, s.out_ch, s.out_h(), s.out_w()};
      out.nhwc = true;
      out.data.resize(static_cast<size_t>(numel(out.dims)));
      if (!out.data.empty()) {
        a.input = x.data.data();
        a.weights = p.w_packed.data();
        a.bias = u.bias.empty() ? nullptr : u.bias.data();
        if (p.multipliers.size() == 1) a.multiplier = p.multipliers[0];
        else a.multipliers = p.multipliers.data();
        a.relu = u.relu;
        a.output = out.data.data();
        a.x_zero_point = static_cast<int8_t>(u.inputs[0].zero_point);
        a.y_zero_point = u.op_output().zero_point;
        c = systolic::conv2d(config_, mode_, a, opt);
      }
    } else if (u.kind == Unit::QMatMul) {
      Buf& x = fetch(u.inputs[0], p.input_slots[0]);
      to_nchw(x);
      const int64_t K = u.w_dims[0], N = u.w_dims[1];
      if (x.dims.empty() || x.dims.back() != K)
        throw std::invalid_argument("matmul input " + dims_str(x.dims) + " does not end in K = " + std::to_string(K));
      out.dims = x.dims;
      out.dims.back() = N;
      out.data.resize(static_cast<size_t>(numel(out.dims)));
      const int64_t I = numel(x.dims) / K;
      if (I > 0) {
        systolic::MatmulArgs a;
        a.I = I; a.J = N; a.K = K;
        a.A = x.data.data();
        a.B = p.w_packed.data();
        if (!u.bias.empty()) {
          a.bias_kind = systolic::BiasKind::PerColumn;
          a.bias = u.bias.data();
        }
        if (p.multipliers.size() == 1) a.multiplier = p.multipliers[0];
        else a.multipliers = p.multipliers.data();
        a.relu = u.relu;
        a.C = out.data.data();
        a.x_zero_point = static_cast<int8_t>(u.inputs[0].zero_point);
        a.y_zero_point = u.op_output().zero_point;
        c = systolic::matmul(config_, mode_, a, opt);
      }
    } else {
      Buf& a = fetch(u.inputs[0], p.input_slots[0]);
      Buf& b = fetch(u.inputs[1], p.input_slots[1]);
      if (a.dims != b.dims)
        throw std::invalid_argument("add inputs " + dims_str(a.dims) + " and " + dims_str(b.dims) + " differ");
      if (a.nhwc || b.nhwc) {
        to_nhwc(a);
        to_nhwc(b);
      }
      out.dims = a.dims;
      out.nhwc = a.nhwc;
      out.data.resize(a.data.size());
      if (!out.data.empty()) {
        systolic::ResaddArgs r;
        r.n = static_cast<int64_t>(out.data.size());
        r.A = a.data.data();
        r.B = b.data.data();
        r.a_ratio = systolic::make_ratio(u.inputs[0].scale, u.op_output().scale);
        r.b_ratio = systolic::make_ratio(u.inputs[1].scale, u.op_output().scale);
        r.a_zero_point = static_cast<int8_t>(u.inputs[0].zero_point);
        r.b_zero_point = static_cast<int8_t>(u.inputs[1].zero_point);
        r.c_zero_point = u.op_output().zero_point;
        r.relu = u.relu;
        r.C = out.data.data();
        c = systolic::resadd(config_, mode_, r, opt);
      }
    }
    if (u.requant.enabled)  // the float DQ -> Relu -> Q that followed the op, as ONNX Runtime computes it
      for (int8_t& v : out.data) v = u.requant.table[static_cast<size_t>(v + 128)];
    if (report_) report_->add(u.kind, c);
    bufs[u.output.name] = std::move(out);
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    Buf& b = bufs.at(outputs_[i]);
    to_nchw(b);
    void* dst = allocate(i, b.dims);
    if (b.data.empty()) continue;
    if (dst == nullptr) throw std::runtime_error("no buffer for output '" + outputs_[i] + "'");
    if (output_elems_[i] == kUint8) {
      uint8_t* d = static_cast<uint8_t*>(dst);
      for (size_t k = 0; k < b.data.size(); ++k) d[k] = static_cast<uint8_t>(static_cast<uint8_t>(b.data[k]) ^ 0x80u);
    } else {
      std::memcpy(dst, b.data.data(), b.data.size());
    }
  }
  if (report_) report_->add_node_run();
}

}  // namespace rcnn::ep
