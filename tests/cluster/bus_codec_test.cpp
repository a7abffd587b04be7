// The bus codec (cluster/bus_codec.hpp): every type of the tandem type-id block
// round-trips with a value in every field, what may not cross nodes is refused, and
// garbled bytes fail cleanly.
#include "cluster/bus_codec.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <type_traits>
#include <vector>

using namespace tandem;
using namespace tandem::cluster;

namespace {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<caf::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

/// Gives every field of a value of the vocabulary a value unlike its default: numbers
/// count up from 41, strings are "sample-N", booleans true, enums their second value,
/// optionals set, vectors two elements long; nested structs the same way, through
/// their inspect(). A field of a kind it does not know (an actor handle, a pointer)
/// stops the build: such a type could not cross nodes.
struct sample_filler {
  using result_type = void;
  static constexpr bool reads_state = false;
  static constexpr bool writes_state = true;

  int counter = 40;
  int fields = 0;

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (fill(xs), ...);
  }

  template <class T>
  void fill(T& x) {
    using U = std::remove_const_t<T>;
    if constexpr (caf::meta::is_annotation<U>::value) {
      return;
    } else if constexpr (std::is_same_v<U, bool>) {
      x = true;
      ++fields;
    } else if constexpr (std::is_enum_v<U>) {
      x = static_cast<U>(1);
      ++fields;
    } else if constexpr (std::is_arithmetic_v<U>) {
      x = static_cast<U>(++counter);
      ++fields;
    } else if constexpr (std::is_same_v<U, std::string>) {
      x = "sample-" + std::to_string(++counter);
      ++fields;
    } else if constexpr (std::is_same_v<U, caf::timespan>) {
      x = caf::timespan{++counter * 1000};
      ++fields;
    } else if constexpr (is_optional<U>::value) {
      x = typename U::type{};
      fill(*x);
    } else if constexpr (is_vector<U>::value) {
      x.resize(2);
      for (auto& element : x)
        fill(element);
    } else {
      static_assert(std::is_class_v<U> && !caf::is_actor_handle<U>::value
                      && !std::is_same_v<U, caf::strong_actor_ptr>,
                    "a vocabulary type holds something that cannot cross nodes");
      inspect(*this, x);
    }
  }
};

template <class T>
caf::message sample_of(int& fields) {
  T value{};
  sample_filler filler;
  filler.fill(value);
  fields = filler.fields;
  return caf::make_message(std::move(value));
}

struct block_entry {
  std::string name;
  caf::message sample;
  caf::message default_value;
  int fields = 0;
};

template <caf::type_id_t... Is>
std::vector<block_entry> block_entries(std::integer_sequence<caf::type_id_t, Is...>) {
  std::vector<block_entry> out;
  (
    [&] {
      constexpr auto id = caf::id_block::tandem::begin + Is;
      using type = typename caf::type_by_id<id>::type;
      block_entry entry;
      entry.name = caf::type_name_by_id<id>::value;
      entry.sample = sample_of<type>(entry.fields);
      entry.default_value = caf::make_message(type{});
      out.push_back(std::move(entry));
    }(),
    ...);
  return out;
}

/// Every type of the tandem block, straight from the block: a type added to the block is
/// in this list by construction, and one the filler cannot fill does not compile.
std::vector<block_entry> every_block_type() {
  using block = caf::id_block::tandem;
  return block_entries(std::make_integer_sequence<caf::type_id_t, block::end - block::begin>{});
}

/// Inspectable, so a message may hold it, but in no type-id block.
struct unregistered {
  int x = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unregistered& x) {
  return f(x.x);
}

struct codec_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  bus_codec codec{sys};

  static caf::actor_system_config& init(caf::actor_system_config& c) {
    add_message_types(c);
    c.set("scheduler.max-threads", 1);
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }

  envelope sample_envelope(caf::message payload) {
    envelope x;
    x.kind = envelope_kind::request;
    x.sender = node_identity{"node-a", 1234567890123};
    x.addressed_incarnation = 987654321;
    x.request_id = 77;
    x.endpoint = "users";
    x.payload = std::move(payload);
    return x;
  }

  std::string valid_bytes() {
    user_card card;
    card.user_id = "u";
    card.first_name = "Ada";
    card.profile_image_extension = std::string{"png"};
    auto bytes = codec.encode(
      sample_envelope(caf::make_message(atom::get_profile_v, std::string{"user-1"}, card)));
    REQUIRE(bytes);
    return *bytes;
  }
};

} // namespace

