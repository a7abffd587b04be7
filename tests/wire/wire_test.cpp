// The one way fields are checked (wire/fields), the one error text policy (wire/errors),
// the chat decoders and shapes (wire/chat_json) and the small helpers of wire_json, each
// at its limits.
#include "wire/chat_json.hpp"
#include "wire/errors.hpp"
#include "wire/fields.hpp"
#include "wire/presence_json.hpp"
#include "wire/ws_frames.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace tandem;
using namespace tandem::wire;

namespace {

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

json group_body(const std::string& title) {
  return {{"recipientIdArr", {"bob", "cid"}}, {"isGroup", true}, {"title", title}};
}

} // namespace

TEST_CASE("text_field checks presence, type, display text and length in characters",
          "[wire]") {
  json body{{"name", "Ada"}, {"n", 5}, {"long", repeat("\xC3\xA9", 50)},
            {"ctl", "A\x01"}, {"blank", "   "}};
  text_rule name{1, 50, true};
  auto ok = text_field(body, "name", name);
  REQUIRE(ok);
  CHECK(*ok.value == "Ada");
  CHECK(text_field(body, "none", name).fault == field_fault::missing);
  CHECK(text_field(body, "n", name).fault == field_fault::not_string);
  CHECK(text_field(body, "long", name));                        // 50 characters, 100 bytes
  CHECK(text_field(body, "long", {1, 49, true}).fault == field_fault::length);
  auto ctl = text_field(body, "ctl", name);
  CHECK(ctl.fault == field_fault::bad_text);
  CHECK(ctl.text == text::fault::control);
  CHECK(text_field(body, "ctl", {0, 50}));                      // any text: no display rule
  CHECK(text_field(body, "blank", name).fault == field_fault::length);
  CHECK(fits(std::string(limits::user_id, 'u'), user_id_rule));
  CHECK_FALSE(fits(std::string(limits::user_id + 1, 'u'), user_id_rule));
  CHECK_FALSE(fits("", user_id_rule));
}

TEST_CASE("required_text words its faults as the user and auth routes do", "[wire]") {
  std::string detail;
  json body{{"url", 5}, {"id", std::string(limits::user_id + 1, 'x')}};
  CHECK_FALSE(required_text(body, "url", {}, detail));
  CHECK(detail == "url is required and must be a string");
  CHECK_FALSE(required_text(body, "title", {}, detail));
  CHECK(detail == "title is required and must be a string");
  CHECK_FALSE(required_text(body, "id", user_id_rule, detail));
  CHECK(detail == "id must be 1 to 128 characters");
  CHECK_FALSE(required_text(body, "id", {0, 10}, detail));
  CHECK(detail == "id must be at most 10 characters");
}

TEST_CASE("client_detail shows our own 4xx sentences and nothing internal", "[wire]") {
  CHECK(client_detail(caf::make_error(errc::forbidden, "Not a participant of this conversation"))
        == "Not a participant of this conversation");
  // A bare word is an operation name, never shown.
  CHECK(client_detail(caf::make_error(errc::invalid_request, "load_user")) == "Invalid request");
  CHECK(client_detail(caf::make_error(errc::forbidden)) == "Forbidden");
  // A 5xx never shows its context, whatever it says.
  CHECK(client_detail(caf::make_error(errc::db_query_failed, "relation users is gone"))
        == "Internal server error");
  CHECK(client_detail(caf::make_error(errc::overloaded, "queue is full at 1000"))
        == "Service temporarily unavailable; try again later");
  CHECK(client_detail(caf::make_error(caf::sec::request_timeout)) == "Timed out; try again later");
  CHECK(client_detail(caf::make_error(errc::storage_full))
        == "The media store is full; try again later");
  CHECK(client_detail(caf::make_error(caf::sec::unexpected_message)) == "Internal server error");
}

TEST_CASE("a group title takes limits::title characters once trimmed", "[wire][chat]") {
  std::string detail;
  auto at_limit = decode_new_conversation(group_body(" " + repeat("\xC3\xA9", 512) + "\t"),
                                          "ann", detail);
  REQUIRE(at_limit);
  CHECK(at_limit->title == repeat("\xC3\xA9", 512));
  CHECK(at_limit->recipients == std::vector<std::string>{"bob", "cid"});
  CHECK_FALSE(decode_new_conversation(group_body(repeat("\xC3\xA9", 513)), "ann", detail));
  CHECK(detail == "Invalid parameter 'title'");
  CHECK_FALSE(decode_new_conversation(group_body("a\xE2\x80\xAE" "b"), "ann", detail));
  CHECK(detail == "title must not contain bidirectional override or isolate characters");
  CHECK_FALSE(decode_new_conversation({{"isGroup", true}, {"title", "t"}}, "ann", detail));
  CHECK(detail == "Missing 'recipientIdArr' in event body");
}

