// The one table of CPU kernels, sorted by name (checked on first use and by
// a unit test). Kernels are listed explicitly: the library is static, so
// self-registering static initialisers would be dropped by the linker.
#include "Common.h"
#include "Ops.h"

#include <algorithm>

namespace resa {
namespace {

struct Entry {
  std::string_view name;
  KernelFn fn;
};

using namespace cpu::k;

constexpr Entry kTable[] = {
    {"Abs", k_Abs},
    {"Add", k_Add},
    {"And", k_And},
    {"ArgMax", k_ArgMax},
    {"ArgMin", k_ArgMin},
    {"Attention", k_Attention},
    {"Cast", k_Cast},
    {"CastLike", k_CastLike},
    {"Ceil", k_Ceil},
    {"Clip", k_Clip},
    {"Concat", k_Concat},
    {"Constant", k_Constant},
    {"ConstantOfShape", k_ConstantOfShape},
    {"Cos", k_Cos},
    {"CumSum", k_CumSum},
    {"Div", k_Div},
    {"Dropout", k_Dropout},
    {"Elu", k_Elu},
    {"Equal", k_Equal},
    {"Erf", k_Erf},
    {"Exp", k_Exp},
    {"Expand", k_Expand},
    {"Flatten", k_Flatten},
    {"Floor", k_Floor},
    {"Gather", k_Gather},
    {"GatherElements", k_GatherElements},
    {"GatherND", k_GatherND},
    {"Gelu", k_Gelu},
    {"Gemm", k_Gemm},
    {"Greater", k_Greater},
    {"GreaterOrEqual", k_GreaterOrEqual},
    {"HardSigmoid", k_HardSigmoid},
    {"HardSwish", k_HardSwish},
    {"Identity", k_Identity},
    {"IsInf", k_IsInf},
    {"IsNaN", k_IsNaN},
    {"LayerNormalization", k_LayerNormalization},
    {"LeakyRelu", k_LeakyRelu},
    {"Less", k_Less},
    {"LessOrEqual", k_LessOrEqual},
    {"Log", k_Log},
    {"LogSoftmax", k_LogSoftmax},
    {"MatMul", k_MatMul},
    {"Max", k_Max},
    {"Mean", k_Mean},
    {"Min", k_Min},
    {"Mish", k_Mish},
    {"Mod", k_Mod},
    {"Mul", k_Mul},
    {"Neg", k_Neg},
    {"NonZero", k_NonZero},
    {"Not", k_Not},
    {"Or", k_Or},
    {"Pad", k_Pad},
    {"Pow", k_Pow},
    {"RMSNormalization", k_RMSNormalization},
    {"Range", k_Range},
    {"Reciprocal", k_Reciprocal},
    {"ReduceL1", k_ReduceL1},
    {"ReduceL2", k_ReduceL2},
    {"ReduceLogSumExp", k_ReduceLogSumExp},
    {"ReduceMax", k_ReduceMax},
    {"ReduceMean", k_ReduceMean},
    {"ReduceMin", k_ReduceMin},
    {"ReduceProd", k_ReduceProd},
    {"ReduceSum", k_ReduceSum},
    {"ReduceSumSquare", k_ReduceSumSquare},
    {"Relu", k_Relu},
    {"Reshape", k_Reshape},
    {"RotaryEmbedding", k_RotaryEmbedding},
    {"Round", k_Round},
    {"ScatterElements", k_ScatterElements},
    {"ScatterND", k_ScatterND},
    {"Shape", k_Shape},
    {"Sigmoid", k_Sigmoid},
    {"Sign", k_Sign},
    {"SimplifiedLayerNormalization", k_SimplifiedLayerNormalization},
    {"Sin", k_Sin},
    {"Size", k_Size},
    {"Slice", k_Slice},
    {"Softmax", k_Softmax},
    {"Softplus", k_Softplus},
    {"Softsign", k_Softsign},
    {"Split", k_Split},
    {"Sqrt", k_Sqrt},
    {"Squeeze", k_Squeeze},
    {"Sub", k_Sub},
    {"Sum", k_Sum},
    {"Tan", k_Tan},
    {"Tanh", k_Tanh},
    {"Tile", k_Tile},
    {"Transpose", k_Transpose},
    {"Trilu", k_Trilu},
    {"Unsqueeze", k_Unsqueeze},
    {"Where", k_Where},
    {"Xor", k_Xor},
    {"com.microsoft.FastGelu", k_ms_FastGelu},
    {"com.microsoft.Gelu", k_ms_Gelu},
    {"com.microsoft.GroupQueryAttention", k_ms_GroupQueryAttention},
    {"com.microsoft.MultiHeadAttention", k_ms_MultiHeadAttention},
    {"com.microsoft.QuickGelu", k_ms_QuickGelu},
    {"com.microsoft.RotaryEmbedding", k_ms_RotaryEmbedding},
    {"com.microsoft.SimplifiedLayerNormalization", k_SimplifiedLayerNormalization},
    {"com.microsoft.SkipLayerNormalization", k_ms_SkipLayerNormalization},
    {"com.microsoft.SkipSimplifiedLayerNormalization", k_ms_SkipSimplifiedLayerNormalization},
    {"resa.add_rms_norm", k_resa_add_rms_norm},
    {"resa.attention", k_resa_attention},
    {"resa.embedding", k_resa_embedding},
    {"resa.gated_mlp", k_resa_gated_mlp},
    {"resa.layer_norm", k_resa_layer_norm},
    {"resa.linear", k_resa_linear},
    {"resa.logits", k_resa_logits},
    {"resa.multi_linear", k_resa_multi_linear},
    {"resa.multi_rotary", k_resa_multi_rotary},
    {"resa.projection_add_rms_norm", k_resa_projection_add_rms_norm},
    {"resa.rms_norm", k_resa_rms_norm},
    {"resa.rotary", k_resa_rotary},
};

const Entry *tableBegin() {
  static const bool sorted = std::is_sorted(std::begin(kTable), std::end(kTable),
                                            [](const Entry &a, const Entry &b) { return a.name < b.name; });
  if (!sorted) throw Error("internal error: the CPU kernel table is not sorted");
  return std::begin(kTable);
}

} // namespace

KernelFn findCpuKernel(std::string_view name) {
  const Entry *b = tableBegin(), *e = std::end(kTable);
  const Entry *it = std::lower_bound(b, e, name, [](const Entry &a, std::string_view n) { return a.name < n; });
  return it != e && it->name == name ? it->fn : nullptr;
}

std::vector<std::string> cpuKernelNames() {
  std::vector<std::string> names;
  for (const Entry *it = tableBegin(); it != std::end(kTable); ++it) names.emplace_back(it->name);
  return names;
}

} // namespace resa
