// Runs one function of a package's plan on the CPU kernels: binds the
// symbolic dims from the input shapes, calls each step's kernel in order and
// frees every intermediate after its last use.
#pragma once

#include "resa/kernels/Kernel.h"
#include "resa/runtime/Package.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace resa {

// What a cached program's steps need beyond their inputs: where the call's
// tokens start in their sequence, and the KV cache. Implemented by the
// generator (runtime/src/Generator.cpp) over the paged KV cache.
class ForwardContext {
public:
  virtual ~ForwardContext() = default;
  // Absolute position of the call's first token.
  virtual int64_t start() const = 0;
  // resa.cache_attention: writes k and v of the call's tokens into `layer`,
  // then attends q over the cache (see dialects/resa/ResaOps.td).
  virtual Tensor cacheAttention(int64_t layer, const Tensor &q, const Tensor &k, const Tensor &v,
                                const Attrs &attrs) = 0;
  // resa.cache_write, resa.block_select, resa.block_attention: the three
  // steps of block-sparse decode (ResaOps.td).
  virtual void cacheWrite(int64_t layer, const Tensor &k, const Tensor &v,
                          const Attrs &attrs) = 0;
  virtual Tensor blockSelect(int64_t layer, const Tensor &q, const Attrs &attrs) = 0;
  virtual Tensor blockAttention(int64_t layer, const Tensor &q, const Tensor &blocks,
                                const Attrs &attrs) = 0;
};

struct InputSpec {
  std::string name;
  DType dtype;
  std::vector<std::string> dims; // one per axis: a number or a symbolic expression
};

class ProgramPlan; // runtime/src/ProgramPlan.h

class Executor {
public:
  // Throws when the function is missing or uses a kernel this runtime lacks.
  Executor(const Package &package, const std::string &function = "main");
  ~Executor();

  const std::vector<InputSpec> &inputs() const;
  const std::vector<std::string> &outputNames() const;
  // Checks each input against its spec (dtype, rank, static dims, dims that
  // must agree), then runs. Throws resa::Error naming the input or the node.
  // `context` is required by cached programs (prefill/decode/rectify); a
  // stateless program runs without one (its positions start at 0).
  std::vector<Tensor> run(const std::vector<Tensor> &inputs,
                          ForwardContext *context = nullptr) const;

private:
  std::unique_ptr<ProgramPlan> plan_;
  // Constants and fp32 weights by value id, read at the first run: an
  // executor made for its inputs and outputs alone (resa-run on CUDA) reads
  // no weight (for random weights, makes none).
  mutable std::once_flag fixedOnce_;
  mutable std::vector<Tensor> fixed_;
};

} // namespace resa
