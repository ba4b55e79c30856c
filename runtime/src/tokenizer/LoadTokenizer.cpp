// loadTokenizer(): picks the implementation from the file.
#include "Loaders.h"
#include "resa/kernels/Tensor.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace resa {

std::unique_ptr<Tokenizer> loadTokenizer(const std::string &pathArg) {
  namespace fs = std::filesystem;
  fs::path path = pathArg;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // A model folder: tokenizer.json, or tokenizer.model when there is none
    // or it asks for what is not implemented (the tokenizer.json of
    // SentencePiece models, Metaspace and byte fallback, is converted from
    // their tokenizer.model).
    bool json = fs::exists(path / "tokenizer.json"), model = fs::exists(path / "tokenizer.model");
    if (!json && !model)
      throw Error(pathArg + ": no tokenizer.json or tokenizer.model in this folder");
    if (json && model) {
      try {
        return loadTokenizer((path / "tokenizer.json").string());
      } catch (const Error &) {
        return loadTokenizer((path / "tokenizer.model").string());
      }
    }
    path /= json ? "tokenizer.json" : "tokenizer.model";
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open the tokenizer file");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string contents = ss.str();

  // JSON starts with '{' (after whitespace); a SentencePiece model is a
  // binary protobuf.
  size_t first = contents.find_first_not_of(" \t\r\n");
  bool isJson = first != std::string::npos && contents[first] == '{';
  try {
    if (isJson) {
      fs::path config = path.parent_path() / "tokenizer_config.json";
      return loadHfTokenizer(contents, fs::exists(config, ec) ? config.string() : std::string());
    }
    if (path.extension() == ".json")
      throw Error("not a tokenizer.json (it does not start with '{')");
    return loadSentencePiece(path.string());
  } catch (const Error &e) {
    throw Error(path.string() + ": " + e.what());
  }
}

} // namespace resa
