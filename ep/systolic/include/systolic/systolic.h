// Umbrella header of the accelerator model library (rcnn::systolic, C++17, no dependencies beyond the standard
// library). See the individual headers for the semantics.
#pragma once

#include "systolic/config.h"
#include "systolic/conv.h"
#include "systolic/counters.h"
#include "systolic/matmul.h"
#include "systolic/numerics.h"
#include "systolic/quantize.h"
#include "systolic/resadd.h"
#include "systolic/thread_pool.h"
#include "systolic/tiling.h"
#include "systolic/types.h"
