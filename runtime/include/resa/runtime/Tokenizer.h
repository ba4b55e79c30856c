// Tokenizers: text to token ids and back. Two implementations behind one
// interface, picked by loadTokenizer() from the file:
//  - Hugging Face tokenizer.json with a byte-level BPE model (GPT-2, Llama-3,
//    Qwen2 style), implemented here and checked id-for-id against the
//    `tokenizers` package;
//  - SentencePiece .model files, through libsentencepiece.
// Anything a file asks for that is not implemented is a resa::Error naming the
// file and the feature, never a silent approximation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace resa {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;

  // "hf-bpe" or "sentencepiece".
  virtual std::string kind() const = 0;

  // Text (UTF-8; invalid UTF-8 is an Error) to ids. Special tokens written in
  // the text (e.g. "<|im_start|>") are recognised as such. With addSpecial
  // the tokenizer's own framing is added (the post-processor template of a
  // tokenizer.json, e.g. Llama-3's <|begin_of_text|>; SentencePiece: BOS when
  // the model has one), as the reference packages do with their defaults.
  virtual std::vector<int64_t> encode(std::string_view text, bool addSpecial = true) const = 0;

  // Ids to text. Ids outside the vocabulary are dropped (models often pad
  // their embedding past the tokenizer's vocabulary). Bytes that do not form
  // valid UTF-8 (a multi-byte character cut between calls) become U+FFFD.
  virtual std::string decode(const std::vector<int64_t> &ids, bool skipSpecial = false) const = 0;

  // One more than the largest id (added tokens included).
  virtual int64_t vocabSize() const = 0;
  // The token's text as stored in the vocabulary (byte-level BPE tokens are
  // in the GPT-2 byte-to-unicode alphabet, e.g. "Ġthe").
  virtual std::optional<int64_t> tokenToId(std::string_view token) const = 0;
  virtual std::optional<std::string> idToToken(int64_t id) const = 0;
  virtual bool isSpecial(int64_t id) const = 0;
  virtual std::vector<int64_t> specialIds() const = 0;

  // When the files say (tokenizer_config.json, the post-processor template,
  // or the SentencePiece model); nullopt otherwise.
  std::optional<int64_t> bosId() const { return bos_; }
  std::optional<int64_t> eosId() const { return eos_; }

protected:
  std::optional<int64_t> bos_, eos_;
};

// `path` is a tokenizer.json, a SentencePiece model (.model / protobuf), or a
// directory holding tokenizer.json or tokenizer.model.
std::unique_ptr<Tokenizer> loadTokenizer(const std::string &path);

} // namespace resa
