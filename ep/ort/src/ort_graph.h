// OrtGraph (the read-only graph API of ORT >= 1.23) -> GraphModel (graph_model.h).
#pragma once

#include <string>
#include <vector>

#include "graph_model.h"
#include "ort_api.h"

namespace rcnn::ep {

// Copies nodes, attributes, tensor types/shapes and constant initializers' bytes; `handles` receives the OrtNode
// of each node (same index). Throws on API errors.
GraphModel read_graph(const OrtGraph* graph, std::vector<const OrtNode*>* handles);

// The names of a node's inputs or outputs ("" for missing optional ones).
std::vector<std::string> value_names(const OrtNode* node, bool outputs);

}  // namespace rcnn::ep
