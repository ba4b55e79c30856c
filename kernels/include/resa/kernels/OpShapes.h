// The shape side of the ops whose semantics are mostly shapes: axis
// normalisation, broadcasting, and the output shapes and index maps of
// Reshape, Squeeze, Unsqueeze, Flatten, Expand, Transpose, Slice, Split,
// Concat, Gather, MatMul and the reductions. The CPU kernels (kernels/cpu)
// and the CUDA kernels of the same names both compute their shapes here, so
// the two backends cannot disagree on an opset rule.
//
// The functions that read steering values (axes, starts, the target shape)
// take a KernelArgs whose inputs are host tensors: the CPU kernel passes its
// own arguments, the CUDA kernel a view of DeviceKernelArgs::host. They never
// read input 0; its shape is passed separately. Errors are resa::Error
// "<op>: <message>".
#pragma once

#include "resa/kernels/Kernel.h"

#include <cstdint>
#include <vector>

namespace resa {

// Maps a possibly negative axis into [0, rank); throws when out of range.
int64_t normAxis(const char *op, int64_t axis, int64_t rank);
// normAxis of each; throws when an axis repeats.
std::vector<int64_t> normAxes(const char *op, const std::vector<int64_t> &axes, int64_t rank);

// Row-major strides of a shape.
std::vector<int64_t> stridesOf(const Shape &s);

// Numpy multidirectional broadcast of two shapes; throws naming `op`.
Shape broadcastShapes(const char *op, const Shape &a, const Shape &b);

// Strides of `in` viewed as `out` (right-aligned; 0 where `in` broadcasts).
// `in` must be broadcastable to `out`.
std::vector<int64_t> broadcastStrides(const Shape &in, const Shape &out);

// View ops: the output shape (the data is the input's, reshaped).
Shape reshapeShape(const Shape &in, const KernelArgs &args);   // shape: input 1 since opset 5
Shape squeezeShape(const Shape &in, const KernelArgs &args);   // axes: input 1 since opset 13
Shape unsqueezeShape(const Shape &in, const KernelArgs &args); // axes: input 1 since opset 13
Shape flattenShape(const Shape &in, const KernelArgs &args);

// A copy of the input read through strides: output element o (row-major
// over `shape`, index idx) is input element base + sum_d idx_d * strides[d].
struct StridedView {
  Shape shape;
  std::vector<int64_t> strides;
  int64_t base = 0;
};
StridedView expandView(const Shape &in, const KernelArgs &args);    // shape: input 1
StridedView transposeView(const Shape &in, const KernelArgs &args); // perm attribute
StridedView sliceView(const Shape &in, const KernelArgs &args);     // inputs 1-4 since opset 10
// One view per output; sizes from input 1 since opset 13, the "split"
// attribute before, else num_outputs equal chunks (the last one smaller).
std::vector<StridedView> splitViews(const Shape &in, const KernelArgs &args);

// Concat of `shapes` along the "axis" attribute (normalised into `axis`).
struct ConcatPlan {
  Shape shape;
  int64_t axis = 0;
};
ConcatPlan concatPlan(const std::vector<Shape> &shapes, const KernelArgs &args);

// Gather of `data` by `indices` along the "axis" attribute.
struct GatherPlan {
  Shape shape;
  int64_t axis = 0;
  int64_t outer = 1, inner = 1; // elements before / after the axis
};
GatherPlan gatherPlan(const Shape &data, const Shape &indices, const KernelArgs &args);

// MatMul with numpy semantics: 1-D operands promoted and their axes dropped,
// batch axes broadcast.
struct MatMulPlan {
  Shape batchA, batchB, batch; // the operands' batch axes and their broadcast
  Shape shape;                 // the output
  int64_t M = 0, N = 0, K = 0;
};
MatMulPlan matMulPlan(const Shape &a, const Shape &b);

// Reductions: axes from input 1 since opset `axesInputSince` (13 for
// ReduceSum, 18 for the others), the "axes" attribute before; keepdims and
// noop_with_empty_axes.
struct ReducePlan {
  bool identity = false; // no axes and noop_with_empty_axes: the output is the input
  Shape kept;            // the input shape with the reduced axes set to 1
  Shape shape;           // the output: kept, the reduced axes dropped unless keepdims
  int64_t count = 1;     // input elements folded into each output element
};
ReducePlan reducePlan(const char *op, const Shape &in, int64_t axesInputSince, const KernelArgs &args);

// resa.multi_linear's fused form: x, one weight of `columns` columns split by
// >= 2 positive widths adding up to `columns`, and a bias (or none) per width.
void checkFusedWidths(const char *op, const std::vector<int64_t> &widths, size_t inputs, int64_t columns);

} // namespace resa
