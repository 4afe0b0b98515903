/* The C ABI of librcnn_systolic_ops.so beyond ONNX Runtime's RegisterCustomOps (see ep/ort/README.md).
 *
 * A runner that registered the library (SessionOptions::RegisterCustomOpsLibrary, or Python's
 * SessionOptions.register_custom_ops_library) finds these with dlopen(path, RTLD_NOW | RTLD_NOLOAD) + dlsym on the
 * same path: that returns the handle ONNX Runtime already loaded, so the counters are the ones its kernels filled.
 *
 * Both functions write a JSON document (one line, UTF-8) into buf, truncated to len - 1 bytes and always
 * NUL-terminated when len > 0 (buf may be NULL when len is 0), and return the document's full length without the
 * NUL: call once with len 0 to size the buffer. Counters keep growing while sessions run, so a second call may
 * need more room than the first said. They return -1 when there is nothing to report (RcnnSystolicStats: these
 * options never registered the library) and -2 on an internal error (out of memory). Thread-safe.
 */
#ifndef RCNN_SYSTOLIC_OPS_H
#define RCNN_SYSTOLIC_OPS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct OrtSessionOptions;

/* The statistics of the latest registration made with `options` (the pointer is only compared, never used):
 * {"library": "rcnn_systolic_ops", "registration": N, "config": {...}, "fallback_config": {...},
 *  "execution": 0|1|2|null, "mode": "cpu"|"os"|"ws", "threads": N,
 *  "ops": {"QConv": {"elem": "int8", counters}, "QMatMul": {..}, "QAdd": {..}, "Conv": {"elem": "fp32", ..},
 *          "MatMul": {..}},
 *  "total": {counters}}
 * counters = "calls": N, "macs": N, ..., "cycles": N, one non-negative integer per entry of
 * ep/systolic/include/systolic/counter_fields.def, in that order (the list is kept there only): totals over every
 * Compute call of every session made from those options. ep/ort/README.md has the details. */
int RcnnSystolicStats(const struct OrtSessionOptions* options, char* buf, size_t len);
typedef int (*RcnnSystolicStatsFn)(const struct OrtSessionOptions* options, char* buf, size_t len);

/* {"registrations": [<the document above>, ...]} over every registration of this process, oldest first (for
 * callers that cannot name their OrtSessionOptions, e.g. Python through ctypes). */
int RcnnSystolicStatsAll(char* buf, size_t len);
typedef int (*RcnnSystolicStatsAllFn)(char* buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* RCNN_SYSTOLIC_OPS_H */
