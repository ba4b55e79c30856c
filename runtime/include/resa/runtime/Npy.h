// Reading and writing NumPy .npy files (version 1.0/2.0, little-endian,
// C order): the CLI's --input-ids and --dump-logits formats.
#pragma once

#include "resa/kernels/Tensor.h"

#include <string>

namespace resa {

// Throws resa::Error naming the file on any problem.
Tensor readNpy(const std::string &path);
void writeNpy(const std::string &path, const Tensor &t);

} // namespace resa
