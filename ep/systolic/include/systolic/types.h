// Basic vocabulary of the accelerator model: execution modes, the error type, per-call execution options.
//
// Error policy (the whole library): invalid arguments, invalid configs and shapes the accelerator cannot hold throw
// rcnn::systolic::Error (a std::runtime_error; ConfigError adds a line number for config text). Allocation failure
// throws std::bad_alloc. Nothing calls exit()/abort(); the ORT binding catches and turns these into ORT statuses.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace rcnn::systolic {

class ThreadPool;

// How an operation runs.
//   CPU: untiled host execution with the accelerator's numerics (the golden model; fast packed kernels).
//   OS:  output-stationary tiled execution (reference `tiled_matmul_outer` + `sp_tiled_matmul_os`).
//   WS:  weight-stationary, double-buffered tiled execution (reference `gemmini_loop_ws` / `tiled_conv_auto`).
// All three give bit-identical int8 results; OS/WS additionally walk the hardware tile structure and count events.
enum class Mode { CPU, OS, WS };

// Reference runner flag `-x m` -> mode: get_accelerator_mode(m) = (m - 1) mod 3 over {OS, WS, CPU}, so
// 0 -> CPU, 1 -> OS, 2 -> WS and other integers wrap (3 -> CPU, -1 -> WS) like the reference.
Mode mode_from_runner_flag(long long x) noexcept;
// "cpu" | "os" | "ws" (lower case). Throws Error otherwise.
Mode mode_from_name(const std::string& name);
const char* mode_name(Mode m) noexcept;  // "cpu", "os", "ws"

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Which packed int8 micro-kernel does the arithmetic. Both are exact; they differ only in speed per target.
//   Swar: 3 x 21-bit lanes per 64-bit register (scalar rv64gc: ~1 instruction per MAC).
//   Wide: int32 accumulators over int8 panels, auto-vectorized by GCC on x86/ARM.
//   Avx2: int16 pair products (vpmaddwd) into int32, x86-64 CPUs with AVX2 only (Wide where unavailable).
//   Auto: Swar on targets without SIMD (RISC-V without V), Avx2 on x86-64 CPUs that have it, Wide elsewhere.
enum class KernelKind { Auto, Swar, Wide, Avx2 };

// Per-call options. The pool is owned by the caller (nullptr: run on the calling thread). Results never depend on
// the thread count or the kernel.
struct ExecOptions {
  ThreadPool* pool = nullptr;
  KernelKind kernel = KernelKind::Auto;
};

}  // namespace rcnn::systolic
