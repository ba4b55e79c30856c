// The kernel table: sorted, complete for the ops the importer relies on.
#include "resa/kernels/Kernel.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace resa;

TEST(Registry, NamesAreSortedAndUnique) {
  auto names = cpuKernelNames();
  ASSERT_FALSE(names.empty());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

TEST(Registry, EveryListedNameIsFound) {
  for (const auto &n : cpuKernelNames()) EXPECT_NE(findCpuKernel(n), nullptr) << n;
  EXPECT_EQ(findCpuKernel("NoSuchOp"), nullptr);
  EXPECT_EQ(findCpuKernel(""), nullptr);
}

TEST(Registry, RequiredOpsPresent) {
  const char *required[] = {
      "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log",
      "Tanh", "Erf", "Sigmoid", "Relu", "Softplus", "Cos", "Sin", "Floor", "Ceil", "Round", "Sign", "Not", "And",
      "Or", "Xor", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "IsNaN", "IsInf", "Where", "Clip",
      "Gelu", "MatMul", "Gemm", "Softmax", "LogSoftmax", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin",
      "ReduceProd", "ArgMax", "Cast", "CastLike", "Identity", "Shape", "Size", "Reshape", "Expand", "Concat",
      "Slice", "Split", "Squeeze", "Unsqueeze", "Transpose", "Flatten", "Gather", "GatherND", "GatherElements",
      "ScatterND", "ScatterElements", "Range", "ConstantOfShape", "Constant", "Tile", "Trilu", "CumSum", "Pad",
      "LayerNormalization", "RMSNormalization", "com.microsoft.SimplifiedLayerNormalization",
      "SimplifiedLayerNormalization", "com.microsoft.SkipSimplifiedLayerNormalization", "RotaryEmbedding",
      "com.microsoft.RotaryEmbedding", "Attention", "com.microsoft.GroupQueryAttention",
      "com.microsoft.MultiHeadAttention"};
  for (const char *n : required) EXPECT_NE(findCpuKernel(n), nullptr) << n;
}