TEST_CASE_METHOD(codec_fixture, "every type of the tandem type-id block round-trips through the "
                                "bus codec with every field set",
                 "[bus]") {
  auto entries = every_block_type();
  REQUIRE(entries.size() == caf::id_block::tandem::end - caf::id_block::tandem::begin);
  std::set<std::string> names;
  for (auto& entry : entries) {
    INFO("type " << entry.name);
    names.insert(entry.name);
    CHECK(entry.fields > 0);
    CHECK(caf::deep_to_string(entry.sample) != caf::deep_to_string(entry.default_value));
    auto bytes = codec.encode(sample_envelope(entry.sample));
    REQUIRE(bytes);
    auto back = codec.decode(*bytes);
    REQUIRE(back);
    CHECK(back->kind == envelope_kind::request);
    CHECK(back->sender == (node_identity{"node-a", 1234567890123}));
    CHECK(back->addressed_incarnation == 987654321);
    CHECK(back->request_id == 77);
    CHECK(back->endpoint == "users");
    REQUIRE(back->payload.size() == 1);
    CHECK(back->payload.type(0) == entry.sample.type(0));
    CHECK(caf::deep_to_string(back->payload) == caf::deep_to_string(entry.sample));
  }
  // The names are the block's own (no two types share one).
  CHECK(names.size() == entries.size());
  CHECK(names.count("tandem::node_identity") == 1);
}

TEST_CASE_METHOD(codec_fixture, "plain values and atoms round-trip, and so does an empty message",
                 "[bus]") {
  auto payload = caf::make_message(atom::send_message_v, int64_t{-5}, uint8_t{200}, true, 2.5,
                                   std::string{"a\0b", 3},
                                   std::vector<std::string>{"x", "y"},
                                   caf::timespan{std::chrono::milliseconds{1500}});
  for (auto kind : {envelope_kind::one_way, envelope_kind::request, envelope_kind::reply,
                    envelope_kind::error_reply}) {
    auto x = sample_envelope(payload);
    x.kind = kind;
    auto back = codec.decode(*codec.encode(x));
    REQUIRE(back);
    CHECK(back->kind == kind);
    CHECK(caf::deep_to_string(back->payload) == caf::deep_to_string(payload));
    CHECK(back->payload.match_elements<atom::send_message, int64_t, uint8_t, bool, double,
                                       std::string, std::vector<std::string>, caf::timespan>());
  }
  auto empty = codec.decode(*codec.encode(sample_envelope(caf::message{})));
  REQUIRE(empty);
  CHECK(empty->payload.empty());
}

