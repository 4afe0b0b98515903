// The statistics document of one registration (exported through RcnnSystolicStats, see ep/ort/README.md):
//   {"library": "rcnn_systolic_ops", "registration": 1,
//    "config": {"description": "...", "dim": 16, ..., "elem": "int8", "dma_bytes_per_cycle": 16},
//    "fallback_config": {.. the config ops of the other element type run on ..},
//    "execution": 2, "mode": "ws", "threads": 1,
//    "ops": {"QConv": {"elem": "int8", "calls": .., "macs": .., ..., "cycles": ..}, "QMatMul": {..}, "QAdd": {..},
//            "Conv": {"elem": "fp32", ..}, "MatMul": {..}},
//    "total": {..}}
// One line, keys in this order, every op type always present (zeros when unused).
#pragma once

#include <string>

#include "registration.h"

namespace rcnn::ort {

std::string stats_json(const Registration& reg);

}  // namespace rcnn::ort
