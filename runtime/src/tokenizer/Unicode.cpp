// UTF-8 coding by hand; categories, case folding and normalization by ICU
// (libicu, already a dependency of the LLVM/libxml2 stack and of every
// desktop Debian, so no vendored tables to keep in sync with Unicode).
#include "Unicode.h"

#include "resa/kernels/Tensor.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

namespace resa::unicode {

void appendUtf8(std::string &out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

// Length of the well-formed sequence at s[i], or 0; `valid` is how many bytes
// from i form a prefix of some well-formed sequence (for lossy decoding).
size_t sequenceAt(std::string_view s, size_t i, size_t &validPrefix) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  validPrefix = 0;
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) need = 1;
  else if (c == 0xE0) need = 2, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEC) need = 2;
  else if (c == 0xED) need = 2, hi = 0x9F;
  else if (c >= 0xEE && c <= 0xEF) need = 2;
  else if (c == 0xF0) need = 3, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) need = 3;
  else if (c == 0xF4) need = 3, hi = 0x8F;
  else return 0;
  validPrefix = 1;
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return 0;
    unsigned char d = b(i + k);
    if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return 0;
    validPrefix = k + 1;
  }
  return need + 1;
}

} // namespace

size_t invalidUtf8At(std::string_view s) {
  size_t i = 0, prefix;
  while (i < s.size()) {
    size_t n = sequenceAt(s, i, prefix);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

bool isValidUtf8(std::string_view s) { return invalidUtf8At(s) == std::string_view::npos; }

std::u32string toCodePoints(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char32_t cp;
    size_t n;
    if (c < 0x80) cp = c, n = 1;
    else if (c < 0xE0) cp = c & 0x1F, n = 2;
    else if (c < 0xF0) cp = c & 0x0F, n = 3;
    else cp = c & 0x07, n = 4;
    for (size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out += cp;
    i += n;
  }
  return out;
}

std::string toUtf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t c : cps) appendUtf8(out, c);
  return out;
}

std::string fromUtf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0, prefix;
  while (i < bytes.size()) {
    size_t n = sequenceAt(bytes, i, prefix);
    if (n > 0) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      i += prefix > 0 ? prefix : 1;
    }
  }
  return out;
}

uint32_t categoryMask(char32_t c) { return U_GET_GC_MASK(static_cast<UChar32>(c)); }

uint32_t categoryMaskByName(std::string_view n) {
  struct Entry {
    const char *name;
    uint32_t mask;
  };
  static const Entry table[] = {
      {"L", U_GC_L_MASK},   {"Lu", U_GC_LU_MASK}, {"Ll", U_GC_LL_MASK}, {"Lt", U_GC_LT_MASK},
      {"Lm", U_GC_LM_MASK}, {"Lo", U_GC_LO_MASK}, {"M", U_GC_M_MASK},   {"Mn", U_GC_MN_MASK},
      {"Mc", U_GC_MC_MASK}, {"Me", U_GC_ME_MASK}, {"N", U_GC_N_MASK},   {"Nd", U_GC_ND_MASK},
      {"Nl", U_GC_NL_MASK}, {"No", U_GC_NO_MASK}, {"P", U_GC_P_MASK},   {"Pc", U_GC_PC_MASK},
      {"Pd", U_GC_PD_MASK}, {"Ps", U_GC_PS_MASK}, {"Pe", U_GC_PE_MASK}, {"Pi", U_GC_PI_MASK},
      {"Pf", U_GC_PF_MASK}, {"Po", U_GC_PO_MASK}, {"S", U_GC_S_MASK},   {"Sm", U_GC_SM_MASK},
      {"Sc", U_GC_SC_MASK}, {"Sk", U_GC_SK_MASK}, {"So", U_GC_SO_MASK}, {"Z", U_GC_Z_MASK},
      {"Zs", U_GC_ZS_MASK}, {"Zl", U_GC_ZL_MASK}, {"Zp", U_GC_ZP_MASK}, {"C", U_GC_C_MASK},
      {"Cc", U_GC_CC_MASK}, {"Cf", U_GC_CF_MASK}, {"Cs", U_GC_CS_MASK}, {"Co", U_GC_CO_MASK},
      {"Cn", U_GC_CN_MASK},
  };
  for (const Entry &e : table)
    if (n == e.name) return e.mask;
  return 0;
}

bool isWhiteSpace(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

bool isAlphanumeric(char32_t c) {
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_ALPHABETIC) ||
         (categoryMask(c) & U_GC_N_MASK) != 0;
}

char32_t foldCase(char32_t c) {
  return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT));
}

std::string normalize(std::string_view form, std::string_view s) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2 *n = nullptr;
  if (form == "NFC") n = icu::Normalizer2::getNFCInstance(status);
  else if (form == "NFD") n = icu::Normalizer2::getNFDInstance(status);
  else if (form == "NFKC") n = icu::Normalizer2::getNFKCInstance(status);
  else if (form == "NFKD") n = icu::Normalizer2::getNFKDInstance(status);
  else throw Error("unknown normalization form " + std::string(form));
  if (U_FAILURE(status)) throw Error(std::string("ICU: ") + u_errorName(status));
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), int32_t(s.size())));
  icu::UnicodeString r = n->normalize(u, status);
  if (U_FAILURE(status)) throw Error(std::string("ICU normalization: ") + u_errorName(status));
  std::string out;
  r.toUTF8String(out);
  return out;
}

} // namespace resa::unicode
