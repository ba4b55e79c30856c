// Declarations of every CPU kernel function, grouped by the file that defines
// it. Registry.cpp maps names to these; nothing else should call them.
#pragma once

#include "resa/kernels/Kernel.h"

#define RESA_KERNEL(name) void k_##name(const ::resa::KernelArgs &args, std::vector<::resa::Tensor> &outputs)

namespace resa::cpu::k {

// Elementwise.cpp: broadcasting binary arithmetic, comparison, logic, Where.
RESA_KERNEL(Add); RESA_KERNEL(Sub); RESA_KERNEL(Mul); RESA_KERNEL(Div); RESA_KERNEL(Pow);
RESA_KERNEL(Mod); RESA_KERNEL(Max); RESA_KERNEL(Min); RESA_KERNEL(Sum); RESA_KERNEL(Mean);
RESA_KERNEL(Equal); RESA_KERNEL(Less); RESA_KERNEL(LessOrEqual); RESA_KERNEL(Greater);
RESA_KERNEL(GreaterOrEqual); RESA_KERNEL(And); RESA_KERNEL(Or); RESA_KERNEL(Xor);
RESA_KERNEL(Where);

// Unary.cpp: elementwise unary math and activations.
RESA_KERNEL(Neg); RESA_KERNEL(Abs); RESA_KERNEL(Sign); RESA_KERNEL(Relu); RESA_KERNEL(Sqrt);
RESA_KERNEL(Reciprocal); RESA_KERNEL(Exp); RESA_KERNEL(Log); RESA_KERNEL(Tanh); RESA_KERNEL(Erf);
RESA_KERNEL(Sigmoid); RESA_KERNEL(Softplus); RESA_KERNEL(Softsign); RESA_KERNEL(Cos); RESA_KERNEL(Sin);
RESA_KERNEL(Tan); RESA_KERNEL(Floor); RESA_KERNEL(Ceil); RESA_KERNEL(Round); RESA_KERNEL(Not);
RESA_KERNEL(IsNaN); RESA_KERNEL(IsInf); RESA_KERNEL(Clip); RESA_KERNEL(Gelu); RESA_KERNEL(LeakyRelu);
RESA_KERNEL(Elu); RESA_KERNEL(HardSigmoid); RESA_KERNEL(HardSwish); RESA_KERNEL(Mish);
RESA_KERNEL(ms_Gelu); RESA_KERNEL(ms_FastGelu); RESA_KERNEL(ms_QuickGelu);

// Reduce.cpp: reductions, ArgMax/ArgMin, CumSum.
RESA_KERNEL(ReduceMean); RESA_KERNEL(ReduceSum); RESA_KERNEL(ReduceMax); RESA_KERNEL(ReduceMin);
RESA_KERNEL(ReduceProd); RESA_KERNEL(ReduceSumSquare); RESA_KERNEL(ReduceL1); RESA_KERNEL(ReduceL2);
RESA_KERNEL(ReduceLogSumExp); RESA_KERNEL(ArgMax); RESA_KERNEL(ArgMin); RESA_KERNEL(CumSum);

// MatMul.cpp
RESA_KERNEL(MatMul); RESA_KERNEL(Gemm);

// Shape.cpp: shape-only and constant-producing ops.
RESA_KERNEL(Shape); RESA_KERNEL(Size); RESA_KERNEL(Reshape); RESA_KERNEL(Squeeze);
RESA_KERNEL(Unsqueeze); RESA_KERNEL(Flatten); RESA_KERNEL(Identity); RESA_KERNEL(Dropout);
RESA_KERNEL(Constant); RESA_KERNEL(ConstantOfShape); RESA_KERNEL(Range);

// Movement.cpp: ops that move data without indices from tensors.
RESA_KERNEL(Expand); RESA_KERNEL(Concat); RESA_KERNEL(Slice); RESA_KERNEL(Split);
RESA_KERNEL(Transpose); RESA_KERNEL(Tile); RESA_KERNEL(Trilu); RESA_KERNEL(Pad);

// Index.cpp: gathers and scatters driven by index tensors.
RESA_KERNEL(Gather); RESA_KERNEL(GatherND); RESA_KERNEL(GatherElements); RESA_KERNEL(ScatterND);
RESA_KERNEL(ScatterElements); RESA_KERNEL(NonZero);

// Cast.cpp
RESA_KERNEL(Cast); RESA_KERNEL(CastLike);

// Norm.cpp: normalisations and softmax.
RESA_KERNEL(LayerNormalization); RESA_KERNEL(RMSNormalization); RESA_KERNEL(SimplifiedLayerNormalization);
RESA_KERNEL(ms_SkipSimplifiedLayerNormalization); RESA_KERNEL(ms_SkipLayerNormalization);
RESA_KERNEL(Softmax); RESA_KERNEL(LogSoftmax);

// Rotary.cpp
RESA_KERNEL(RotaryEmbedding); RESA_KERNEL(ms_RotaryEmbedding);

// Attention.cpp
RESA_KERNEL(Attention); RESA_KERNEL(ms_GroupQueryAttention); RESA_KERNEL(ms_MultiHeadAttention);

// CausalAttention.cpp: resa's own raised attention.
RESA_KERNEL(resa_attention);

// Layers.cpp: resa's raised layer ops.
RESA_KERNEL(resa_embedding); RESA_KERNEL(resa_rms_norm); RESA_KERNEL(resa_add_rms_norm);
RESA_KERNEL(resa_layer_norm);
RESA_KERNEL(resa_linear); RESA_KERNEL(resa_multi_linear); RESA_KERNEL(resa_multi_rotary); RESA_KERNEL(resa_logits);
RESA_KERNEL(resa_rotary); RESA_KERNEL(resa_gated_mlp); RESA_KERNEL(resa_projection_add_rms_norm);

} // namespace resa::cpu::k
