// The boundary to libsentencepiece. Debian's libsentencepiece carries its own
// copy of protobuf 3.14 with exported symbols, which clash with the system
// protobuf the runtime links for its plan: a process linking both aborts at
// start-up ("compiled against version 3.14.0 of the Protocol Buffer runtime").
// So libsentencepiece is linked only into a small module,
// libresa_sentencepiece.so (SentencePieceShim.cpp), that the runtime dlopens
// with RTLD_LOCAL | RTLD_DEEPBIND: the module and libsentencepiece bind to
// their own protobuf, the rest of the process to the system one. Only this
// interface (virtual calls, std types) crosses the boundary; no exceptions do.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace resa {

class SentencePieceBackend {
public:
  virtual ~SentencePieceBackend() = default;
  // Each returns false with `error` set on failure.
  virtual bool load(const std::string &path, std::string &error) = 0;
  virtual bool encode(std::string_view text, std::vector<int> &ids, std::string &error) const = 0;
  virtual bool decode(const std::vector<int> &ids, std::string &text, std::string &error) const = 0;
  virtual int size() const = 0;
  virtual int pieceToId(std::string_view piece) const = 0;
  virtual std::string idToPiece(int id) const = 0;
  virtual bool isControl(int id) const = 0;
  virtual bool isUnknown(int id) const = 0;
  virtual int bosId() const = 0; // -1: none
  virtual int eosId() const = 0;
};

} // namespace resa

// The module's one entry point (looked up with dlsym).
#define RESA_SENTENCEPIECE_ENTRY "resa_sentencepiece_create"
extern "C" resa::SentencePieceBackend *resa_sentencepiece_create();
