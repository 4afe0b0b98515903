#include "ep.h"

#include "capability.h"
#include "ort_graph.h"

namespace rcnn::ep {
namespace {

// One compiled node's compute functions. The state is the chain itself (immutable; Compute may run concurrently).
struct ComputeInfo : OrtNodeComputeInfo {
  std::unique_ptr<CompiledChain> chain;

  explicit ComputeInfo(std::unique_ptr<CompiledChain> c) : OrtNodeComputeInfo{}, chain(std::move(c)) {
    ort_version_supported = ORT_API_VERSION;
    CreateState = CreateStateImpl;
    Compute = ComputeImpl;
    ReleaseState = ReleaseStateImpl;
  }

  static OrtStatus* ORT_API_CALL CreateStateImpl(OrtNodeComputeInfo* self, OrtNodeComputeContext*,
                                                 void** state) noexcept {
    *state = static_cast<ComputeInfo*>(self)->chain.get();
    return nullptr;
  }
  static void ORT_API_CALL ReleaseStateImpl(OrtNodeComputeInfo*, void*) noexcept {}

  static OrtStatus* ORT_API_CALL ComputeImpl(OrtNodeComputeInfo*, void* state, OrtKernelContext* ctx) noexcept {
    const CompiledChain* chain = static_cast<const CompiledChain*>(state);
    return guarded([&]() -> OrtStatus* {
      try {
        run(*chain, ctx);
      } catch (const std::exception& e) {
        throw std::runtime_error("compiled node '" + chain->name() + "': " + e.what());
      }
      return nullptr;
    });
  }

