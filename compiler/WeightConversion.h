// resa-compile --dtype: float32 weights are converted to bf16 or f16 while
// they stream from the ONNX model into the package, so a large model is never
// held in memory twice.
#pragma once

#include "resa/kernels/Tensor.h"

#include <cstdio>
#include <string>

namespace resa {

// Parses "f32", "bf16" or "f16"; throws resa::Error naming the value otherwise.
DType parseWeightDType(const std::string &name);

// A FILE* that takes float32 bytes and writes them to `out` as `to` (BF16 or
// F16, round to nearest even). Closing it (std::fclose) throws nothing; it
// returns EOF when the bytes written were not a whole number of floats or
// `out` failed.
std::FILE *openConvertingSink(std::FILE *out, DType to);

} // namespace resa
