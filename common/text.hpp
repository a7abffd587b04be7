// The one decoder of client text, and the rules built on it (docs/api.md, "Text from
// clients"). Pure functions over bytes, no state: every REST body, path or query
// value and WebSocket frame passes `check` before any library sees it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::text {

enum class fault {
  none,
  nul,        ///< a NUL character (libpq would cut the text short at it)
  malformed,  ///< not UTF-8: a stray or missing continuation byte, an overlong form,
              ///< a surrogate (U+D800..U+DFFF) or a code point above U+10FFFF
  invisible,  ///< e-mail: a control, format, default-ignorable, unassigned or space character
  not_email,  ///< e-mail: not a plausible address once canonical
  control,    ///< name: a control character (Cc)
  bidi,       ///< name: a bidi embedding, override or isolate (U+202A..U+202E, U+2066..U+2069)
  blank,      ///< name: no visible character
};

/// Whether `bytes` is text: valid UTF-8 (RFC 3629) without NUL.
fault check(std::string_view bytes);

/// A short client-facing phrase for `f`, to follow a field name ("must not ...").
const char* describe(fault f);

/// The number of characters (code points) of `s`, which passed `check`: what every
/// length limit of the API counts.
std::size_t length(std::string_view s);

/// ASCII white space as C's isspace knows it.
constexpr std::string_view ascii_space = " \t\n\v\f\r";
/// HTTP's optional white space (RFC 9110): blanks and tabs.
constexpr std::string_view http_space = " \t";

/// `s` without the characters of `blanks` at either end.
std::string_view trim(std::string_view s, std::string_view blanks = ascii_space);

/// `s` with ASCII letters in lower case, other bytes as they are (protocol tokens, hosts,
/// header values).
std::string ascii_lower(std::string_view s);

/// The canonical form of an e-mail address: NFKC, then full case folding (so
/// "ＡＮＮ@Example.com", "ANN@example.com" and "ann@example.com" are one address, and
/// KELVIN SIGN is "k"). Refuses (`why`) text that fails `check`, any code point that is
/// Cc, Cf, Cs, Co, Cn, a separator (Z*) or default-ignorable (zero-width space, soft
/// hyphen...), and a result that is not a plausible address: at most 320 bytes, one
/// '@' after 1 to 64 bytes, a domain of at most 255 bytes with a dot inside it and no
/// empty label.
std::optional<std::string> canonical_email(std::string_view email, fault& why);

/// Whether a mail server would take `address` as it is: the shape `canonical_email`
/// asks for, at most 254 bytes, a local part without blanks, controls, quotes or
/// specials (`"(),:;<>[\]`) or empty dot-separated parts, and domain labels of at most
/// 63 letters, digits, '-' or UTF-8 bytes, not starting or ending with '-'.
bool deliverable_email(std::string_view address);

/// `s`, which passed `check`, in Normalization Form KC: how an address is shown (the
/// case kept, "ａnn＠example.com" as "ann@example.com").
std::string nfkc(std::string_view s);

/// Whether `name` is acceptable display text (first and last names, group titles):
/// `check`, then no control character (Cc, tabs and newlines included), no bidi
/// embedding, override or isolate, and at least one visible character: a letter, number,
/// punctuation or symbol that is not default-ignorable (so not U+3164 HANGUL FILLER),
/// nor U+2800 BRAILLE PATTERN BLANK.
fault check_name(std::string_view name);

} // namespace tandem::text
