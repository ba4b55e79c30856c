// resa-tokenize: the runtime's tokenizers from the shell, for scripts and
// tests. One JSON object per input on stdout.
//
//   resa-tokenize TOKENIZER encode [--no-special] [--tokens] [TEXT...]
//       {"ids": [...], "decoded": "...", "decoded_skip": "..."[, "tokens": [...]]}
//       ("decoded": decode(ids); "decoded_skip": decode(ids, skipSpecial))
//   resa-tokenize TOKENIZER decode [--skip-special] [IDS...]      IDS like 1,2,3
//       {"text": "..."}
//   resa-tokenize TOKENIZER info
//       {"kind": ..., "vocab_size": N, "bos": id|null, "eos": id|null, "special": [...]}
//
// Without TEXT / IDS arguments each stdin line is one input written as JSON:
// a string to encode, an array of integers to decode. A failing input prints
// {"error": "..."} and makes the exit status 1.
#include "Json.h"
#include "resa/kernels/Tensor.h"
#include "resa/runtime/Tokenizer.h"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::string idList(const std::vector<int64_t> &ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "]";
}

std::string optionalId(std::optional<int64_t> id) { return id ? std::to_string(*id) : "null"; }

std::vector<int64_t> parseIds(const std::string &arg) {
  std::vector<int64_t> ids;
  size_t pos = 0;
  while (pos < arg.size()) {
    size_t comma = arg.find(',', pos);
    std::string item = arg.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t used = 0;
    int64_t v = std::stoll(item, &used);
    if (used != item.size()) throw resa::Error("not an id list: " + arg);
    ids.push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return ids;
}

int usage() {
  std::cerr << "usage: resa-tokenize TOKENIZER encode [--no-special] [--tokens] [TEXT...]\n"
               "       resa-tokenize TOKENIZER decode [--skip-special] [IDS...]\n"
               "       resa-tokenize TOKENIZER info\n"
               "Without TEXT/IDS, reads one JSON string (encode) or array (decode) per line.\n";
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) return usage();
  std::string mode = argv[2];
  bool addSpecial = true, skipSpecial = false, showTokens = false;
  std::vector<std::string> inputs;
  for (int i = 3; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--no-special")) addSpecial = false;
    else if (!std::strcmp(argv[i], "--skip-special")) skipSpecial = true;
    else if (!std::strcmp(argv[i], "--tokens")) showTokens = true;
    else inputs.push_back(argv[i]);
  }
  if (mode != "encode" && mode != "decode" && mode != "info") return usage();

  std::unique_ptr<resa::Tokenizer> tok;
  try {
    tok = resa::loadTokenizer(argv[1]);
  } catch (const std::exception &e) {
    std::cerr << "resa-tokenize: " << e.what() << "\n";
    return 1;
  }

  if (mode == "info") {
    std::cout << "{\"kind\":" << resa::json::quote(tok->kind())
              << ",\"vocab_size\":" << tok->vocabSize() << ",\"bos\":" << optionalId(tok->bosId())
              << ",\"eos\":" << optionalId(tok->eosId()) << ",\"special\":" << idList(tok->specialIds())
              << "}\n";
    return 0;
  }

  bool fromStdin = inputs.empty();
  int status = 0;
  auto handle = [&](const std::string &input) {
    try {
      if (mode == "encode") {
        std::string text = fromStdin ? resa::json::parse(input).asString("input line") : input;
        std::vector<int64_t> ids = tok->encode(text, addSpecial);
        std::cout << "{\"ids\":" << idList(ids)
                  << ",\"decoded\":" << resa::json::quote(tok->decode(ids, false))
                  << ",\"decoded_skip\":" << resa::json::quote(tok->decode(ids, true));
        if (showTokens) {
          std::cout << ",\"tokens\":[";
          for (size_t i = 0; i < ids.size(); ++i)
            std::cout << (i ? "," : "") << resa::json::quote(tok->idToToken(ids[i]).value_or(""));
          std::cout << "]";
        }
        std::cout << "}\n";
      } else {
        std::vector<int64_t> ids;
        if (fromStdin) {
          resa::json::Value line = resa::json::parse(input);
          for (const auto &v : line.items("input line")) ids.push_back(v.asInt("id"));
        } else {
          ids = parseIds(input);
        }
        std::cout << "{\"text\":" << resa::json::quote(tok->decode(ids, skipSpecial)) << "}\n";
      }
    } catch (const std::exception &e) {
      std::cout << "{\"error\":" << resa::json::quote(e.what()) << "}\n";
      status = 1;
    }
  };
  if (fromStdin) {
    std::string line;
    while (std::getline(std::cin, line)) handle(line);
  } else {
    for (const std::string &in : inputs) handle(in);
  }
  return status;
}
