// The tokenizer implementations, as loadTokenizer() picks them. Errors name
// what is wrong; loadTokenizer() adds the file.
#pragma once

#include "resa/runtime/Tokenizer.h"

#include <memory>
#include <string>

namespace resa {

// A Hugging Face tokenizer.json (its text); `configPath` is a
// tokenizer_config.json to read bos/eos from, or empty.
std::unique_ptr<Tokenizer> loadHfTokenizer(const std::string &json, const std::string &configPath);

// A SentencePiece model file.
std::unique_ptr<Tokenizer> loadSentencePiece(const std::string &path);

} // namespace resa
