#include "common/text.hpp"

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <new>

namespace tandem::text {

namespace {

const uint8_t* bytes_of(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

/// Calls `f(code point)` for each code point of `s`, which passed `check`, until `f`
/// returns false; returns whether it never did.
template <class F>
bool each_code_point(std::string_view s, F f) {
  const uint8_t* p = bytes_of(s);
  const uint8_t* end = p + s.size();
  while (p < end) {
    ucs4_t uc;
    p += u8_mbtouc_unsafe(&uc, p, static_cast<size_t>(end - p));
    if (!f(uc))
      return false;
  }
  return true;
}

/// What must never be in an address: nothing a reader cannot see or tell apart.
bool invisible_in_email(ucs4_t uc) {
  return uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_C | UC_CATEGORY_MASK_Z)
         || uc_is_property_default_ignorable_code_point(uc);
}

bool is_bidi_control(ucs4_t uc) {
  return (uc >= 0x202A && uc <= 0x202E) || (uc >= 0x2066 && uc <= 0x2069);
}

bool is_visible(ucs4_t uc) {
  return uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_L | UC_CATEGORY_MASK_N
                                                | UC_CATEGORY_MASK_P | UC_CATEGORY_MASK_S)
         && !uc_is_property_default_ignorable_code_point(uc) && uc != 0x2800;
}

/// libunistring's results are malloc'ed.
struct free_deleter {
  void operator()(uint8_t* p) const {
    std::free(p);
  }
};
using unistring_ptr = std::unique_ptr<uint8_t, free_deleter>;

std::string string_of(const unistring_ptr& p, size_t n) {
  if (!p)
    throw std::bad_alloc{};  // libunistring fails only for want of memory on valid input
  return {reinterpret_cast<const char*>(p.get()), n};
}

/// Lengths of an address in bytes (RFC 5321: a path of 256 holds 254 of address).
constexpr std::size_t max_stored_address = 320;
constexpr std::size_t max_deliverable_address = 254;
constexpr std::size_t max_local_part = 64;
constexpr std::size_t max_domain = 255;
constexpr std::size_t max_label = 63;

/// The shape of every address: one '@' after 1 to 64 bytes, a domain of at most 255
/// bytes with a dot inside it and no empty label.
bool plausible_address(std::string_view a) {
  auto at = a.find('@');
  if (a.size() > max_stored_address || at == std::string_view::npos || at == 0
      || at > max_local_part || a.find('@', at + 1) != std::string_view::npos)
    return false;
  auto domain = a.substr(at + 1);
  return domain.size() <= max_domain && domain.find('.') != std::string_view::npos
         && domain.front() != '.' && domain.back() != '.'
         && domain.find("..") == std::string_view::npos;
}

/// Whether every dot-separated part of `s` is non-empty and passes `part_ok`.
template <class F>
bool parts_ok(std::string_view s, F part_ok) {
  std::size_t pos = 0;
  for (;;) {
    auto dot = s.find('.', pos);
    auto part = s.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (part.empty() || !part_ok(part))
      return false;
    if (dot == std::string_view::npos)
      return true;
    pos = dot + 1;
  }
}

bool local_part_ok(std::string_view part) {
  return std::none_of(part.begin(), part.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c <= 0x20 || c == 0x7F || std::string_view{"\"(),:;<>[\\]"}.find(ch)
                                        != std::string_view::npos;
  });
}

bool label_ok(std::string_view label) {
  if (label.size() > max_label || label.front() == '-' || label.back() == '-')
    return false;
  return std::all_of(label.begin(), label.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return std::isalnum(c) || c == '-' || c >= 0x80;
  });
}

} // namespace

fault check(std::string_view bytes) {
  if (bytes.find('\0') != std::string_view::npos)
    return fault::nul;
  if (u8_check(bytes_of(bytes), bytes.size()) != nullptr)
    return fault::malformed;
  return fault::none;
}

const char* describe(fault f) {
  switch (f) {
    case fault::none:
      return "is valid";
    case fault::nul:
      return "must not contain NUL characters";
    case fault::malformed:
      return "must be valid UTF-8";
    case fault::invisible:
      return "must not contain invisible, control or space characters";
    case fault::not_email:
      return "must be a valid email address";
    case fault::control:
      return "must not contain control characters";
    case fault::bidi:
      return "must not contain bidirectional override or isolate characters";
    case fault::blank:
      return "must contain a visible character";
  }
  return "is not valid text";
}

std::size_t length(std::string_view s) {
  return u8_mbsnlen(bytes_of(s), s.size());
}

std::string_view trim(std::string_view s, std::string_view blanks) {
  auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos)
    return {};
  return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

std::string ascii_lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::optional<std::string> canonical_email(std::string_view email, fault& why) {
  why = check(email);
  if (why != fault::none)
    return std::nullopt;
  // Screened before and after folding: compatibility forms may decompose to a space
  // (U+00A8 DIAERESIS is " " + U+0308).
  if (!each_code_point(email, [](ucs4_t uc) { return !invisible_in_email(uc); })) {
    why = fault::invisible;
    return std::nullopt;
  }
  if (email.empty()) {
    why = fault::not_email;
    return std::nullopt;
  }
  // NFKC, then full case folding (normalised as NFKC again): the identity of an address.
  auto normal = nfkc(email);
  size_t n = 0;
  unistring_ptr folded{
    u8_casefold(bytes_of(normal), normal.size(), nullptr, UNINORM_NFKC, nullptr, &n)};
  auto canonical = string_of(folded, n);
  if (!each_code_point(canonical, [](ucs4_t uc) { return !invisible_in_email(uc); })) {
    why = fault::invisible;
    return std::nullopt;
  }
  if (!plausible_address(canonical)) {
    why = fault::not_email;
    return std::nullopt;
  }
  return canonical;
}

bool deliverable_email(std::string_view address) {
  if (address.size() > max_deliverable_address || !plausible_address(address))
    return false;
  auto at = address.find('@');
  return parts_ok(address.substr(0, at), local_part_ok)
         && parts_ok(address.substr(at + 1), label_ok);
}

std::string nfkc(std::string_view s) {
  if (s.empty())
    return {};
  size_t n = 0;
  unistring_ptr out{u8_normalize(UNINORM_NFKC, bytes_of(s), s.size(), nullptr, &n)};
  return string_of(out, n);
}

fault check_name(std::string_view name) {
  if (auto f = check(name); f != fault::none)
    return f;
  fault found = fault::blank;
  each_code_point(name, [&found](ucs4_t uc) {
    if (uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Cc))
      found = fault::control;
    else if (is_bidi_control(uc))
      found = fault::bidi;
    else if (found == fault::blank && is_visible(uc))
      found = fault::none;
    return found == fault::none || found == fault::blank;
  });
  return found;
}

} // namespace tandem::text
