// resa-compile --dtype: float weights are converted (float32 to bf16 or f16,
// or a weight the model stores in f16/bf16 to another of the three) while
// they stream from the ONNX model into the package, so a large model is never
// held in memory twice.
#pragma once

#include "resa/kernels/Tensor.h"

#include <cstdio>
#include <string>

namespace resa {

// Parses "f32", "bf16" or "f16"; throws resa::Error naming the value otherwise.
DType parseWeightDType(const std::string &name);

// A FILE* that takes bytes of `from` values (F32, BF16 or F16) and writes
// them to `out` as `to` (one of the three; narrowing rounds to nearest even).
// Closing it (std::fclose) throws nothing; it returns EOF when the bytes
// written were not a whole number of values or `out` failed.
std::FILE *openConvertingSink(std::FILE *out, DType from, DType to);

} // namespace resa
