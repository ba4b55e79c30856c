// The C API (resa/resa.h) over the C++ runtime.
//
// Concurrency: the Package and the Tokenizer are read-only after loading and
// shared by every call; a Generator (executors, KV cache, counters) is not
// safe to share, so each call leases one from the model's pool for its
// duration. A generator goes back to the pool only with an empty cache (a
// failed call leaves it so; anything else drops it).
#include "resa/resa.h"

#include "resa/runtime/Gsr.h"
#include "resa/runtime/KVCapacity.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

struct resa_model {
  std::unique_ptr<resa::Package> package;
  std::unique_ptr<resa::Tokenizer> tokenizer;
  int64_t kvPages = 0;
  std::mutex poolMutex;
  std::vector<std::unique_ptr<resa::Generator>> idle; // guarded by poolMutex
};

namespace {

thread_local std::string lastError;

// A bad argument: RESA_INVALID_ARGUMENT rather than RESA_ERROR.
struct InvalidArgument : resa::Error {
  using resa::Error::Error;
};

template <typename F> resa_status guarded(F &&f) {
  try {
    f();
    lastError.clear();
    return RESA_OK;
  } catch (const InvalidArgument &e) {
    lastError = e.what();
    return RESA_INVALID_ARGUMENT;
  } catch (const std::exception &e) {
    lastError = e.what();
    return RESA_ERROR;
  }
}

char *copyString(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (!out)
    throw resa::Error("out of memory");
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

void require(bool ok, const char *what) {
  if (!ok)
    throw InvalidArgument(what);
}

// One generator, the caller's alone until it goes out of scope.
class Lease {
public:
  explicit Lease(resa_model &m) : m_(m) {
    {
      std::lock_guard<std::mutex> lock(m_.poolMutex);
      if (!m_.idle.empty()) {
        g_ = std::move(m_.idle.back());
        m_.idle.pop_back();
      }
    }
    if (!g_)
      g_ = std::make_unique<resa::Generator>(*m_.package, m_.kvPages);
  }
  ~Lease() {
    if (g_->cache().inForward() || !g_->cache().sequences().empty())
      return;
    std::lock_guard<std::mutex> lock(m_.poolMutex);
    m_.idle.push_back(std::move(g_));
  }
  Lease(const Lease &) = delete;
  Lease &operator=(const Lease &) = delete;
  resa::Generator &operator*() { return *g_; }
  resa::Generator *operator->() { return g_.get(); }

private:
  resa_model &m_;
  std::unique_ptr<resa::Generator> g_;
};

constexpr const char *kRaiseKvPages = "load the model with more kv_pages";

} // namespace

extern "C" {

resa_status resa_model_load(const char *package, const char *tokenizer, int64_t kvPages,
                            resa_model **out) {
  if (out)
    *out = nullptr;
  return guarded([&] {
    require(package && tokenizer && out, "resa_model_load: package, tokenizer and out are required");
    require(kvPages >= 0, "resa_model_load: kv_pages must be >= 0");
    auto m = std::make_unique<resa_model>();
    m->package = resa::Package::load(package);
    m->tokenizer = resa::loadTokenizer(tokenizer);
    std::vector<std::vector<int64_t>> room = {std::vector<int64_t>(32768)};
    m->kvPages = kvPages > 0 ? kvPages : resa::Generator::pagesFor(*m->package, room, 0);
    // One generator now: a package without a KV-cache program fails here.
    m->idle.push_back(std::make_unique<resa::Generator>(*m->package, m->kvPages));
    *out = m.release();
  });
}

void resa_model_free(resa_model *model) { delete model; }

resa_status resa_generate(resa_model *model, const char *prompt, int64_t maxNewTokens,
                          float temperature, float topP, uint64_t seed, char **text) {
  if (text)
    *text = nullptr;
  return guarded([&] {
    require(model && prompt && text, "resa_generate: model, prompt and text are required");
    require(maxNewTokens >= 0, "resa_generate: max_new_tokens must be >= 0");
    require(std::isfinite(temperature) && temperature >= 0.0f,
            "resa_generate: temperature must be finite and >= 0");
    require(topP > 0.0f && topP <= 1.0f, "resa_generate: top_p must be in (0, 1]");
    resa::GenerationOptions o;
    o.maxNewTokens = maxNewTokens;
    o.sampling = {temperature, topP, seed};
    if (auto eos = model->tokenizer->eosId())
      o.stopTokens.push_back(*eos);
    std::vector<int64_t> ids = model->tokenizer->encode(prompt, true);
    Lease g(*model);
    resa::requirePromptFits(g->cache().config(), static_cast<int64_t>(ids.size()), kRaiseKvPages);
    auto out = g->generate({ids}, o);
    *text = copyString(model->tokenizer->decode(out[0].tokens, true));
  });
}

resa_status resa_gsr(resa_model *model, const char *problem, uint64_t seed, char **json) {
  if (json)
    *json = nullptr;
  return guarded([&] {
    require(model && problem && json, "resa_gsr: model, problem and json are required");
    resa::GsrConfig config = resa::gsrConfig(*model->package);
    Lease g(*model);
    resa::requirePromptFits(g->cache().config(),
                            static_cast<int64_t>(model->tokenizer->encode(problem, true).size()),
                            kRaiseKvPages);
    *json = copyString(resa::gsrResultJson(resa::runGsr(*g, *model->tokenizer, problem, config,
                                                        seed)));
  });
}

void resa_string_free(char *s) { std::free(s); }

const char *resa_last_error(void) { return lastError.c_str(); }

} // extern "C"
