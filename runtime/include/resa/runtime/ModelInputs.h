// The inputs a decoder graph takes beside its token ids, made the way an
// exporter's caller would: attention_mask of ones, position_ids counting from
// 0, empty past_key_values. Used by resa-run and the tests.
#pragma once

#include "resa/runtime/Executor.h"

namespace resa {

// `ids` is int64 [batch, seq]. Throws naming any input it cannot derive.
std::vector<Tensor> makeModelInputs(const Executor &exec, const Tensor &ids);

} // namespace resa
