// Small matching helpers shared by the raising passes (RaiseAttention.cpp,
// RaiseNorms.cpp, RaiseRotary.cpp, RaiseLinear.cpp).
#pragma once

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cmath>
#include <optional>
#include <vector>

namespace resa::raise {

// Calls `raise` on every op of `func` (a snapshot taken first, so that a
// raise may replace ops), then erases what no longer has users.
inline void raiseEach(mlir::func::FuncOp func, llvm::function_ref<void(mlir::Operation *)> raise) {
  llvm::SmallVector<mlir::Operation *> ops;
  func.walk([&](mlir::Operation *op) { ops.push_back(op); });
  for (mlir::Operation *op : ops)
    raise(op);
  mlir::IRRewriter rewriter(func.getContext());
  (void)mlir::runRegionDCE(rewriter, func.getBody());
}

template <typename OpT> OpT producer(mlir::Value v) { return v ? v.getDefiningOp<OpT>() : OpT(); }

// The value of a one-element constant (float or integer).
inline std::optional<double> scalarConstant(mlir::Value v) {
  auto c = producer<onnx::ConstantOp>(v);
  if (!c)
    return std::nullopt;
  auto dense = c->getAttrOfType<mlir::DenseElementsAttr>("value");
  if (!dense || dense.getNumElements() != 1)
    return std::nullopt;
  mlir::Type elt = dense.getElementType();
  if (mlir::isa<mlir::FloatType>(elt))
    return (*dense.getValues<llvm::APFloat>().begin()).convertToDouble();
  if (elt.isInteger() && !elt.isInteger(1))
    return double((*dense.getValues<llvm::APInt>().begin()).getSExtValue());
  return std::nullopt;
}

// The elements of an int64 constant.
inline std::optional<std::vector<int64_t>> intsConstant(mlir::Value v) {
  auto c = producer<onnx::ConstantOp>(v);
  if (!c)
    return std::nullopt;
  auto dense = c->getAttrOfType<mlir::DenseElementsAttr>("value");
  if (!dense || !dense.getElementType().isInteger(64))
    return std::nullopt;
  std::vector<int64_t> out;
  for (const llvm::APInt &x : dense.getValues<llvm::APInt>())
    out.push_back(x.getSExtValue());
  return out;
}

inline int64_t intAttr(mlir::Operation *op, llvm::StringRef name, int64_t dflt) {
  auto a = op->getAttrOfType<mlir::IntegerAttr>(name);
  return a ? a.getInt() : dflt;
}

inline double floatAttr(mlir::Operation *op, llvm::StringRef name, double dflt) {
  auto a = op->getAttrOfType<mlir::FloatAttr>(name);
  return a ? a.getValueAsDouble() : dflt;
}

inline mlir::RankedTensorType rankedF32(mlir::Value v) {
  auto t = mlir::dyn_cast<mlir::RankedTensorType>(v.getType());
  return t && t.getElementType().isF32() ? t : mlir::RankedTensorType();
}

// The static last dim of an f32 tensor, or -1.
inline int64_t staticLastDim(mlir::Value v) {
  auto t = rankedF32(v);
  if (!t || t.getRank() < 1 || t.isDynamicDim(t.getRank() - 1))
    return -1;
  return t.getDimSize(t.getRank() - 1);
}

// An f32 initializer or constant of the given rank with static dims: what a
// layer's parameters are in an exported graph.
inline bool isParameter(mlir::Value v, int64_t rank) {
  auto t = rankedF32(v);
  if (!t || t.getRank() != rank || !t.hasStaticShape())
    return false;
  return producer<onnx::InitializerOp>(v) || producer<onnx::ConstantOp>(v);
}

// A [size] parameter (size >= 1).
inline bool isVectorParameter(mlir::Value v, int64_t size) {
  return size > 0 && isParameter(v, 1) && rankedF32(v).getDimSize(0) == size;
}

// `axis` (possibly negative) names the last axis of a rank-`rank` tensor.
inline bool isLastAxis(int64_t axis, int64_t rank) { return axis == -1 || axis == rank - 1; }

// Relative closeness of float constants.
inline bool near(double a, double b, double rel = 1e-6) {
  return std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b));
}

} // namespace resa::raise
