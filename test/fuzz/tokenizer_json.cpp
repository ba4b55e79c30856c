// Fuzzes tokenizer loading: the input is written as a tokenizer.json and
// loaded; a tokenizer that loads then encodes and decodes a fixed text.
#include "FuzzUtil.h"

#include "resa/kernels/Tensor.h"
#include "resa/runtime/Tokenizer.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string path = resa::fuzz::scratchDir() + "/tokenizer.json";
  resa::fuzz::writeFile(path, data, size);
  try {
    std::unique_ptr<resa::Tokenizer> tok = resa::loadTokenizer(path);
    std::vector<int64_t> ids = tok->encode("Hello, world! 123 <|im_start|>héllo\n\tend", true);
    (void)tok->decode(ids, false);
    (void)tok->decode(ids, true);
    (void)tok->decode({-1, 0, 1, tok->vocabSize() - 1, tok->vocabSize()}, false);
    for (int64_t id : tok->specialIds())
      (void)tok->idToToken(id);
  } catch (const resa::Error &) {
  }
  return 0;
}
