// GPT-2's byte-to-unicode alphabet: every byte is shown as a printable code
// point so that byte-level BPE can work on text. Printable Latin-1 bytes map to
// themselves, the other 68 to U+0100 onwards in byte order.
#pragma once

#include <string>
#include <string_view>

namespace resa::bytelevel {

// Each byte of `bytes` as its alphabet character, in UTF-8.
std::string encode(std::string_view bytes);
// Back to bytes: a token whose characters are all in the alphabet becomes its
// bytes; any other token is kept as its own UTF-8 (as `tokenizers` does).
void appendDecoded(std::string &bytes, std::string_view token);

} // namespace resa::bytelevel
