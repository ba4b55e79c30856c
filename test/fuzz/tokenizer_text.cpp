// Fuzzes encode/decode of the committed byte-level BPE fixtures on arbitrary
// text (valid or not UTF-8) and arbitrary ids. The first byte picks the
// tokenizer and whether special framing is added.
#include "resa/kernels/Tensor.h"
#include "resa/runtime/Tokenizer.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {
const resa::Tokenizer &tokenizer(int which) {
  static std::unique_ptr<resa::Tokenizer> toks[2] = {
      resa::loadTokenizer(RESA_FIXTURES_DIR "/tokenizers/bpe300.json"),
      resa::loadTokenizer(RESA_FIXTURES_DIR "/tokenizers/llama3-bpe.json")};
  return *toks[which];
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
  const resa::Tokenizer &tok = tokenizer(mode & 1);
  bool special = mode & 2;
  try {
    std::vector<int64_t> ids = tok.encode(text, special);
    for (int64_t id : ids)
      if (id < 0 || id >= tok.vocabSize())
        __builtin_trap(); // encode made an id outside the vocabulary
    (void)tok.decode(ids, mode & 4);
  } catch (const resa::Error &) {
    // invalid UTF-8 is an Error
  }
  // The same bytes as ids (4 bytes each, any value, in or out of range).
  std::vector<int64_t> ids;
  for (size_t i = 1; i + 4 <= size; i += 4) {
    int32_t v;
    std::memcpy(&v, data + i, 4);
    ids.push_back(v);
  }
  try {
    (void)tok.decode(ids, mode & 4);
  } catch (const resa::Error &) {
  }
  return 0;
}
