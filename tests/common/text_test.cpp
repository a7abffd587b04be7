// The decoder of client text and the e-mail and name rules of common/text.
#include "common/text.hpp"

#include <catch2/catch.hpp>

#include <string>

using tandem::text::canonical_email;
using tandem::text::check;
using tandem::text::check_name;
using tandem::text::fault;

namespace {

std::string canonical(const std::string& email) {
  fault why = fault::none;
  auto out = canonical_email(email, why);
  REQUIRE(why == fault::none);
  REQUIRE(out);
  return *out;
}

fault email_fault(const std::string& email) {
  fault why = fault::none;
  CHECK_FALSE(canonical_email(email, why));
  return why;
}

} // namespace

TEST_CASE("check accepts UTF-8 text without NUL", "[text]") {
  CHECK(check("") == fault::none);
  CHECK(check("plain ascii") == fault::none);
  CHECK(check("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == fault::none);  // é € 😀
  CHECK(check("\xF4\x8F\xBF\xBF") == fault::none);                            // U+10FFFF
  CHECK(check("\xEF\xBF\xBF") == fault::none);                                // U+FFFF
}

TEST_CASE("check refuses NUL and every form of malformed UTF-8", "[text]") {
  CHECK(check(std::string{"a\0b", 3}) == fault::nul);
  CHECK(check(std::string{"\0", 1}) == fault::nul);
  CHECK(check("\xFF") == fault::malformed);                  // never in UTF-8
  CHECK(check("\x80") == fault::malformed);                  // stray continuation
  CHECK(check("\xC3") == fault::malformed);                  // truncated
  CHECK(check("\xC3(") == fault::malformed);                 // bad continuation
  CHECK(check("\xC0\xAF") == fault::malformed);              // overlong '/'
  CHECK(check("\xC1\xBF") == fault::malformed);              // overlong
  CHECK(check("\xE0\x80\xAF") == fault::malformed);          // overlong, 3 bytes
  CHECK(check("\xF0\x80\x80\xAF") == fault::malformed);      // overlong, 4 bytes
  CHECK(check("\xC0\x80") == fault::malformed);              // overlong NUL
  CHECK(check("\xED\xA0\x80") == fault::malformed);          // U+D800, a surrogate
  CHECK(check("\xED\xBF\xBF") == fault::malformed);          // U+DFFF
  CHECK(check("\xF4\x90\x80\x80") == fault::malformed);      // U+110000
  CHECK(check("\xF8\x88\x80\x80\x80") == fault::malformed);  // 5-byte form
}

TEST_CASE("canonical_email folds case and compatibility forms to one address", "[text]") {
  CHECK(canonical("Ann.Lee@Example.COM") == "ann.lee@example.com");
  // KELVIN SIGN is a compatibility form of K.
  CHECK(canonical("\xE2\x84\xAA" "ate@example.com") == "kate@example.com");
  // Fullwidth letters and the fullwidth at sign.
  CHECK(canonical("\xEF\xBD\x81nn\xEF\xBC\xA0" "example.com") == "ann@example.com");
  // Full case folding: sharp s is "ss".
  CHECK(canonical("STRA\xC3\x9F" "E@example.com") == "strasse@example.com");
  // Dotted capital I folds to i + COMBINING DOT ABOVE, not to i: another address.
  CHECK(canonical("adm\xC4\xB0n@example.com") == "admi\xCC\x87n@example.com");
  // Composed and decomposed é are one address.
  CHECK(canonical("r\xC3\xA9mi@example.com") == canonical("re\xCC\x81mi@example.com"));
}

TEST_CASE("canonical_email refuses invisible characters and implausible addresses", "[text]") {
  CHECK(email_fault(std::string{"ann@example.com\0", 16}) == fault::nul);
  CHECK(email_fault("ann@example.com\xFF") == fault::malformed);
  CHECK(email_fault("an\xE2\x80\x8Bn@example.com") == fault::invisible);  // zero-width space
  CHECK(email_fault("an\xC2\xADn@example.com") == fault::invisible);      // soft hyphen
  CHECK(email_fault("an\xE2\x80\x8Dn@example.com") == fault::invisible);  // zero-width joiner
  CHECK(email_fault("\xE2\x80\xAE" "ann@example.com") == fault::invisible);  // RLO
  CHECK(email_fault("an\xE3\x85\xA4n@example.com") == fault::invisible);  // HANGUL FILLER
  CHECK(email_fault("ann@exa\xEF\xBB\xBFmple.com") == fault::invisible);  // BOM
  CHECK(email_fault("ann @example.com") == fault::invisible);
  CHECK(email_fault("ann\xC2\xA0@example.com") == fault::invisible);      // NBSP
  CHECK(email_fault("ann\t@example.com") == fault::invisible);
  CHECK(email_fault("a\xC2\xA8@example.com") == fault::invisible);        // NFKC: " " + U+0308
  CHECK(email_fault("") == fault::not_email);
  CHECK(email_fault("ann") == fault::not_email);
  CHECK(email_fault("@example.com") == fault::not_email);
  CHECK(email_fault("ann@localhost") == fault::not_email);
  CHECK(email_fault("ann@example..com") == fault::not_email);
  CHECK(email_fault("ann@example.com.") == fault::not_email);
  CHECK(email_fault("a@b@example.com") == fault::not_email);
  CHECK(email_fault("ann\xEF\xBC\xA0x\xEF\xBC\xA0y.com") == fault::not_email);  // two @ once folded
  CHECK(email_fault(std::string(65, 'a') + "@example.com") == fault::not_email);
  CHECK(canonical(std::string(64, 'a') + "@example.com").size() == 76);
  auto longest = std::string(64, 'a') + "@" + std::string(251, 'b') + ".com";  // 320 bytes
  CHECK(canonical(longest) == longest);
  CHECK(email_fault(longest + "m") == fault::not_email);  // a domain of 256 bytes
}

TEST_CASE("check_name needs a visible character and refuses controls and bidi overrides",
          "[text]") {
  CHECK(check_name("Ann") == fault::none);
  CHECK(check_name(" Ann Lee ") == fault::none);
  CHECK(check_name("\xE6\x9D\x8E") == fault::none);                          // 李
  CHECK(check_name("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB") == fault::none);  // ZWJ emoji
  CHECK(check_name("O'Brien-Smith") == fault::none);
  CHECK(check_name("\xD9\x85\xD8\xAD\xD9\x85\xD8\xAF") == fault::none);      // Arabic
  CHECK(check_name(std::string{"A\0", 2}) == fault::nul);
  CHECK(check_name("A\xC3") == fault::malformed);
  CHECK(check_name("Ann\nLee") == fault::control);
  CHECK(check_name("Ann\tLee") == fault::control);
  CHECK(check_name("Ann\x7F") == fault::control);
  CHECK(check_name("Ann\xC2\x85") == fault::control);                        // NEL, C1
  CHECK(check_name("\xE2\x80\xAE" "nnA") == fault::bidi);                    // U+202E RLO
  CHECK(check_name("Ann\xE2\x80\xAA") == fault::bidi);                       // U+202A
  CHECK(check_name("Ann\xE2\x81\xA6") == fault::bidi);                       // U+2066 LRI
  CHECK(check_name("Ann\xE2\x81\xA9") == fault::bidi);                       // U+2069 PDI
  CHECK(check_name("") == fault::blank);
  CHECK(check_name("   ") == fault::blank);
  CHECK(check_name("\xE2\x80\x8B\xE2\x80\x8B") == fault::blank);             // zero-width spaces
  CHECK(check_name("\xC2\xAD") == fault::blank);                             // soft hyphen
  CHECK(check_name("\xE3\x85\xA4") == fault::blank);                         // HANGUL FILLER
  CHECK(check_name("\xE2\xA0\x80") == fault::blank);                         // BRAILLE BLANK
  CHECK(check_name("\xE3\x80\x80\xC2\xA0") == fault::blank);                 // ideographic space, NBSP
  CHECK(check_name("\xCC\x81") == fault::blank);                             // a lone combining mark
}

TEST_CASE("length counts code points, not bytes", "[text]") {
  CHECK(tandem::text::length("") == 0);
  CHECK(tandem::text::length("abc") == 3);
  CHECK(tandem::text::length("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == 3);  // é € 😀
  CHECK(tandem::text::length(std::string(512, 'x')) == 512);
}

TEST_CASE("trim drops the given blanks at both ends only", "[text]") {
  using tandem::text::trim;
  CHECK(trim("  a b \t") == "a b");
  CHECK(trim("\v\f\r\n a\n") == "a");
  CHECK(trim(" \t\r\n\v\f").empty());
  CHECK(trim("").empty());
  CHECK(trim("\va\v", tandem::text::http_space) == "\va\v");
  CHECK(trim(" \ta\t ", tandem::text::http_space) == "a");
}

TEST_CASE("deliverable_email takes 254 bytes and refuses 255", "[text]") {
  using tandem::text::deliverable_email;
  // 64 + 1 + 63 + 1 + 63 + 1 + 61 = 254 bytes, every label at its limit of 63 or under.
  auto address = std::string(64, 'a') + "@" + std::string(63, 'b') + "." + std::string(63, 'c')
                 + "." + std::string(61, 'd');
  REQUIRE(address.size() == 254);
  CHECK(deliverable_email(address));
  CHECK_FALSE(deliverable_email(address + "d"));
  CHECK_FALSE(deliverable_email("a@" + std::string(64, 'b') + ".com"));  // a label of 64
  CHECK(deliverable_email("a@" + std::string(63, 'b') + ".com"));
  // Every deliverable address has the shape canonical_email asks for.
  fault why = fault::none;
  CHECK(canonical_email(address, why));
}
