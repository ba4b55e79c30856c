// The C API (resa/resa.h) over the C++ runtime.
#include "resa/resa.h"

#include "resa/runtime/Gsr.h"

#include <cstdlib>

#include <cstdlib>
#include <cstring>

struct resa_model {
  std::unique_ptr<resa::Package> package;
  std::unique_ptr<resa::Tokenizer> tokenizer;
  std::unique_ptr<resa::Generator> generator;
};

namespace {

thread_local std::string lastError;

template <typename F> resa_status guarded(F &&f) {
  try {
    f();
    lastError.clear();
    return RESA_OK;
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

void requireArgs(bool ok) {
  if (!ok)
    throw resa::Error("a required argument is null");
}

} // namespace

extern "C" {

resa_status resa_model_load(const char *package, const char *tokenizer, int64_t kvPages,
                            resa_model **out) {
  return guarded([&] {
    requireArgs(package && tokenizer && out);
    auto m = std::make_unique<resa_model>();
    m->package = resa::Package::load(package);
    m->tokenizer = resa::loadTokenizer(tokenizer);
    std::vector<std::vector<int64_t>> room = {std::vector<int64_t>(32768)};
    m->generator = std::make_unique<resa::Generator>(
        *m->package, kvPages > 0 ? kvPages : resa::Generator::pagesFor(*m->package, room, 0));
    *out = m.release();
  });
}

void resa_model_free(resa_model *model) { delete model; }

resa_status resa_generate(resa_model *model, const char *prompt, int64_t maxNewTokens,
                          float temperature, float topP, uint64_t seed, char **text) {
  return guarded([&] {
    requireArgs(model && prompt && text);
    resa::GenerationOptions o;
    o.maxNewTokens = maxNewTokens;
    o.sampling = {temperature, topP, seed};
    if (auto eos = model->tokenizer->eosId())
      o.stopTokens.push_back(*eos);
    auto g = model->generator->generate({model->tokenizer->encode(prompt, true)}, o);
    *text = copyString(model->tokenizer->decode(g[0].tokens, true));
  });
}

resa_status resa_gsr(resa_model *model, const char *problem, uint64_t seed, char **json) {
  return guarded([&] {
    requireArgs(model && problem && json);
    resa::GsrResult r = resa::runGsr(*model->generator, *model->tokenizer, problem,
                                     resa::gsrConfig(*model->package), seed);
    *json = copyString(resa::gsrResultJson(r));
  });
}

void resa_string_free(char *s) { std::free(s); }

const char *resa_last_error(void) { return lastError.c_str(); }

} // extern "C"
