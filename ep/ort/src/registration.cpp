#include "registration.h"

#include "custom_op.h"
#include "stats_json.h"

namespace rcnn::ort {

const char* op_kind_name(OpKind kind) noexcept {
  switch (kind) {
    case OpKind::QConv: return "QConv";
    case OpKind::QMatMul: return "QMatMul";
    case OpKind::QAdd: return "QAdd";
    case OpKind::Conv: return "Conv";
    case OpKind::MatMul: return "MatMul";
  }
  return "?";
}

systolic::ElemType op_kind_elem(OpKind kind) noexcept {
  return kind == OpKind::Conv || kind == OpKind::MatMul ? systolic::ElemType::Fp32 : systolic::ElemType::Int8;
}

// ---------------------------------------------------------------------------------------------- Registration

Registration::Registration(const OrtApi& api, const OrtSessionOptions* options, uint64_t id, Settings settings)
    : api_(api), options_(options), id_(id), settings_(std::move(settings)) {}

// Only reached when install() failed (registrations that reached ORT are never destroyed, see the header): the
// domain was then not added to any SessionOptions and can be released.
Registration::~Registration() {
  if (domain_ != nullptr) api_.ReleaseCustomOpDomain(domain_);
}

void Registration::install(OrtSessionOptions* options) {
  for (const OpDef* def : {&qconv_op(), &qmatmul_op(), &qadd_op(), &conv_f32_op(), &matmul_f32_op()}) {
    ops_.push_back(std::make_unique<CustomOp>(*def, *this));
  }
  check(api_, api_.CreateCustomOpDomain("rcnn.systolic", &domain_));
  for (const auto& op : ops_) check(api_, api_.CustomOpDomain_Add(domain_, op.get()));
  check(api_, api_.AddCustomOpDomain(options, domain_));
}

std::shared_ptr<systolic::ThreadPool> Registration::acquire_pool() {
  if (settings_.threads <= 1) return nullptr;
  std::lock_guard<std::mutex> lock(pool_mu_);
  std::shared_ptr<systolic::ThreadPool> pool = pool_.lock();
  if (!pool) {
    pool = std::make_shared<systolic::ThreadPool>(static_cast<unsigned>(settings_.threads));
    pool_ = pool;
  }
  return pool;
}

void Registration::record(OpKind kind, const systolic::Counters& counters) {
  totals_[static_cast<size_t>(kind)].add(counters);
}

systolic::Counters Registration::totals(OpKind kind) const {
  return totals_[static_cast<size_t>(kind)].snapshot();
}

// ---------------------------------------------------------------------------------------------- Registry

Registry& Registry::instance() {
  // Deliberately never destroyed: sessions may outlive static destruction at exit (e.g. in Python), and they hold
  // pointers into the registrations. The pointer stays reachable, so leak checkers stay quiet.
  static Registry* const registry = new Registry();
  return *registry;
}

namespace {

std::optional<std::string> config_entry(const OrtApi& api, const OrtSessionOptions* options, const char* key) {
  int has = 0;
  check(api, api.HasSessionConfigEntry(options, key, &has));
  if (!has) return std::nullopt;
  size_t size = 0;
  // With a null buffer ORT only reports the size (terminating NUL included).
  check(api, api.GetSessionConfigEntry(options, key, nullptr, &size));
  std::string value(size, '\0');
  if (size > 0) check(api, api.GetSessionConfigEntry(options, key, value.data(), &size));
  while (!value.empty() && value.back() == '\0') value.pop_back();
  return value;
}

}  // namespace

Registration& Registry::add(const OrtApi& api, OrtSessionOptions* options) {
  Settings settings = read_settings([&](const char* key) { return config_entry(api, options, key); });
  std::lock_guard<std::mutex> lock(mu_);
  auto reg = std::make_unique<Registration>(api, options, registrations_.size() + 1, std::move(settings));
  reg->install(options);
  registrations_.push_back(std::move(reg));
  return *registrations_.back();
}

bool Registry::stats_for(const OrtSessionOptions* options, std::string& json) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = registrations_.rbegin(); it != registrations_.rend(); ++it) {
    if ((*it)->options() == options) {
      json = stats_json(**it);
      return true;
    }
  }
  return false;
}

std::string Registry::stats_all() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string json = "{\"registrations\": [";
  for (size_t i = 0; i < registrations_.size(); ++i) json += (i ? ", " : "") + stats_json(*registrations_[i]);
  return json + "]}";
}

}  // namespace rcnn::ort