TEST_CASE("a conversation names at most limits::recipients users of limits::user_id characters",
          "[wire][chat]") {
  std::string detail;
  auto ids = json::array();
  for (std::size_t i = 0; i < limits::recipients; ++i)
    ids.push_back("u" + std::to_string(i));
  json body{{"recipientIdArr", ids}, {"isGroup", true}, {"title", "t"}};
  CHECK(decode_new_conversation(body, "ann", detail));
  body["recipientIdArr"].push_back("one more");
  CHECK_FALSE(decode_new_conversation(body, "ann", detail));
  CHECK(detail == "Invalid parameter 'recipientIdArr'");
  json direct{{"recipientIdArr", {repeat("\xC3\xA9", limits::user_id)}}, {"isGroup", false},
              {"title", ""}};
  CHECK(decode_new_conversation(direct, "ann", detail));
  direct["recipientIdArr"][0] = repeat("\xC3\xA9", limits::user_id + 1);
  CHECK_FALSE(decode_new_conversation(direct, "ann", detail));
}

TEST_CASE("message queries page by seq up to limits::message_page or by offset", "[wire][chat]") {
  std::string detail;
  auto q = decode_message_query({{"after_seq", "7"}, {"limit", "100"}}, detail);
  REQUIRE(q);
  CHECK((q->mode == message_query::after_seq && q->seq == 7 && q->limit == 100));
  q = decode_message_query({{"before_seq", "7"}, {"limit", "101"}}, detail);
  REQUIRE(q);
  CHECK(q->limit == limits::message_page);
  CHECK_FALSE(decode_message_query({{"limit", "10"}}, detail));
  CHECK(detail == "Missing 'offset' in event parameter");
  CHECK_FALSE(decode_message_query({{"limit", "10"}, {"offset", "-1"}}, detail));
  CHECK(detail == "Invalid parameter 'offset'");
  CHECK_FALSE(decode_message_query({{"limit", "10"}, {"offset", "0"}, {"order", "up"}}, detail));
  CHECK(detail == "Invalid parameter 'order'");
}

TEST_CASE("count_of takes plain decimal digits within the type, lowered to max", "[wire]") {
  CHECK(count_of<int32_t>("0", 5) == 0);
  CHECK(count_of<int32_t>("7", 5) == 5);
  CHECK(count_of<int32_t>("2147483647", INT32_MAX) == INT32_MAX);
  CHECK_FALSE(count_of<int32_t>("2147483648", INT32_MAX));
  for (auto bad : {"", "-1", "-0", "+1", "1.0", " 1", "1x"})
    CHECK_FALSE(count_of<int32_t>(bad, INT32_MAX));
}

TEST_CASE("canonical_uuid takes the dashed form in any case, only", "[wire]") {
  CHECK(canonical_uuid("0A0B0C0D-0000-4000-8000-00000000000F")
        == std::optional<std::string>{"0a0b0c0d-0000-4000-8000-00000000000f"});
  for (auto bad : {"", "{0a0b0c0d-0000-4000-8000-00000000000f}",
                   "0a0b0c0d000040008000000000000000000f", "0a0b0c0d00000-4000-8000-00000000000f",
                   "0a0b0c0d-0000-4000-8000-00000000000g", "0a0b0c0d-0000-4000-8000-00000000000"})
    CHECK_FALSE(canonical_uuid(bad));
}

TEST_CASE("a chat message has one shape over REST and in the new-message frame",
          "[wire][chat]") {
  chat_message m{"c1", 3, "m1", "ann", "hello", "2026-01-01T00:00:00.000Z", "temp-1"};
  auto rest = message_json(m);
  CHECK(rest == json{{"messageId", "m1"}, {"conversationId", "c1"}, {"sentAt", m.sent_at},
                     {"senderId", "ann"}, {"content", "hello"}, {"seq", 3}});
  auto frame = json::parse(frames::new_message(m).frame->text);
  CHECK(frame["type"] == "new-message");
  CHECK(frame["tempMessageId"] == "temp-1");
  frame.erase("type");
  frame.erase("tempMessageId");
  CHECK(frame == rest);
}

TEST_CASE("a page has one domain rule in P1 and in update-presence", "[wire]") {
  page_info page{"https://www.pagenow.io/x", "t"};
  CHECK(page_json(page)["domain"] == "pagenow.io");
  CHECK(page_json({"http://127.0.0.1/", "t"})["domain"].is_null());
  auto frame = json::parse(frames::update_presence("ann", page, caf::none).frame->text);
  CHECK(frame["domain"] == page_json(page)["domain"]);
  CHECK(frame["latestDomain"] == "");
}
