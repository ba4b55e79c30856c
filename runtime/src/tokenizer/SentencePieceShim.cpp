// libresa_sentencepiece.so: libsentencepiece behind SentencePieceBackend.
// Built as a module and dlopened (see SentencePieceBackend.h for why).
#include "SentencePieceBackend.h"

#include <sentencepiece_processor.h>

namespace {

class Backend final : public resa::SentencePieceBackend {
public:
  bool load(const std::string &path, std::string &error) override {
    auto status = sp_.Load(path);
    if (!status.ok()) error = status.ToString();
    return status.ok();
  }
  bool encode(std::string_view text, std::vector<int> &ids, std::string &error) const override {
    auto status = sp_.Encode(text, &ids);
    if (!status.ok()) error = status.ToString();
    return status.ok();
  }
  bool decode(const std::vector<int> &ids, std::string &text, std::string &error) const override {
    auto status = sp_.Decode(ids, &text);
    if (!status.ok()) error = status.ToString();
    return status.ok();
  }
  int size() const override { return sp_.GetPieceSize(); }
  int pieceToId(std::string_view piece) const override { return sp_.PieceToId(piece); }
  std::string idToPiece(int id) const override { return sp_.IdToPiece(id); }
  bool isControl(int id) const override { return sp_.IsControl(id); }
  bool isUnknown(int id) const override { return sp_.IsUnknown(id); }
  int bosId() const override { return sp_.bos_id(); }
  int eosId() const override { return sp_.eos_id(); }

private:
  sentencepiece::SentencePieceProcessor sp_;
};

} // namespace

extern "C" __attribute__((visibility("default"))) resa::SentencePieceBackend *
resa_sentencepiece_create() {
  return new Backend();
}
