// SentencePiece models through libsentencepiece, reached through the
// libresa_sentencepiece.so module (see SentencePieceBackend.h).
#include "Loaders.h"
#include "SentencePieceBackend.h"
#include "Unicode.h"
#include "resa/kernels/Tensor.h"

#include <climits>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <mutex>

#ifndef RESA_SENTENCEPIECE_MODULE_BUILD_PATH
#define RESA_SENTENCEPIECE_MODULE_BUILD_PATH ""
#endif

namespace resa {

namespace {

constexpr const char *kModuleName = "libresa_sentencepiece.so";

using CreateFn = SentencePieceBackend *(*)();

// Finds and opens the module once: $RESA_SENTENCEPIECE_MODULE, then next to
// the executable (../lib/ and its own folder), then the build tree.
CreateFn backendFactory() {
  static std::once_flag once;
  static CreateFn create = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    namespace fs = std::filesystem;
    std::vector<std::string> candidates;
    const char *env = std::getenv("RESA_SENTENCEPIECE_MODULE");
    bool fromEnv = env && *env; // then that path and no other
    std::error_code ec;
    if (fromEnv) {
      candidates.push_back(env);
    } else {
      fs::path exe = fs::read_symlink("/proc/self/exe", ec);
      if (!ec) {
        candidates.push_back((exe.parent_path().parent_path() / "lib" / kModuleName).string());
        candidates.push_back((exe.parent_path() / kModuleName).string());
      }
      if (*RESA_SENTENCEPIECE_MODULE_BUILD_PATH)
        candidates.push_back(RESA_SENTENCEPIECE_MODULE_BUILD_PATH);
    }
    std::string tried;
    for (const std::string &path : candidates) {
      if (!fromEnv && !fs::exists(path, ec)) {
        tried += (tried.empty() ? "" : ", ") + path;
        continue;
      }
      void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (!handle) {
        failure = std::string("cannot load ") + path + ": " + dlerror();
        return;
      }
      create = reinterpret_cast<CreateFn>(dlsym(handle, RESA_SENTENCEPIECE_ENTRY));
      if (!create) failure = path + " has no " RESA_SENTENCEPIECE_ENTRY;
      return; // the module stays loaded for the life of the process
    }
    failure = std::string("SentencePiece support is not available: ") + kModuleName +
              " not found (tried " + tried + "; set RESA_SENTENCEPIECE_MODULE)";
  });
  if (!create) throw Error(failure);
  return create;
}

class SentencePieceTokenizer : public Tokenizer {
public:
  explicit SentencePieceTokenizer(const std::string &path) : sp_(backendFactory()()) {
    std::string error;
    if (!sp_->load(path, error)) throw Error("not a SentencePiece model: " + error);
    if (sp_->bosId() >= 0) bos_ = sp_->bosId();
    if (sp_->eosId() >= 0) eos_ = sp_->eosId();
  }

  std::string kind() const override { return "sentencepiece"; }

  std::vector<int64_t> encode(std::string_view text, bool addSpecial) const override {
    if (size_t bad = unicode::invalidUtf8At(text); bad != std::string_view::npos)
      throw Error("tokenizer: text is not valid UTF-8 (byte " + std::to_string(bad) + ")");
    std::vector<int> ids;
    std::string error;
    if (!sp_->encode(text, ids, error)) throw Error("SentencePiece encode: " + error);
    std::vector<int64_t> out;
    out.reserve(ids.size() + 1);
    if (addSpecial && bos_) out.push_back(*bos_);
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  std::string decode(const std::vector<int64_t> &ids, bool skipSpecial) const override {
    std::vector<int> kept;
    kept.reserve(ids.size());
    for (int64_t id : ids) {
      if (id < 0 || id >= sp_->size()) continue;
      if (skipSpecial && isSpecial(id)) continue;
      kept.push_back(int(id));
    }
    std::string text, error;
    if (!sp_->decode(kept, text, error)) throw Error("SentencePiece decode: " + error);
    return text;
  }

  int64_t vocabSize() const override { return sp_->size(); }

  std::optional<int64_t> tokenToId(std::string_view token) const override {
    int id = sp_->pieceToId(token);
    // Unknown pieces map to the unknown token's id.
    if (id < 0 || sp_->idToPiece(id) != token) return std::nullopt;
    return id;
  }

  std::optional<std::string> idToToken(int64_t id) const override {
    if (id < 0 || id >= sp_->size()) return std::nullopt;
    return sp_->idToPiece(int(id));
  }

  // Control tokens (<s>, </s>, <pad>) and the unknown token.
  bool isSpecial(int64_t id) const override {
    return id >= 0 && id < sp_->size() && (sp_->isControl(int(id)) || sp_->isUnknown(int(id)));
  }

  std::vector<int64_t> specialIds() const override {
    std::vector<int64_t> out;
    for (int i = 0; i < sp_->size(); ++i)
      if (isSpecial(i)) out.push_back(i);
    return out;
  }

private:
  std::unique_ptr<SentencePieceBackend> sp_;
};

} // namespace

std::unique_ptr<Tokenizer> loadSentencePiece(const std::string &path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

} // namespace resa