  static void run(const CompiledChain& chain, OrtKernelContext* ctx) {
    const OrtApi& api = *g_api.ort;
    size_t n_in = 0;
    check(api.KernelContext_GetInputCount(ctx, &n_in), "KernelContext_GetInputCount");
    std::vector<ChainInput> inputs(n_in);
    for (size_t i = 0; i < n_in; ++i) {
      const OrtValue* v = nullptr;
      check(api.KernelContext_GetInput(ctx, i, &v), "KernelContext_GetInput");
      if (v == nullptr) continue;
      OrtTensorTypeAndShapeInfo* info = nullptr;
      check(api.GetTensorTypeAndShape(v, &info), "GetTensorTypeAndShape");
      ONNXTensorElementDataType elem = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
      size_t rank = 0;
      OrtStatus* st = api.GetTensorElementType(info, &elem);
      if (st == nullptr) st = api.GetDimensionsCount(info, &rank);
      inputs[i].dims.assign(rank, 0);
      if (st == nullptr && rank > 0) st = api.GetDimensions(info, inputs[i].dims.data(), rank);
      api.ReleaseTensorTypeAndShapeInfo(info);
      check(st, "tensor shape");
      inputs[i].elem = static_cast<int32_t>(elem);
      check(api.GetTensorData(v, &inputs[i].data), "GetTensorData");
    }
    chain.run(inputs, [&](size_t index, const std::vector<int64_t>& dims) -> void* {
      OrtValue* out = nullptr;
      check(api.KernelContext_GetOutput(ctx, index, dims.data(), dims.size(), &out), "KernelContext_GetOutput");
      void* data = nullptr;
      check(api.GetTensorMutableData(out, &data), "GetTensorMutableData");
      return data;
    });
  }
};

}  // namespace

SystolicEp::SystolicEp(EpOptions options, const OrtLogger* logger, std::shared_ptr<const Backend> backend)
    : OrtEp{}, options_(std::move(options)), logger_(logger), backend_(std::move(backend)) {
  ort_version_supported = ORT_API_VERSION;
  GetName = GetNameImpl;
  GetCapability = GetCapabilityImpl;
  Compile = CompileImpl;
  ReleaseNodeComputeInfos = ReleaseNodeComputeInfosImpl;
  OnRunStart = OnRunStartImpl;
  report_ = register_report(options_.report_id, options_);
  report_->set_arithmetic(backend_->where());
  if (options_.settings.threads > 1)
    pool_ = std::make_shared<systolic::ThreadPool>(static_cast<unsigned>(options_.settings.threads));
}

SystolicEp::~SystolicEp() {
  if (!options_.report_file.empty()) {
    try {
      write_file_atomically(options_.report_file, report_->json());
    } catch (...) {
      // Nothing may escape a destructor called by ORT; a report file that cannot be written is left out.
    }
  }
}

const char* ORT_API_CALL SystolicEp::GetNameImpl(const OrtEp*) noexcept { return kEpName; }

OrtStatus* ORT_API_CALL SystolicEp::GetCapabilityImpl(OrtEp* self, const OrtGraph* graph,
                                                      OrtEpGraphSupportInfo* info) noexcept {
  return guarded([&] { return static_cast<SystolicEp*>(self)->get_capability(graph, info); });
}

OrtStatus* SystolicEp::get_capability(const OrtGraph* graph, OrtEpGraphSupportInfo* info) {
  std::vector<const OrtNode*> handles;
  const GraphModel g = read_graph(graph, &handles);
  Rules rules;
  rules.config = options_.settings.config;  // its elem decides: quantized units (int8) or float ones (fp32)
  rules.adds_on_cpu = options_.adds_on_cpu;
  Placement p = place(g, rules);
  const OrtNode* parent = nullptr;
  check(g_api.ort->Graph_GetParentNode(graph, &parent), "Graph_GetParentNode");
  if (parent == nullptr) report_->set_placement(p.decisions, p.chains.size());
  OrtNodeFusionOptions fusion{};
  fusion.ort_version_supported = ORT_API_VERSION;
  fusion.drop_constant_initializers = true;  // the chain keeps its own packed copy of weights and bias
  for (const Chain& c : p.chains) {
    std::vector<const OrtNode*> nodes;
    for (int n : c.nodes) nodes.push_back(handles[static_cast<size_t>(n)]);
    std::vector<Unit> units;
    for (int u : c.units) units.push_back(p.units[static_cast<size_t>(u)]);
    {
      std::lock_guard<std::mutex> lock(mu_);
      plans_[c.key] = std::move(units);
    }
    check(g_api.ep->EpGraphSupportInfo_AddNodesToFuse(info, nodes.data(), nodes.size(), &fusion),
          "EpGraphSupportInfo_AddNodesToFuse");
  }
  return nullptr;
}

OrtStatus* ORT_API_CALL SystolicEp::CompileImpl(OrtEp* self, const OrtGraph** graphs, const OrtNode** fused_nodes,
                                                size_t count, OrtNodeComputeInfo** infos,
                                                OrtNode** /*ep_context_nodes*/) noexcept {
  return guarded([&] { return static_cast<SystolicEp*>(self)->compile(graphs, fused_nodes, count, infos); });
}

OrtStatus* SystolicEp::compile(const OrtGraph** graphs, const OrtNode** fused_nodes, size_t count,
                               OrtNodeComputeInfo** infos) {
  for (size_t i = 0; i < count; ++i) infos[i] = nullptr;
  try {
    for (size_t i = 0; i < count; ++i) {
      const GraphModel g = read_graph(graphs[i], nullptr);
      std::vector<std::string> outs;
      for (const NodeInfo& n : g.nodes) outs.push_back(n.outputs.empty() ? "" : n.outputs[0]);
      std::vector<Unit> units;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = plans_.find(chain_key(outs));
        if (it == plans_.end()) throw std::runtime_error("Compile got a node set GetCapability did not claim");
        units = std::move(it->second);  // the chain keeps its own packed copy from here on
        plans_.erase(it);
      }
      const char* name = nullptr;
      check(g_api.ort->Node_GetName(fused_nodes[i], &name), "Node_GetName");
      auto chain = std::make_unique<CompiledChain>(name != nullptr ? name : "", std::move(units),
                                                   value_names(fused_nodes[i], false),
                                                   value_names(fused_nodes[i], true), options_.settings, pool_,
                                                   report_, backend_);
      infos[i] = new ComputeInfo(std::move(chain));
    }
  } catch (...) {
    for (size_t i = 0; i < count; ++i) {
      delete static_cast<ComputeInfo*>(infos[i]);
      infos[i] = nullptr;
    }
    throw;
  }
  report_->add_compiled(count);
  return nullptr;
}

OrtStatus* ORT_API_CALL SystolicEp::OnRunStartImpl(OrtEp* self, const OrtRunOptions*) noexcept {
  return guarded([&]() -> OrtStatus* {
    static_cast<SystolicEp*>(self)->report_->add_run();
    return nullptr;
  });
}

void ORT_API_CALL SystolicEp::ReleaseNodeComputeInfosImpl(OrtEp*, OrtNodeComputeInfo** infos,
                                                          size_t count) noexcept {
  for (size_t i = 0; i < count; ++i) delete static_cast<ComputeInfo*>(infos[i]);
}

}  // namespace rcnn::ep