TEST_CASE_METHOD(codec_fixture, "actor handles, nested messages and unregistered types are "
                                "refused at the sender",
                 "[bus]") {
  auto actor = sys.spawn([] { return caf::behavior{[](int) {}}; });
  using typed = caf::typed_actor<caf::reacts_to<int>>;
  auto typed_actor = sys.spawn([]() -> typed::behavior_type { return {[](int) {}}; });
  std::vector<std::pair<std::string, caf::message>> refused{
    {"caf::actor", caf::make_message(atom::open_connection_v, actor)},
    {"typed actor", caf::make_message(typed_actor)},
    {"strong_actor_ptr", caf::make_message(caf::actor_cast<caf::strong_actor_ptr>(actor))},
    {"actor_addr", caf::make_message(actor.address())},
    {"nested message", caf::make_message(1, caf::make_message(2))},
    {"error", caf::make_message(caf::make_error(errc::moved))},
    {"unregistered", caf::make_message(std::string{"ok"}, unregistered{})},
  };
  for (auto& [what, payload] : refused) {
    INFO(what);
    auto check = codec.check_payload(payload);
    CHECK(code_of(check) == errc::invalid_request);
    CHECK_THAT(describe(check), Catch::Contains("cannot cross nodes"));
    auto bytes = codec.encode(sample_envelope(payload));
    REQUIRE_FALSE(bytes);
    CHECK(code_of(bytes.error()) == errc::invalid_request);
  }
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(typed_actor, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(codec_fixture, "an error reply keeps the error's category, code and text",
                 "[bus]") {
  auto err = caf::make_error(errc::not_found, "no such user");
  auto back = bus_codec::error_of(bus_codec::error_payload(err));
  CHECK(code_of(back) == errc::not_found);
  CHECK(describe(back) == describe(err));
  auto system_error = bus_codec::error_of(bus_codec::error_payload(caf::sec::request_timeout));
  CHECK(system_error.category() == caf::atom("system"));
  CHECK(system_error.code() == static_cast<uint8_t>(caf::sec::request_timeout));
  CHECK(code_of(bus_codec::error_of(caf::make_message(1, 2))) == errc::internal);
}

TEST_CASE_METHOD(codec_fixture, "every truncation of a valid envelope fails cleanly", "[bus]") {
  auto bytes = valid_bytes();
  REQUIRE(codec.decode(bytes));
  for (size_t n = 0; n < bytes.size(); ++n) {
    INFO("first " << n << " bytes");
    auto result = codec.decode(bytes.substr(0, n));
    REQUIRE_FALSE(result);
    CHECK(code_of(result.error()) == errc::invalid_request);
  }
  auto trailing = codec.decode(bytes + "x");
  REQUIRE_FALSE(trailing);
  CHECK_THAT(describe(trailing.error()), Catch::Contains("after the last element"));
}

TEST_CASE_METHOD(codec_fixture, "foreign versions, kinds, counts and types are refused",
                 "[bus]") {
  auto bytes = valid_bytes();
  auto version = bytes;
  version[0] = 2;
  CHECK_THAT(describe(codec.decode(version).error()), Catch::Contains("version 2"));
  auto kind = bytes;
  kind[1] = 9;
  CHECK_THAT(describe(codec.decode(kind).error()), Catch::Contains("unknown kind 9"));

  // A hand-made envelope naming "@actor": refused before any value is built.
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  uint8_t v = 1;
  uint8_t k = 1;
  std::string id = "evil";
  int64_t incarnation = 1;
  uint64_t request_id = 0;
  std::string endpoint = "users";
  uint32_t count = 1;
  std::string name = "@actor";
  uint64_t actor_id = 1;
  REQUIRE_FALSE(sink(v, k, id, incarnation, incarnation, request_id, endpoint, count, name,
                     actor_id));
  auto evil = codec.decode(std::string{buf.begin(), buf.end()});
  REQUIRE_FALSE(evil);
  CHECK_THAT(describe(evil.error()), Catch::Contains("'@actor' cannot cross nodes"));

  // A count far beyond the bytes that follow.
  std::vector<char> lie;
  caf::binary_serializer lie_sink{sys, lie};
  count = 4'000'000'000u;
  REQUIRE_FALSE(lie_sink(v, k, id, incarnation, incarnation, request_id, endpoint, count));
  auto lying = codec.decode(std::string{lie.begin(), lie.end()});
  REQUIRE_FALSE(lying);
  CHECK_THAT(describe(lying.error()), Catch::Contains("element count"));
}

TEST_CASE_METHOD(codec_fixture, "random bytes and flipped bytes decode or fail, never crash",
                 "[bus]") {
  std::mt19937 rng{20261207};
  auto bytes = valid_bytes();
  int decoded = 0;
  int failed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string input;
    if (i % 2 == 0) {
      input.resize(rng() % 256);
      for (auto& c : input)
        c = static_cast<char>(rng());
    } else {
      input = bytes;
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips)
        input[rng() % input.size()] = static_cast<char>(rng());
    }
    auto result = codec.decode(input);
    if (result) {
      ++decoded;
      // Whatever decodes is well-formed: it encodes and decodes again to the same.
      auto again = codec.encode(*result);
      REQUIRE(again);
      auto twice = codec.decode(*again);
      REQUIRE(twice);
      CHECK(caf::deep_to_string(twice->payload) == caf::deep_to_string(result->payload));
    } else {
      ++failed;
      CHECK(code_of(result.error()) == errc::invalid_request);
    }
  }
  CHECK(failed > 0);
  CHECK(decoded + failed == 3000);
}
