// The invitation mail as the SMTP worker sends it (no server needed; tests/e2e/test_email.py
// sends it to a real one).
#include "persistence/smtp.hpp"

#include <catch2/catch.hpp>

#include <sodium.h>

#include <sstream>

using namespace tandem;

namespace {

std::string decode_base64(const std::string& text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  REQUIRE(sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                            text.size(), "\r\n", &len, nullptr, sodium_base64_VARIANT_ORIGINAL)
          == 0);
  out.resize(len);
  return out;
}

} // namespace

TEST_CASE("an invitation mail has plain headers, an encoded subject and a base64 body",
          "[smtp]") {
  // Fifty two-byte letters each: the subject needs several encoded words.
  outbox_email e{42, {}, "Lee", "friend@example.com", 1};
  for (int i = 0; i < 50; ++i)
    e.sender_first_name += "\xC3\xA9";  // é
  auto mail = persistence::compose_invitation(e, "invite@tandem.test",
                                              std::chrono::system_clock::from_time_t(0));
  auto head_end = mail.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  auto head = mail.substr(0, head_end + 2);
  CHECK_THAT(head, Catch::Contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
  CHECK_THAT(head, Catch::Contains("From: <invite@tandem.test>\r\n"));
  CHECK_THAT(head, Catch::Contains("To: <friend@example.com>\r\n"));
  CHECK_THAT(head, Catch::Contains("Message-ID: <invitation-42@tandem.test>\r\n"));
  CHECK_THAT(head, Catch::Contains("Content-Transfer-Encoding: base64\r\n"));
  // The subject: encoded words of at most 75 characters, folded, that decode to the
  // text without a character cut in two.
  auto subject_at = head.find("Subject: ");
  auto subject_end = head.find("\r\nMessage-ID");
  std::istringstream folded{head.substr(subject_at + 9, subject_end - subject_at - 9)};
  std::string decoded;
  int words = 0;
  for (std::string line; std::getline(folded, line);) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.front() == ' ')
      line.erase(0, 1);
    INFO(line);
    CHECK(line.size() <= 75);
    REQUIRE(line.rfind("=?UTF-8?B?", 0) == 0);
    REQUIRE(line.size() > 12);
    auto part = decode_base64(line.substr(10, line.size() - 12));
    CHECK((static_cast<unsigned char>(part.front()) & 0xC0) != 0x80);
    decoded += part;
    ++words;
  }
  CHECK(words >= 3);
  CHECK(decoded == e.sender_first_name + " Lee invites you to Tandem");
  // Body lines of at most 76 characters.
  std::istringstream body{mail.substr(head_end + 4)};
  std::string b64;
  for (std::string line; std::getline(body, line);) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    CHECK(line.size() <= 76);
    b64 += line;
  }
  CHECK_THAT(decode_base64(b64), Catch::StartsWith(e.sender_first_name + " Lee invites you"));
}
