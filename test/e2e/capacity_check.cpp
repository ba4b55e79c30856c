// The KV cache's capacity from the C++ API: a prompt longer than the cache and
// a cache that fills up part way through generation are resa::Error
// exceptions that say so, and leave the generator empty and usable.
// usage: resa-capacity-check PKG TOKENIZER
#include "CheckUtil.h"
#include "resa/runtime/Generator.h"
#include "resa/runtime/KVCapacity.h"
#include "resa/runtime/Tokenizer.h"

#include <cstdio>
#include <functional>
#include <string>

namespace {

int failures = 0;

void report(bool ok, const std::string &what) {
  std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what.c_str());
  failures += !ok;
}

using resa::check::errorOf;

bool holds(const std::string &message, const std::string &words) {
  std::printf("  %s\n", message.c_str());
  return message.find(words) != std::string::npos;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: resa-capacity-check PKG TOKENIZER\n");
    return 2;
  }
  try {
    auto package = resa::Package::load(argv[1]);
    auto tokenizer = resa::loadTokenizer(argv[2]);
    resa::Generator gen(*package, 2);
    const resa::KVCacheConfig &cache = gen.cache().config();
    auto empty = [&] { return gen.cache().sequences().empty() && gen.cache().usedPages() == 0; };
    std::vector<int64_t> shortPrompt = tokenizer->encode("What is", true);
    std::vector<int64_t> longPrompt(static_cast<size_t>(2 * cache.pageSize + 1), 5);
    resa::GenerationOptions options;
    options.maxNewTokens = 4 * cache.pageSize; // no stop token: all of them

    report(holds(errorOf([&] { resa::requirePromptFits(cache, 2 * cache.pageSize + 1, "hint"); }),
                 "longer than the KV cache holds (2 pages of"),
           "requirePromptFits: a prompt longer than the cache says how much it holds");
    report(errorOf([&] { resa::requirePromptFits(cache, 2 * cache.pageSize, "hint"); }).empty(),
           "requirePromptFits: a prompt that fills the cache exactly fits");
    report(holds(errorOf([&] { gen.generate({longPrompt}, options); }), "KV cache full") &&
               empty(),
           "generate: a prompt longer than the cache throws, the cache is left empty");
    report(holds(errorOf([&] { gen.generate({shortPrompt}, options); }), "KV cache full") &&
               empty(),
           "generate: the cache filling up part way through throws, the cache is left empty");
    options.sampling = {0.8f, 0.9f, 3};
    report(holds(errorOf([&] { gen.generateShared(shortPrompt, 3, options); }),
                 "KV cache full") &&
               empty(),
           "generateShared (sampled): the cache filling up throws, the cache is left empty");
    options.maxNewTokens = 2;
    std::vector<resa::Generation> g = gen.generate({shortPrompt}, options);
    report(g.size() == 1 && g[0].tokens.size() == 2 && empty(),
           "the generator serves the next request after those errors");
  } catch (const std::exception &e) {
    report(false, std::string("unexpected error: ") + e.what());
  }
  return failures ? 1 : 0;
}
