// Every route's handler with a hostile request: the JSON body decoders (profiles,
// domain lists, friendships, shares, read receipts, conversations, auth, e-mail), the
// path parameters and the query strings, in the context the server calls them in.
// The input is `METHOD TARGET`, a newline, then the body. The request is signed in as
// one user; the actors behind the handlers are stand-ins that drop what they get (a
// request is answered with an error) under the deterministic scheduler. Every handler
// must answer, with a JSON body when it says application/json.
#include "auth/external_identities.hpp"
#include "wire/polled_views.hpp"
#include "fuzz/fuzz_support.hpp"
#include "http/routes.hpp"

#include <cstdlib>

namespace {

using namespace tandem;

constexpr const char* hs256_key = "fuzz-hs256-key-0123456789abcdef-0123456789abcdef";

struct fixture {
  config::app_config cfg;
  http::metrics stats;
  std::shared_ptr<const token_service> tokens;
  std::unique_ptr<http::router> table;

  fixture() {
    auto& sys = tandem_fuzz::deterministic_system::instance().sys;
    token_settings ts;
    ts.key = hs256_key;
    ts.issuer = "tandem";
    ts.audience = "tandem-clients";
    tokens = std::make_shared<token_service>(ts);
    auto peer = sys.spawn(tandem_fuzz::dropping_peer);
    auto as = [&](auto handle) { return caf::actor_cast<decltype(handle)>(peer); };
    http::services svc{sys,
                       cfg,
                       as(persistence::db_actor{}),
                       as(persistence::redis_actor{}),
                       stats,
                       tokens,
                       std::make_shared<external_identity_map>(sys, as(persistence::db_actor{}), 16,
                                                               std::chrono::seconds(1)),
                       as(accounts_actor{}),
                       as(persistence::media_actor{}),
                       std::make_shared<http::media_url_signer>(hs256_key, "http://127.0.0.1:8080",
                                                                "127.0.0.1",
                                                                std::chrono::seconds(3600)),
                       as(user_registry_actor{}),
                       std::make_shared<polled_views>(),
                       as(conversation_registry_actor{})};
    table = std::make_unique<http::router>(http::make_routes(svc));
  }
};

fixture& the_fixture() {
  static auto* f = new fixture;
  return *f;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto& f = the_fixture();
  auto& ds = tandem_fuzz::deterministic_system::instance();
  auto text = tandem_fuzz::text_of(data, size);
  auto nl = text.find('\n');
  auto line = text.substr(0, nl);
  auto space = line.find(' ');
  if (nl == std::string::npos || space == std::string::npos)
    return 0;
  http::request req;
  req.method = line.substr(0, space);
  auto target = line.substr(space + 1);
  auto qpos = target.find('?');
  auto raw_path = target.substr(0, qpos);
  auto match = f.table->match(req.method, raw_path);
  if (match.kind != http::router::match_result::found)
    return 0;
  if (qpos != std::string::npos)
    req.query = http::parse_query(target.substr(qpos + 1));
  req.path = http::percent_decode(raw_path, false).value_or(raw_path);
  req.params = std::move(match.params);
  req.body = text.substr(nl + 1);
  req.request_id = "fuzz";
  req.remote_address = "127.0.0.1";
  req.headers = {{"authorization", "Bearer " + f.tokens->issue({"fuzz-user", "fuzz@example.com"}, "fuzz-session").token},
                 {"content-type", "application/json"}};
  auto answers = std::make_shared<std::vector<http::response>>();
  match.matched->fn(req, [answers](http::response res) { answers->push_back(std::move(res)); });
  // Actors still waiting for an answer get their timeouts, round after round.
  ds.sched.run();
  for (int round = 0; round < 8 && ds.sched.trigger_timeouts() > 0; ++round)
    ds.sched.run();
  if (answers->empty())
    std::abort();  // a request that is never answered
  const auto& res = answers->front();
  if (res.content_type == "application/json" && !res.body.empty()
      && nlohmann::json::parse(res.body, nullptr, false).is_discarded())
    std::abort();  // a JSON answer the client cannot parse
  return 0;
}
