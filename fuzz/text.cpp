// The one decoder of client text (common/text.hpp) and the rules built on it. The
// decoder is held to an independent reading of RFC 3629 written here as a table of
// well-formed byte sequences; the rules must only ever answer text that passes it, and
// the canonical e-mail form must be a fixed point (the lockout key, the unique index and
// the lookup all use it, so canonicalising twice must change nothing).
#include "common/text.hpp"
#include "fuzz/fuzz_support.hpp"

#include <cstdlib>

namespace {

/// RFC 3629 section 4 (the Unicode standard's table 3-7): valid UTF-8, and no NUL.
bool reference_text(const uint8_t* p, std::size_t n) {
  std::size_t i = 0;
  auto in = [&](std::size_t k, uint8_t lo, uint8_t hi) {
    return i + k < n && p[i + k] >= lo && p[i + k] <= hi;
  };
  while (i < n) {
    uint8_t b = p[i];
    std::size_t len = 0;
    if (b == 0x00)
      return false;
    if (b < 0x80)
      len = 1;
    else if (b >= 0xC2 && b <= 0xDF && in(1, 0x80, 0xBF))
      len = 2;
    else if (b == 0xE0 && in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF))
      len = 3;
    else if (((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) && in(1, 0x80, 0xBF)
             && in(2, 0x80, 0xBF))
      len = 3;
    else if (b == 0xED && in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF))
      len = 3;
    else if (b == 0xF0 && in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF))
      len = 4;
    else if (b >= 0xF1 && b <= 0xF3 && in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF)
             && in(3, 0x80, 0xBF))
      len = 4;
    else if (b == 0xF4 && in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF))
      len = 4;
    else
      return false;
    i += len;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using tandem::text::fault;
  namespace text = tandem::text;
  auto input = tandem_fuzz::text_of(data, size);
  bool is_text = text::check(input) == fault::none;
  if (is_text != reference_text(data, size))
    std::abort();  // the decoder and RFC 3629 disagree
  if (!is_text) {
    // Nothing that is not text may pass a rule built on the decoder.
    fault why = fault::none;
    if (text::check_name(input) == fault::none || text::canonical_email(input, why))
      std::abort();
    return 0;
  }
  if (text::check(text::nfkc(input)) != fault::none)
    std::abort();
  fault why = fault::none;
  if (auto key = text::canonical_email(input, why)) {
    fault again = fault::none;
    auto twice = text::canonical_email(*key, again);
    if (text::check(*key) != fault::none || !twice || *twice != *key)
      std::abort();
  } else if (why == fault::none) {
    std::abort();  // a refusal always says why
  }
  return 0;
}
