// Per-registration state and the library-level list of registrations.
//
// One Registration per RegisterCustomOps call (i.e. per SessionOptions the library was registered with): the
// settings read at that moment, the op objects and domain handed to ORT, the kernels' thread pool and the counter
// totals per op type. ORT keeps raw pointers to the op objects and the domain in the SessionOptions and in every
// session created from them, and it gives the library no signal when the last of those is gone. So the state must
// outlive all of them: the Registry owns every Registration until the process ends (the library is linked with
// -z nodelete, so a dlclose never unmaps it under a live session). That list, guarded by a mutex, is the library's
// only global state. What a Registration keeps is small (the thread pool is not part of it: see acquire_pool).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ort_glue.h"
#include "settings.h"
#include "systolic/counters.h"
#include "systolic/thread_pool.h"

namespace rcnn::ort {

enum class OpKind { QConv, QMatMul, QAdd, Conv, MatMul };
constexpr size_t kOpKindCount = 5;
const char* op_kind_name(OpKind kind) noexcept;             // the op's name in domain rcnn.systolic
systolic::ElemType op_kind_elem(OpKind kind) noexcept;      // its element type: the config it runs on

class CustomOp;

class Registration {
 public:
  Registration(const OrtApi& api, const OrtSessionOptions* options, uint64_t id, Settings settings);
  ~Registration();
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

  const OrtApi& api() const noexcept { return api_; }
  const Settings& settings() const noexcept { return settings_; }
  uint64_t id() const noexcept { return id_; }
  // Only compared, never dereferenced: the SessionOptions may be long gone.
  const OrtSessionOptions* options() const noexcept { return options_; }

  // Creates the op objects and the rcnn.systolic domain and adds the domain to `options`.
  void install(OrtSessionOptions* options);

  // The kernels' pool (nullptr when settings().threads == 1). Kernels hold the returned pointer for their lifetime,
  // so the worker threads exist only while some session of this registration has kernels, instead of accumulating
  // for every registration a process ever made.
  std::shared_ptr<systolic::ThreadPool> acquire_pool();

  void record(OpKind kind, const systolic::Counters& counters);
  systolic::Counters totals(OpKind kind) const;

 private:
  const OrtApi& api_;
  const OrtSessionOptions* options_;
  uint64_t id_;
  Settings settings_;
  std::vector<std::unique_ptr<CustomOp>> ops_;
  OrtCustomOpDomain* domain_ = nullptr;
  std::array<systolic::CounterTotals, kOpKindCount> totals_;
  std::mutex pool_mu_;
  std::weak_ptr<systolic::ThreadPool> pool_;
};

class Registry {
 public:
  static Registry& instance();

  // Reads the settings from `options`, installs the ops, remembers the registration. Throws on bad settings.
  Registration& add(const OrtApi& api, OrtSessionOptions* options);
  // Stats JSON (stats_json.h) of the latest registration made with `options`; false when there is none.
  bool stats_for(const OrtSessionOptions* options, std::string& json) const;
  // {"registrations": [...]} over all registrations, oldest first.
  std::string stats_all() const;

 private:
  Registry() = default;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Registration>> registrations_;
};

}  // namespace rcnn::ort
