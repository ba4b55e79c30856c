// The CUDA backend: one stream, one caching allocator, cuBLASLt, the
// attention plans, the package's weights on the device, and the executors of
// the cached functions.
#include "../Backend.h"
#include "CudaExecutor.h"
#include "CudaKVStorage.h"

#include "resa/cuda/Gemm.h"
#include "resa/cuda/Sampling.h"

#include "plan.pb.h"

#include <cstdlib>
#include <string>

namespace resa {
namespace {

using namespace resa::cuda;

// The storage type of weights and KV: bf16 unless the package stores its
// float weights in f16 (resa-compile --dtype f16).
DType storageTypeOf(const Package &package) {
  for (const plan::Value &v : package.plan().values())
    if (v.source_case() == plan::Value::kWeight &&
        package.weightEntry(v.weight()).dtype == DType::F16)
      return DType::F16;
  return DType::BF16;
}

class CudaBackend final : public ProgramBackend {
public:
  explicit CudaBackend(const Package &package)
      : storageType_(storageTypeOf(package)),
        kvType_(storageType_ == DType::F16 ? gpu::KVDType::F16 : gpu::KVDType::BF16),
        stream_(makeStream()), alloc_(), attention_(alloc_, stream_),
        weights_(ctx_, storageType_, DType::F32) {
    ctx_.stream = stream_;
    ctx_.alloc = &alloc_;
    gpu::checkCuda(cudaGetDevice(&ctx_.device), "cudaGetDevice");
    blas_.attach(ctx_);
    // Prefill runs eagerly (its lengths vary call to call); decode and
    // rectification as CUDA graphs unless RESA_CUDA_GRAPHS=0.
    const char *env = std::getenv("RESA_CUDA_GRAPHS");
    const bool graphs = !env || std::string(env) != "0";
    for (const char *name : {"prefill", "decode", "rectify"})
      executors_.emplace(name, std::make_unique<CudaExecutor>(
                                   package, name, ctx_, weights_, DType::F32,
                                   graphs && std::string(name) != "prefill"));
    gpu::checkCuda(cudaStreamSynchronize(stream_), "uploading the weights");
  }
  ~CudaBackend() override {
    executors_.clear();
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }

  std::unique_ptr<KVStorage> makeStorage(const KVCacheConfig &config) override {
    return std::make_unique<CudaKVStorage>(config, kvType_, stream_);
  }

  std::vector<Tensor> run(const std::string &function, const std::vector<Tensor> &inputs,
                          KVCache &cache, int64_t start) override {
    return executors_.at(function)->run(inputs,
                                        {cache, attention_, kvType_, storageType_, start});
  }

  // The logits (output 0) stay on the device: the sampling kernel picks each
  // row's token there and only tokens and log-probabilities come back.
  TokenChoice runAndChoose(const std::string &function, const std::vector<Tensor> &inputs,
                           KVCache &cache, int64_t start, const TokenRequest &request) override {
    TokenChoice c;
    const int64_t rows = static_cast<int64_t>(request.draws.size());
    auto choose = [&](size_t i, const DeviceTensor &logits) -> Tensor {
      if (i != 0)
        return gpu::download(logits, ctx_);
      checkChoiceLogits(logits.dtype(), logits.shape(), rows);
      const int64_t len = logits.dim(1), vocab = logits.dim(2);
      DeviceTensor tokens = alloc_.allocate(DType::I64, {rows});
      DeviceTensor logProbs = alloc_.allocate(DType::F32, {rows});
      gpu::SampleArgs a;
      a.logits = logits.data<float>() + (len - 1) * vocab;
      a.rows = rows;
      a.vocab = vocab;
      a.rowStride = len * vocab;
      a.temperature = request.temperature;
      a.topP = request.topP;
      std::shared_ptr<void> draws;
      if (request.temperature != 0.0f && rows > 0) {
        draws = alloc_.allocateBytes(static_cast<size_t>(rows) * sizeof(double));
        gpu::checkCuda(cudaMemcpyAsync(draws.get(), request.draws.data(),
                                       static_cast<size_t>(rows) * sizeof(double),
                                       cudaMemcpyHostToDevice, stream_),
                       "uploading the sampling draws");
        a.uniforms = static_cast<const double *>(draws.get());
      }
      a.tokens = tokens.data<int64_t>();
      a.logProbs = logProbs.data<float>();
      gpu::sampleTokens(a, stream_);
      const Tensor t = gpu::download(tokens, ctx_), lp = gpu::download(logProbs, ctx_);
      c.tokens.assign(t.data<int64_t>(), t.data<int64_t>() + rows);
      c.logProbs.assign(lp.data<float>(), lp.data<float>() + rows);
      c.vocab = vocab;
      return Tensor();
    };
    executors_.at(function)->run(inputs, {cache, attention_, kvType_, storageType_, start}, choose);
    return c;
  }

  int64_t graphReplays() const override {
    int64_t n = 0;
    for (const auto &[name, e] : executors_)
      n += static_cast<int64_t>(e->graphReplays());
    return n;
  }

private:
  static cudaStream_t makeStream() {
    cudaStream_t s = nullptr;
    gpu::checkCuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    return s;
  }

  DType storageType_;
  gpu::KVDType kvType_;
  cudaStream_t stream_;
  gpu::DeviceAllocator alloc_;
  gpu::BlasLtHandle blas_;
  gpu::DeviceContext ctx_;
  gpu::PagedAttentionState attention_;
  DeviceWeights weights_;
  std::map<std::string, std::unique_ptr<CudaExecutor>> executors_;
};

} // namespace

std::unique_ptr<ProgramBackend> makeCudaBackend(const Package &package) {
  return std::make_unique<CudaBackend>(package);
}

} // namespace resa
