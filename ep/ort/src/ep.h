// The Systolic OrtEp: GetCapability claims node units (capability.h) and fuses each connected chain into one
// compiled node; Compile builds a CompiledChain per fused node (weights packed and multipliers computed once).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compiled_chain.h"
#include "options.h"
#include "ort_api.h"
#include "report.h"

namespace rcnn::ep {

class SystolicEp : public OrtEp {
 public:
  // `backend`: where the compiled chains' ops run (in-process, or the device process).
  SystolicEp(EpOptions options, const OrtLogger* logger, std::shared_ptr<const Backend> backend);
  ~SystolicEp();
  SystolicEp(const SystolicEp&) = delete;
  SystolicEp& operator=(const SystolicEp&) = delete;

 private:
  static const char* ORT_API_CALL GetNameImpl(const OrtEp* self) noexcept;
  static OrtStatus* ORT_API_CALL GetCapabilityImpl(OrtEp* self, const OrtGraph* graph,
                                                   OrtEpGraphSupportInfo* info) noexcept;
  static OrtStatus* ORT_API_CALL CompileImpl(OrtEp* self, const OrtGraph** graphs, const OrtNode** fused_nodes,
                                             size_t count, OrtNodeComputeInfo** infos,
                                             OrtNode** ep_context_nodes) noexcept;
  static OrtStatus* ORT_API_CALL OnRunStartImpl(OrtEp* self, const OrtRunOptions* run_options) noexcept;
  static void ORT_API_CALL ReleaseNodeComputeInfosImpl(OrtEp* self, OrtNodeComputeInfo** infos,
                                                       size_t count) noexcept;

  OrtStatus* get_capability(const OrtGraph* graph, OrtEpGraphSupportInfo* info);
  OrtStatus* compile(const OrtGraph** graphs, const OrtNode** fused_nodes, size_t count, OrtNodeComputeInfo** infos);

  EpOptions options_;
  const OrtLogger* logger_;
  std::shared_ptr<Report> report_;
  std::shared_ptr<systolic::ThreadPool> pool_;
  std::shared_ptr<const Backend> backend_;
  std::mutex mu_;
  std::map<std::string, std::vector<Unit>> plans_;  // chain_key -> units, from GetCapability for Compile
};

}  // namespace rcnn::ep
