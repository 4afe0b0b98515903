#include "ort_graph.h"

#include <cstring>

namespace rcnn::ep {
namespace {

std::vector<const OrtValueInfo*> node_values(const OrtNode* node, bool outputs) {
  const OrtApi& api = *g_api.ort;
  size_t n = 0;
  check(outputs ? api.Node_GetNumOutputs(node, &n) : api.Node_GetNumInputs(node, &n), "Node_GetNum*puts");
  std::vector<const OrtValueInfo*> v(n, nullptr);
  if (n > 0) check(outputs ? api.Node_GetOutputs(node, v.data(), n) : api.Node_GetInputs(node, v.data(), n), "Node_Get*puts");
  return v;
}

std::string value_name(const OrtValueInfo* vi) {
  if (vi == nullptr) return {};
  const char* name = nullptr;
  check(g_api.ort->GetValueInfoName(vi, &name), "GetValueInfoName");
  return name != nullptr ? name : "";
}

void read_type(const OrtValueInfo* vi, TensorInfo& t) {
  const OrtApi& api = *g_api.ort;
  const OrtTypeInfo* type = nullptr;
  check(api.GetValueInfoTypeInfo(vi, &type), "GetValueInfoTypeInfo");
  if (type == nullptr) return;
  const OrtTensorTypeAndShapeInfo* info = nullptr;
  check(api.CastTypeInfoToTensorInfo(type, &info), "CastTypeInfoToTensorInfo");
  if (info == nullptr) return;
  ONNXTensorElementDataType elem = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  check(api.GetTensorElementType(info, &elem), "GetTensorElementType");
  t.elem = static_cast<int32_t>(elem);
  size_t rank = 0;
  check(api.GetDimensionsCount(info, &rank), "GetDimensionsCount");
  t.dims.assign(rank, -1);
  if (rank > 0) check(api.GetDimensions(info, t.dims.data(), rank), "GetDimensions");
  for (int64_t& d : t.dims)
    if (d < 0) d = -1;
  t.has_shape = true;
}

void read_const(const OrtValueInfo* vi, TensorInfo& t) {
  const OrtApi& api = *g_api.ort;
  bool is_const = false;
  check(api.ValueInfo_IsConstantInitializer(vi, &is_const), "ValueInfo_IsConstantInitializer");
  if (!is_const) return;
  const OrtValue* value = nullptr;
  check(api.ValueInfo_GetInitializerValue(vi, &value), "ValueInfo_GetInitializerValue");
  if (value == nullptr) return;
  size_t bytes = 0;
  check(api.GetTensorSizeInBytes(value, &bytes), "GetTensorSizeInBytes");
  const void* data = nullptr;
  check(api.GetTensorData(value, &data), "GetTensorData");
  t.is_const = true;
  t.data.resize(bytes);
  if (bytes > 0 && data != nullptr) std::memcpy(t.data.data(), data, bytes);
}

void read_attrs(const OrtNode* node, NodeInfo& n) {
  const OrtApi& api = *g_api.ort;
  size_t count = 0;
  check(api.Node_GetNumAttributes(node, &count), "Node_GetNumAttributes");
  if (count == 0) return;
  std::vector<const OrtOpAttr*> attrs(count, nullptr);
  check(api.Node_GetAttributes(node, attrs.data(), count), "Node_GetAttributes");
  for (const OrtOpAttr* a : attrs) {
    if (a == nullptr) continue;
    const char* name = nullptr;
    check(api.OpAttr_GetName(a, &name), "OpAttr_GetName");
    OrtOpAttrType type = ORT_OP_ATTR_UNDEFINED;
    check(api.OpAttr_GetType(a, &type), "OpAttr_GetType");
    Attr v;
    size_t size = 0;
    switch (type) {
      case ORT_OP_ATTR_INT:
        v.kind = Attr::Int;
        check(api.ReadOpAttr(a, type, &v.i, sizeof v.i, &size), "ReadOpAttr");
        break;
      case ORT_OP_ATTR_FLOAT:
        v.kind = Attr::Float;
        check(api.ReadOpAttr(a, type, &v.f, sizeof v.f, &size), "ReadOpAttr");
        break;
      case ORT_OP_ATTR_INTS:
      case ORT_OP_ATTR_FLOATS:
      case ORT_OP_ATTR_STRING: {
        // First call sizes the buffer (it fails with the needed size in `size`).
        OrtStatus* st = api.ReadOpAttr(a, type, nullptr, 0, &size);
        if (st != nullptr) api.ReleaseStatus(st);
        if (type == ORT_OP_ATTR_INTS) {
          v.kind = Attr::Ints;
          v.ints.resize(size / sizeof(int64_t));
          if (size > 0) check(api.ReadOpAttr(a, type, v.ints.data(), size, &size), "ReadOpAttr");
        } else if (type == ORT_OP_ATTR_FLOATS) {
          v.kind = Attr::Floats;
          v.floats.resize(size / sizeof(float));
          if (size > 0) check(api.ReadOpAttr(a, type, v.floats.data(), size, &size), "ReadOpAttr");
        } else {
          v.kind = Attr::String;
          v.s.resize(size);
          if (size > 0) check(api.ReadOpAttr(a, type, v.s.data(), size, &size), "ReadOpAttr");
          v.s.resize(std::strlen(v.s.c_str()));
        }
        break;
      }
      default:
        v.kind = Attr::Other;
        break;
    }
    n.attrs[name != nullptr ? name : ""] = std::move(v);
  }
}

}  // namespace

std::vector<std::string> value_names(const OrtNode* node, bool outputs) {
  std::vector<std::string> names;
  for (const OrtValueInfo* vi : node_values(node, outputs)) names.push_back(value_name(vi));
  return names;
}

GraphModel read_graph(const OrtGraph* graph, std::vector<const OrtNode*>* handles) {
  const OrtApi& api = *g_api.ort;
  GraphModel g;
  size_t count = 0;
  check(api.Graph_GetNumNodes(graph, &count), "Graph_GetNumNodes");
  std::vector<const OrtNode*> nodes(count, nullptr);
  if (count > 0) check(api.Graph_GetNodes(graph, nodes.data(), count), "Graph_GetNodes");
  for (const OrtNode* node : nodes) {
    NodeInfo n;
    const char* s = nullptr;
    check(api.Node_GetName(node, &s), "Node_GetName");
    n.name = s != nullptr ? s : "";
    check(api.Node_GetOperatorType(node, &s), "Node_GetOperatorType");
    n.op = s != nullptr ? s : "";
    check(api.Node_GetDomain(node, &s), "Node_GetDomain");
    n.domain = s != nullptr ? s : "";
    if (n.domain == "ai.onnx") n.domain.clear();
    check(api.Node_GetSinceVersion(node, &n.since_version), "Node_GetSinceVersion");
    for (bool outputs : {false, true}) {
      for (const OrtValueInfo* vi : node_values(node, outputs)) {
        const std::string name = value_name(vi);
        (outputs ? n.outputs : n.inputs).push_back(name);
        if (name.empty() || g.tensors.count(name) != 0) continue;
        TensorInfo& t = g.tensors[name];
        read_type(vi, t);
        if (!outputs) read_const(vi, t);
      }
    }
    read_attrs(node, n);
    g.nodes.push_back(std::move(n));
  }
  size_t n_out = 0;
  check(api.Graph_GetNumOutputs(graph, &n_out), "Graph_GetNumOutputs");
  std::vector<const OrtValueInfo*> outs(n_out, nullptr);
  if (n_out > 0) check(api.Graph_GetOutputs(graph, outs.data(), n_out), "Graph_GetOutputs");
  g.link();
  for (const OrtValueInfo* vi : outs) {
    const std::string name = value_name(vi);
    if (!name.empty()) g.tensors[name].graph_output = true;
  }
  if (handles != nullptr) *handles = nodes;
  return g;
}

}  // namespace rcnn::ep
