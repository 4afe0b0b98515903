// The placement + counters report of one EP instance (README.md, "Report"), and the library's registry of reports
// that RcnnSystolicEpReport() reads: reports outlive their EP (a Python caller asks after the session is gone),
// the registry keeps the latest kMaxReports and always the latest one created ("" as the id).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "capability.h"
#include "options.h"
#include "systolic/counters.h"

namespace rcnn::ep {

class Report {
 public:
  Report(std::string id, const EpOptions& options);

  const std::string& id() const noexcept { return id_; }
  // The decisions of the latest GetCapability of the main graph (a later call replaces them).
  void set_placement(const std::vector<NodeDecision>& decisions, size_t chains);
  void add_compiled(size_t n);
  void add(Unit::Kind kind, const systolic::Counters& c);
  void add_run();           // a session Run (OrtEp::OnRunStart)
  void add_node_run();      // one compiled node's Compute
  // Where the accelerator's arithmetic runs (Backend::where()), for every run summary.
  void set_arithmetic(std::string where);
  std::string json() const;

 private:
  std::string id_;
  EpOptions options_;
  std::string arithmetic_ = "in-process";
  mutable std::mutex mu_;
  std::vector<NodeDecision> decisions_;
  size_t chains_ = 0;
  size_t compiled_ = 0;
  uint64_t runs_ = 0;
  uint64_t node_runs_ = 0;
  std::array<systolic::Counters, Unit::kKinds> counters_{};  // by Unit::Kind
};

constexpr size_t kMaxReports = 256;

// Adds a report to the registry (replacing one of the same non-empty id) and makes it the latest.
std::shared_ptr<Report> register_report(const std::string& id, const EpOptions& options);
// The JSON of the report `id` ("" or null: the latest EP's), empty when there is none.
std::string report_json(const char* id);
// Writes `text` to `path` through a temporary file in the same folder and a rename (readers never see a partial
// file). Returns false on failure.
bool write_file_atomically(const std::string& path, const std::string& text);

}  // namespace rcnn::ep
