// UTF-8 and the Unicode properties the tokenizers need (general categories,
// White_Space, case folding, normalization forms), the latter through ICU.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace resa::unicode {

void appendUtf8(std::string &out, char32_t cp);
bool isValidUtf8(std::string_view s);
// Byte offset of the first invalid sequence, or npos.
size_t invalidUtf8At(std::string_view s);
// Decodes valid UTF-8 (check first) into code points.
std::u32string toCodePoints(std::string_view s);
std::string toUtf8(std::u32string_view cps);
// Bytes to UTF-8 the way Rust's String::from_utf8_lossy does: each maximal
// ill-formed subsequence becomes one U+FFFD.
std::string fromUtf8Lossy(std::string_view bytes);

// General-category mask bits (ICU's U_GC_*_MASK values).
uint32_t categoryMask(char32_t c);
// Mask for a category name: one letter ("L") or two ("Lu"); 0 if unknown.
uint32_t categoryMaskByName(std::string_view name);
bool isWhiteSpace(char32_t c);   // the White_Space property (regex \s, Rust is_whitespace)
bool isAlphanumeric(char32_t c); // Rust char::is_alphanumeric: Alphabetic or N
char32_t foldCase(char32_t c);   // simple case folding

// "NFC", "NFD", "NFKC" or "NFKD" of valid UTF-8.
std::string normalize(std::string_view form, std::string_view s);

} // namespace resa::unicode
