// An ONNX model as loaded from disk (binary .onnx or textual .onnxtext),
// kept alive during compilation so that the package writer can stream the
// initializers' bytes (embedded or external data) without copying them into
// the IR.
#pragma once

#include "resa/kernels/Tensor.h"

#include <onnx/onnx_pb.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace resa {

// Where the initializers' bytes come from (resa-compile --weights): the model
// (its embedded data and external data files), or seeded random values for
// every initializer stored as external data, whose files are then never
// opened (resa/kernels/RandomWeights.h): a model of a real shape compiles
// without its weights (tools/build_shape_model.py). The package's weights are
// then all random (PackageWriter.h); only the small initializers the importer
// folds into the plan keep their embedded data.
struct WeightSource {
  bool random = false;
  uint64_t seed = 0;
};

// Parses --weights: "read", "random" (seed 0) or "random:SEED" (a decimal
// uint64); throws resa::Error naming the value otherwise.
WeightSource parseWeightSource(const std::string &option);

class OnnxModel {
public:
  // Throws resa::Error naming the file for a missing, empty, truncated or
  // non-ONNX file, and (unless the weights are random) for external data that
  // is missing, too short, or outside the model's folder (an absolute
  // location, or one with "..").
  static std::unique_ptr<OnnxModel> load(const std::string &path, WeightSource weights = {});
  // The same from the file's bytes, already in memory. `path` names the model
  // in errors, picks the format (".onnxtext": textual, else binary) and
  // locates external data (relative to its folder).
  static std::unique_ptr<OnnxModel> fromBytes(const std::string &bytes, const std::string &path,
                                              WeightSource weights = {});

  const std::string &path() const { return path_; }
  const WeightSource &weightSource() const { return weights_; }
  const ::onnx::ModelProto &proto() const { return proto_; }
  int64_t opset(const std::string &domain) const; // 0 if not imported

  // The initializer of that name (null if none).
  const ::onnx::TensorProto *initializer(const std::string &name) const;
  // Writes the initializer's bytes (little-endian, row-major) to `out`,
  // reading external data in chunks (or, with random weights, making it: a
  // float tensor only). Throws naming the tensor on failure.
  void writeInitializer(const std::string &name, std::FILE *out) const;
  // The same for any tensor of the model (a Constant node's value).
  void writeTensor(const ::onnx::TensorProto &t, std::FILE *out) const;
  std::vector<char> tensorBytes(const ::onnx::TensorProto &t) const;

private:
  std::string path_, dir_;
  WeightSource weights_;
  ::onnx::ModelProto proto_;
  std::map<std::string, const ::onnx::TensorProto *> initializers_;
  void checkExternalData(const ::onnx::TensorProto &t) const;
};

// dtype and element count of an ONNX tensor; throws on unsupported dtypes.
DType tensorDType(const ::onnx::TensorProto &t);
// Element count of an ONNX tensor; throws naming it on a negative dim or a
// count that overflows int64.
int64_t tensorNumel(const ::onnx::TensorProto &t);

} // namespace resa
