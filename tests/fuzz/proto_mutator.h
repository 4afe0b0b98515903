// Mutations that keep the protobuf framing of a message intact: a field anywhere in the tree of embedded messages
// is changed, dropped, duplicated, renumbered or taken from another input, and every enclosing length is rewritten.
// Byte mutations of a model almost always break its outermost length and stop the parser at the first field; these
// reach the TensorProtos, attributes and subgraphs deep inside.
#pragma once

#include "mutator.h"
#include "prng.h"

namespace fuzz {

// Returns false, leaving `message` unchanged, when its bytes do not parse as a protobuf message (nothing to keep).
bool mutate_protobuf(Bytes& message, Rng& rng, const Mutator& bytes, const Bytes& partner);

}  // namespace fuzz
