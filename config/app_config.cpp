#include "config/app_config.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

extern char** environ;

namespace tandem::config {

namespace {

std::string trim(const std::string& s) {
  return std::string{text::trim(s)};
}

template <class Int>
Int parse_int(const std::string& key, const std::string& text, Int min, Int max) {
  long long v = 0;
  auto t = trim(text);
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || p != t.data() + t.size() || t.empty())
    throw config_error(key + ": '" + text + "' is not an integer");
  if (v < static_cast<long long>(min) || v > static_cast<long long>(max))
    throw config_error(key + ": " + t + " is outside " + std::to_string(min) + ".."
                       + std::to_string(max));
  return static_cast<Int>(v);
}

bool parse_bool(const std::string& key, const std::string& text) {
  auto t = text::ascii_lower(trim(text));
  if (t == "true" || t == "1" || t == "yes" || t == "on")
    return true;
  if (t == "false" || t == "0" || t == "no" || t == "off")
    return false;
  throw config_error(key + ": '" + text + "' is not a boolean (true/false)");
}

std::string parse_choice(const std::string& key, const std::string& text,
                         std::initializer_list<const char*> choices) {
  auto t = trim(text);
  for (auto c : choices)
    if (t == c)
      return t;
  std::string all;
  for (auto c : choices)
    all += (all.empty() ? "" : ", ") + std::string{c};
  throw config_error(key + ": '" + text + "' is not one of " + all);
}

std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ','))
    if (auto t = trim(item); !t.empty())
      out.push_back(t);
  return out;
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ",") + x;
  return out;
}

/// One configuration key: how to set it from text and how to show it.
struct key_spec {
  const char* name;
  const char* help;
  std::function<void(app_config&, const std::string&)> set;
  std::function<std::string(const app_config&)> show;
};

template <class Int>
key_spec int_key(const char* name, const char* help, Int min, Int max,
                 Int* (*field)(app_config&)) {
  return {name, help,
          [=](app_config& c, const std::string& v) { *field(c) = parse_int<Int>(name, v, min, max); },
          [=](const app_config& c) { return std::to_string(*field(const_cast<app_config&>(c))); }};
}

key_spec string_key(const char* name, const char* help, std::string* (*field)(app_config&),
                    bool allow_empty = false) {
  return {name, help,
          [=](app_config& c, const std::string& v) {
            auto t = trim(v);
            if (t.empty() && !allow_empty)
              throw config_error(std::string{name} + ": must not be empty");
            *field(c) = t;
          },
          [=](const app_config& c) { return *field(const_cast<app_config&>(c)); }};
}

const std::vector<key_spec>& key_table() {
  constexpr int max_ms = 24 * 3600 * 1000;
  constexpr auto max_size = std::size_t{1} << 40;
  static const std::vector<key_spec> keys = {
    {"node.mode", "development or production (production refuses missing or development keys)",
     [](app_config& c, const std::string& v) {
       c.node.mode = parse_choice("node.mode", v, {"development", "production"});
     },
     [](const app_config& c) { return c.node.mode; }},
    {"cluster.enabled", "run as one node of a cluster (true/false)",
     [](app_config& c, const std::string& v) {
       c.cluster.enabled = parse_bool("cluster.enabled", v);
     },
     [](const app_config& c) { return std::string{c.cluster.enabled ? "true" : "false"}; }},
    string_key("cluster.node_id", "this node's unique name (empty: <hostname>-<http.port>)",
               [](app_config& c) { return &c.cluster.node_id; }, true),
    string_key("cluster.advertise_url", "how operators reach this node (empty: http://address:port)",
               [](app_config& c) { return &c.cluster.advertise_url; }, true),
    int_key<int>("cluster.lease_ms", "how long a node's lease lasts", 500, 600000,
                 [](app_config& c) { return &c.cluster.lease_ms; }),
    int_key<int>("cluster.renew_interval_ms", "how often a node renews its lease", 100, 600000,
                 [](app_config& c) { return &c.cluster.renew_interval_ms; }),
    int_key<int>("cluster.fence_after_ms",
                 "a node that has not renewed its lease this long stops serving its keys", 200,
                 600000, [](app_config& c) { return &c.cluster.fence_after_ms; }),
    int_key<int>("cluster.request_timeout_ms", "deadline of every request to another node", 10,
                 600000, [](app_config& c) { return &c.cluster.request_timeout_ms; }),
    int_key<std::size_t>("cluster.bus_message_limit", "bytes of one message between nodes",
                         1024, 64 * 1024 * 1024,
                         [](app_config& c) { return &c.cluster.bus_message_limit; }),
    int_key<std::size_t>("cluster.bus_queue_limit",
                         "messages to other nodes waiting to be published; more are refused", 1,
                         10000000, [](app_config& c) { return &c.cluster.bus_queue_limit; }),
    int_key<int>("cluster.drain_timeout_ms", "SIGTERM: how long handing the node's keys over may take",
                 0, 600000, [](app_config& c) { return &c.cluster.drain_timeout_ms; }),
    int_key<int>("cluster.takeover_limit",
                 "most conversations of a node that left which a node claims at once; the rest "
                 "are claimed as they are used",
                 0, 10000000, [](app_config& c) { return &c.cluster.takeover_limit; }),
    int_key<int>("cluster.sweep_interval_ms",
                 "how often the node releases the keys it still owns that no actor of its holds; "
                 "0: never",
                 0, 3600000, [](app_config& c) { return &c.cluster.sweep_interval_ms; }),
    string_key("auth.jwt_key", "HS256 signing key of access tokens (or auth.jwt_key_file)",
               [](app_config& c) { return &c.auth.jwt_key; }, true),
    string_key("auth.jwt_key_file", "file holding the HS256 signing key",
               [](app_config& c) { return &c.auth.jwt_key_file; }, true),
    string_key("auth.issuer", "iss of issued access tokens", [](app_config& c) { return &c.auth.issuer; }),
    string_key("auth.audience", "aud of issued access tokens",
               [](app_config& c) { return &c.auth.audience; }),
    int_key<int>("auth.access_ttl_s", "access token lifetime in seconds", 1, 7 * 24 * 3600,
                 [](app_config& c) { return &c.auth.access_ttl_s; }),
    int_key<int>("auth.refresh_ttl_s", "refresh token lifetime in seconds", 1, 365 * 24 * 3600,
                 [](app_config& c) { return &c.auth.refresh_ttl_s; }),
    int_key<int>("auth.login_max_failures", "failed logins per email within the window before 429",
                 1, 1000000, [](app_config& c) { return &c.auth.login_max_failures; }),
    int_key<int>("auth.login_max_failures_per_address",
                 "failed logins per client address within the window before 429", 1, 1000000,
                 [](app_config& c) { return &c.auth.login_max_failures_per_address; }),
    int_key<int>("auth.login_window_s", "window of the login throttle in seconds", 1, 7 * 24 * 3600,
                 [](app_config& c) { return &c.auth.login_window_s; }),
    int_key<int>("auth.register_max_per_address",
                 "registrations per client address within the window before 429", 1, 1000000,
                 [](app_config& c) { return &c.auth.register_max_per_address; }),
    int_key<int>("auth.register_window_s", "window of the registration throttle in seconds", 1,
                 7 * 24 * 3600, [](app_config& c) { return &c.auth.register_window_s; }),
    int_key<int>("auth.refreshes_per_hour", "token refreshes per user and hour", 1, 1000000,
                 [](app_config& c) { return &c.auth.refreshes_per_hour; }),
    int_key<int>("auth.refreshes_burst", "token refreshes a user may make in a burst", 1,
                 1000000, [](app_config& c) { return &c.auth.refreshes_burst; }),
    int_key<int>("auth.hasher_threads", "detached argon2id password hashing workers", 1, 64,
                 [](app_config& c) { return &c.auth.hasher_threads; }),
    int_key<std::size_t>("auth.hasher_queue_limit", "queued password hashes before refusing (503)",
                         0, max_size, [](app_config& c) { return &c.auth.hasher_queue_limit; }),
    int_key<int>("auth.hasher_login_reserve",
                 "hashing workers kept for logins: registrations hold at most "
                 "hasher_threads minus this many jobs (at least one)", 0, 64,
                 [](app_config& c) { return &c.auth.hasher_login_reserve; }),
    int_key<int>("auth.argon2_memory_kib", "argon2id memory cost in KiB", 8, 4 * 1024 * 1024,
                 [](app_config& c) { return &c.auth.argon2_memory_kib; }),
    int_key<int>("auth.argon2_iterations", "argon2id time cost", 1, 100,
                 [](app_config& c) { return &c.auth.argon2_iterations; }),
    string_key("auth.external_issuer", "issuer of accepted external RS256 ID tokens (empty: none)",
               [](app_config& c) { return &c.auth.external_issuer; }, true),
    string_key("auth.external_jwks_file", "JWKS file with the external issuer's public keys",
               [](app_config& c) { return &c.auth.external_jwks_file; }, true),
    string_key("auth.external_audience",
               "required aud of external tokens (empty: not checked; production requires it)",
               [](app_config& c) { return &c.auth.external_audience; }, true),
    string_key("auth.external_user_claim",
               "claim of external tokens naming the subject that is mapped to a Tandem user id",
               [](app_config& c) { return &c.auth.external_user_claim; }),
    int_key<std::size_t>("auth.external_identity_cache",
                         "external identity mappings kept in memory (the rest are read from the database)",
                         1, max_size, [](app_config& c) { return &c.auth.external_identity_cache; }),
    int_key<int>("auth.clock_leeway_s", "seconds a token's iat or nbf may lie in the future", 0, 600,
                 [](app_config& c) { return &c.auth.clock_leeway_s; }),
    string_key("media.dir", "directory of the built-in media store (profile images)",
               [](app_config& c) { return &c.media.dir; }),
    string_key("media.url_key", "HMAC key signing media URLs (or media.url_key_file)",
               [](app_config& c) { return &c.media.url_key; }, true),
    string_key("media.url_key_file", "file holding the media URL key",
               [](app_config& c) { return &c.media.url_key_file; }, true),
    string_key("media.public_url", "base URL of signed media URLs (empty: this node's address)",
               [](app_config& c) { return &c.media.public_url; }, true),
    int_key<std::size_t>("media.max_bytes", "largest profile image in bytes", 1, max_size,
                         [](app_config& c) { return &c.media.max_bytes; }),
    int_key<int>("media.url_ttl_s", "lifetime of signed media URLs in seconds", 1, 7 * 24 * 3600,
                 [](app_config& c) { return &c.media.url_ttl_s; }),
    int_key<int>("users.idle_timeout_s",
                 "seconds before an idle user actor without live connections stops", 1,
                 7 * 24 * 3600, [](app_config& c) { return &c.users.idle_timeout_s; }),
    int_key<std::size_t>("users.unread_cache_limit",
                         "unread share notifications a user actor keeps in memory", 0, 100000,
                         [](app_config& c) { return &c.users.unread_cache_limit; }),
    int_key<int>("users.max_pending_requests",
                 "pending friend requests to one user; more: 429", 1, 1000000,
                 [](app_config& c) { return &c.users.max_pending_requests; }),
    int_key<int>("users.max_outgoing_requests",
                 "pending friend requests from one user; more: 429", 1, 1000000,
                 [](app_config& c) { return &c.users.max_outgoing_requests; }),
    int_key<int>("users.request_ttl_s", "seconds until a pending friend request expires", 1,
                 10 * 366 * 24 * 3600, [](app_config& c) { return &c.users.request_ttl_s; }),
    int_key<int>("users.request_purge_interval_s",
                 "seconds between deletions of expired friend requests", 1, 7 * 24 * 3600,
                 [](app_config& c) { return &c.users.request_purge_interval_s; }),
    int_key<int>("users.request_purge_batch",
                 "expired friend requests deleted by one statement", 1, 1000000,
                 [](app_config& c) { return &c.users.request_purge_batch; }),
    int_key<int>("users.max_friends", "accepted friends per user", 1, 1000000,
                 [](app_config& c) { return &c.users.max_friends; }),
    int_key<std::size_t>("users.write_queue_limit",
                         "writes waiting in one user actor before refusing (503)", 1, 100000,
                         [](app_config& c) { return &c.users.write_queue_limit; }),
    int_key<int>("users.shares_per_hour", "share notifications sent per user and hour", 1,
                 1000000, [](app_config& c) { return &c.users.shares_per_hour; }),
    int_key<int>("users.shares_burst", "share notifications a user may send in a burst", 1,
                 1000000, [](app_config& c) { return &c.users.shares_burst; }),
    int_key<int>("users.invitations_max", "e-mail invitations per user within the window",
                 1, 1000000, [](app_config& c) { return &c.users.invitations_max; }),
    int_key<int>("users.invitations_window_s", "window of the invitation budget in seconds", 1,
                 7 * 24 * 3600, [](app_config& c) { return &c.users.invitations_window_s; }),
    string_key("http.address", "address to listen on",
               [](app_config& c) { return &c.http.address; }),
    int_key<uint16_t>("http.port", "port to listen on (0 picks a free one)", 0, 65535,
                      [](app_config& c) { return &c.http.port; }),
    int_key<int>("http.io_threads", "io_context threads serving HTTP and WebSocket", 1, 64,
                 [](app_config& c) { return &c.http.io_threads; }),
    int_key<std::size_t>("http.body_limit", "largest request body in bytes (larger: 413)", 1,
                         max_size, [](app_config& c) { return &c.http.body_limit; }),
    int_key<int>("http.request_timeout_ms", "deadline for the actors answering one request", 1,
                 max_ms, [](app_config& c) { return &c.http.request_timeout_ms; }),
    int_key<int>("http.idle_timeout_ms", "close a keep-alive connection idle this long", 1,
                 max_ms, [](app_config& c) { return &c.http.idle_timeout_ms; }),
    {"http.cors_origins", "allowed Origins, comma separated; * echoes any Origin",
     [](app_config& c, const std::string& v) {
       auto xs = parse_list(v);
       if (xs.empty())
         throw config_error("http.cors_origins: must list at least one origin or *");
       c.http.cors_origins = std::move(xs);
     },
     [](const app_config& c) { return join(c.http.cors_origins); }},
    int_key<int>("http.shutdown_timeout_ms", "time in-flight requests get on SIGTERM", 0, max_ms,
                 [](app_config& c) { return &c.http.shutdown_timeout_ms; }),
    int_key<int>("http.shutdown_delay_ms",
                 "SIGTERM: /readyz answers 503 this long while the node serves on, so the "
                 "balancer takes it out of rotation before it stops (a second signal cuts it short)",
                 0, max_ms, [](app_config& c) { return &c.http.shutdown_delay_ms; }),
    int_key<std::size_t>("http.header_limit",
                         "largest header block, chunk-size line or trailer block in bytes", 1024,
                         max_size, [](app_config& c) { return &c.http.header_limit; }),
    int_key<int>("http.header_timeout_ms", "deadline for a request's headers, from its first byte",
                 1, max_ms, [](app_config& c) { return &c.http.header_timeout_ms; }),
    int_key<int>("http.body_timeout_ms", "deadline for a request's body, and for writing a response",
                 1, max_ms, [](app_config& c) { return &c.http.body_timeout_ms; }),
    int_key<int>("http.max_connections", "open HTTP and WebSocket connections (more: 503)", 1,
                 1000000, [](app_config& c) { return &c.http.max_connections; }),
    int_key<int>("http.linger_timeout_ms",
                 "time a closing connection is drained so the client reads the answer", 0, max_ms,
                 [](app_config& c) { return &c.http.linger_timeout_ms; }),
    int_key<std::size_t>("http.linger_max_bytes", "bytes drained from a closing connection", 0,
                         max_size, [](app_config& c) { return &c.http.linger_max_bytes; }),
    int_key<std::size_t>("ws.frame_limit",
                         "largest inbound WebSocket frame in bytes (larger: error frame)", 1,
                         max_size, [](app_config& c) { return &c.ws.frame_limit; }),
    int_key<int>("ws.max_connections",
                 "WebSocket connections per user; one more closes the oldest (4008)", 1, 1000,
                 [](app_config& c) { return &c.ws.max_connections; }),
    int_key<int>("ws.idle_timeout_s",
                 "close a silent WebSocket after this many seconds (pings at half)", 2, 86400,
                 [](app_config& c) { return &c.ws.idle_timeout_s; }),
    int_key<std::size_t>("ws.send_queue_limit",
                         "frames queued for one WebSocket before closing it (1013)", 1, 1000000,
                         [](app_config& c) { return &c.ws.send_queue_limit; }),
    int_key<int>("ws.rate_per_s", "inbound frames per second per WebSocket", 1, 100000,
                 [](app_config& c) { return &c.ws.rate_per_s; }),
    int_key<int>("ws.rate_burst", "inbound frames a WebSocket may send in a burst", 1, 100000,
                 [](app_config& c) { return &c.ws.rate_burst; }),
    int_key<int>("ws.max_strikes", "bad inbound frames in a row before closing (1008)", 1,
                 100000, [](app_config& c) { return &c.ws.max_strikes; }),
    int_key<int>("ws.inbound_window",
                 "inbound frames read ahead of the connection actor before pausing", 1, 1024,
                 [](app_config& c) { return &c.ws.inbound_window; }),
    int_key<int>("ws.presence_timeout_s",
                 "seconds without heartbeat or update before a user is offline", 1, 86400,
                 [](app_config& c) { return &c.ws.presence_timeout_s; }),
    int_key<int>("ws.write_timeout_ms",
                 "a batch of frames not written within this many ms cuts the WebSocket", 10,
                 max_ms, [](app_config& c) { return &c.ws.write_timeout_ms; }),
    int_key<int>("ws.close_timeout_ms",
                 "a closing WebSocket is cut after this many ms, whatever the peer does", 10,
                 max_ms, [](app_config& c) { return &c.ws.close_timeout_ms; }),
    int_key<int>("ws.presence_per_s",
                 "presence fan-outs per second per user, all sockets together (more: coalesced)",
                 1, 100000, [](app_config& c) { return &c.ws.presence_per_s; }),
    int_key<int>("ws.presence_burst", "presence fan-outs a user may make in a burst", 1, 100000,
                 [](app_config& c) { return &c.ws.presence_burst; }),
    int_key<int>("ws.typing_per_s", "typing frames per second per user (more: shed)", 1, 100000,
                 [](app_config& c) { return &c.ws.typing_per_s; }),
    int_key<int>("ws.typing_burst", "typing frames a user may send in a burst", 1, 100000,
                 [](app_config& c) { return &c.ws.typing_burst; }),
    int_key<int>("ws.receipts_per_s", "read-messages per second per user (more: shed)", 1,
                 100000, [](app_config& c) { return &c.ws.receipts_per_s; }),
    int_key<int>("ws.receipts_burst", "read-messages a user may send in a burst", 1, 100000,
                 [](app_config& c) { return &c.ws.receipts_burst; }),
    int_key<std::size_t>("ws.fanout_backlog",
                         "messages waiting for the user registry beyond which typing is shed", 1,
                         max_size, [](app_config& c) { return &c.ws.fanout_backlog; }),
    int_key<int>("ws.reauth_grace_s",
                 "seconds a WebSocket whose token expired has to re-authenticate before it closes",
                 0, 86400, [](app_config& c) { return &c.ws.reauth_grace_s; }),
    int_key<int>("ws.expiry_notice_s",
                 "seconds before its token expires that a WebSocket is sent token-expiring", 0,
                 86400, [](app_config& c) { return &c.ws.expiry_notice_s; }),
    int_key<std::size_t>("chat.max_message_length", "characters of a chat message, trimmed", 1,
                         100000, [](app_config& c) { return &c.chat.max_message_length; }),
    int_key<int>("chat.rate_per_s", "chat messages per second per user", 1, 100000,
                 [](app_config& c) { return &c.chat.rate_per_s; }),
    int_key<int>("chat.rate_burst", "chat messages a user may send in a burst", 1, 100000,
                 [](app_config& c) { return &c.chat.rate_burst; }),
    int_key<std::size_t>("chat.ring_size", "newest messages a conversation actor keeps", 1,
                         100000, [](app_config& c) { return &c.chat.ring_size; }),
    int_key<std::size_t>("chat.send_queue_limit",
                         "sends waiting in one conversation before refusing", 1, 100000,
                         [](app_config& c) { return &c.chat.send_queue_limit; }),
    int_key<int>("chat.idle_timeout_s", "seconds before an unused conversation actor stops", 1,
                 7 * 24 * 3600, [](app_config& c) { return &c.chat.idle_timeout_s; }),
    int_key<int>("chat.commit_delay_us",
                 "group commit: longest wait for more messages, in microseconds", 0, 1000000,
                 [](app_config& c) { return &c.chat.commit_delay_us; }),
    int_key<std::size_t>("chat.commit_batch", "group commit: most messages per transaction", 1,
                         100000, [](app_config& c) { return &c.chat.commit_batch; }),
    int_key<std::size_t>("chat.writer_queue_limit",
                         "messages waiting for the group commit before refusing", 1, 10000000,
                         [](app_config& c) { return &c.chat.writer_queue_limit; }),
    int_key<int>("chat.conversations_page_max",
                 "conversations per page of GET /conversations, and the page without limit", 1,
                 1000000, [](app_config& c) { return &c.chat.conversations_page_max; }),
    int_key<int>("chat.conversations_per_hour", "new conversations per hour per user", 1,
                 1000000, [](app_config& c) { return &c.chat.conversations_per_hour; }),
    int_key<int>("chat.conversations_burst", "new conversations a user may create in a burst",
                 1, 1000000, [](app_config& c) { return &c.chat.conversations_burst; }),
    int_key<int>("scheduler.threads", "CAF scheduler worker threads", 1, 256,
                 [](app_config& c) { return &c.scheduler.threads; }),
    {"scheduler.policy", "CAF scheduler policy: sharing or stealing",
     [](app_config& c, const std::string& v) {
       c.scheduler.policy = parse_choice("scheduler.policy", v, {"sharing", "stealing"});
     },
     [](const app_config& c) { return c.scheduler.policy; }},
    string_key("db.dsn", "PostgreSQL connection string (libpq format)",
               [](app_config& c) { return &c.db.dsn; }),
    int_key<int>("db.pool_size", "database connections, one detached worker each", 1, 256,
                 [](app_config& c) { return &c.db.pool_size; }),
    int_key<std::size_t>("db.queue_limit", "queued database jobs before refusing (503)", 0,
                         max_size, [](app_config& c) { return &c.db.queue_limit; }),
    int_key<int>("db.statement_timeout_ms", "PostgreSQL statement_timeout", 1, max_ms,
                 [](app_config& c) { return &c.db.statement_timeout_ms; }),
    int_key<int>("db.connect_timeout_ms", "connection attempt timeout", 1000, max_ms,
                 [](app_config& c) { return &c.db.connect_timeout_ms; }),
    int_key<std::size_t>("db.max_expensive_per_user",
                         "a user's expensive reads (searches) waiting or running; more: 429", 1,
                         max_size, [](app_config& c) { return &c.db.max_expensive_per_user; }),
    int_key<int32_t>("db.max_search_offset", "deepest offset of a search; past it: 400", 0,
                     std::numeric_limits<int32_t>::max(),
                     [](app_config& c) { return &c.db.max_search_offset; }),
    string_key("redis.host", "Redis host", [](app_config& c) { return &c.redis.host; }),
    int_key<uint16_t>("redis.port", "Redis port", 1, 65535,
                      [](app_config& c) { return &c.redis.port; }),
    int_key<int>("redis.pool_size", "Redis connections, one detached worker each", 1, 256,
                 [](app_config& c) { return &c.redis.pool_size; }),
    int_key<std::size_t>("redis.queue_limit", "queued Redis commands before refusing (503)", 0,
                         max_size, [](app_config& c) { return &c.redis.queue_limit; }),
    int_key<int>("redis.timeout_ms", "Redis connect and command timeout", 1, max_ms,
                 [](app_config& c) { return &c.redis.timeout_ms; }),
    {"smtp.url",
     "SMTP server of the e-mail outbox: smtp://host:587 or smtps://host:465 (empty: not sent)",
     [](app_config& c, const std::string& v) {
       auto t = trim(v);
       if (!t.empty() && t.rfind("smtp://", 0) != 0 && t.rfind("smtps://", 0) != 0)
         throw config_error("smtp.url: '" + t + "' is not an smtp:// or smtps:// URL");
       c.smtp.url = t;
     },
     [](const app_config& c) { return c.smtp.url; }},
    string_key("smtp.from", "sender address of invitation e-mails (required with smtp.url)",
               [](app_config& c) { return &c.smtp.from; }, true),
    string_key("smtp.username", "SMTP AUTH user name (empty: no AUTH)",
               [](app_config& c) { return &c.smtp.username; }, true),
    string_key("smtp.password", "SMTP AUTH password",
               [](app_config& c) { return &c.smtp.password; }, true),
    {"smtp.starttls", "STARTTLS on smtp:// URLs: required, try or off",
     [](app_config& c, const std::string& v) {
       c.smtp.starttls = parse_choice("smtp.starttls", v, {"required", "try", "off"});
     },
     [](const app_config& c) { return c.smtp.starttls; }},
    string_key("smtp.ca_file", "CA bundle verifying the SMTP server (empty: the system's)",
               [](app_config& c) { return &c.smtp.ca_file; }, true),
    int_key<int>("smtp.timeout_ms", "longest SMTP transaction, connecting included", 100, max_ms,
                 [](app_config& c) { return &c.smtp.timeout_ms; }),
    int_key<int>("smtp.batch", "outbox rows claimed and sent at once", 1, 10000,
                 [](app_config& c) { return &c.smtp.batch; }),
    int_key<int>("smtp.poll_interval_ms", "wait between looks for due outbox rows when idle", 10,
                 max_ms, [](app_config& c) { return &c.smtp.poll_interval_ms; }),
    int_key<int>("smtp.max_attempts", "sends of one e-mail before it is marked failed", 1, 100,
                 [](app_config& c) { return &c.smtp.max_attempts; }),
    int_key<int>("smtp.backoff_base_ms",
                 "first retry delay of an e-mail, doubled per attempt (at most a day)", 1, max_ms,
                 [](app_config& c) { return &c.smtp.backoff_base_ms; }),
    {"log.level", "debug, info, warn or error",
     [](app_config& c, const std::string& v) {
       c.log.level = parse_choice("log.level", v, {"debug", "info", "warn", "error"});
     },
     [](const app_config& c) { return c.log.level; }},
    {"log.requests", "one JSON line per HTTP request (true/false)",
     [](app_config& c, const std::string& v) { c.log.requests = parse_bool("log.requests", v); },
     [](const app_config& c) { return std::string{c.log.requests ? "true" : "false"}; }},
    int_key<int>("log.socket_errors_per_s",
                 "warnings a second about sockets that failed other than by a close (the rest "
                 "are counted on /metrics)",
                 1, 1000000, [](app_config& c) { return &c.log.socket_errors_per_s; }),
  };
  return keys;
}

const key_spec& find_key(const std::string& name, const std::string& origin) {
  for (auto& k : key_table())
    if (name == k.name)
      return k;
  throw config_error(origin + ": unknown configuration key '" + name + "'");
}

std::string env_name(const std::string& key) {
  std::string out = "TANDEM_";
  for (char c : key)
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

void apply_file(app_config& cfg, const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw config_error("cannot read config file '" + path + "'");
  std::string line, section;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    auto where = path + ":" + std::to_string(lineno);
    auto t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';')
      continue;
    if (t.front() == '[') {
      if (t.back() != ']')
        throw config_error(where + ": malformed section header '" + t + "'");
      section = trim(t.substr(1, t.size() - 2));
      continue;
    }
    auto eq = t.find('=');
    if (eq == std::string::npos)
      throw config_error(where + ": expected 'key = value', got '" + t + "'");
    auto key = trim(t.substr(0, eq));
    auto value = trim(t.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    auto full = section.empty() ? key : section + "." + key;
    try {
      find_key(full, where).set(cfg, value);
    } catch (const config_error& e) {
      std::string msg = e.what();
      throw config_error(msg.rfind(where, 0) == 0 ? msg : where + ": " + msg);
    }
  }
}

void apply_env(app_config& cfg, const std::map<std::string, std::string>& env) {
  // Variables of a known section must name a known key (a typo is an error);
  // other TANDEM_* variables (the scripts' and tests' own) are not ours to judge.
  std::vector<std::string> sections;
  for (auto& k : key_table()) {
    std::string name = k.name;
    sections.push_back(env_name(name.substr(0, name.find('.'))) + "_");
  }
  for (auto& entry : env) {
    const auto& var = entry.first;  // not a structured binding: clang 14 cannot capture one
    bool ours = std::any_of(sections.begin(), sections.end(),
                            [&](const std::string& s) { return var.rfind(s, 0) == 0; });
    if (!ours)
      continue;
    auto it = std::find_if(key_table().begin(), key_table().end(),
                           [&](const key_spec& k) { return env_name(k.name) == var; });
    if (it == key_table().end())
      throw config_error("environment: unknown configuration variable " + var);
    try {
      it->set(cfg, entry.second);
    } catch (const config_error& e) {
      throw config_error("environment " + var + ": " + e.what());
    }
  }
}

} // namespace

command_line parse_command_line(const std::vector<std::string>& args,
                                const std::map<std::string, std::string>& env) {
  command_line out;
  std::string config_file;
  std::vector<std::pair<std::string, std::string>> overrides;
  bool have_command = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    auto next_value = [&](const std::string& name) {
      if (i + 1 >= args.size())
        throw config_error("command line: " + name + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      out.command = "help";
      have_command = true;
    } else if (a == "--config" || a.rfind("--config=", 0) == 0) {
      config_file = a == "--config" ? next_value(a) : a.substr(9);
    } else if (a.rfind("--", 0) == 0) {
      auto body = a.substr(2);
      auto eq = body.find('=');
      auto name = body.substr(0, eq);
      find_key(name, "command line");
      overrides.emplace_back(name, eq == std::string::npos ? next_value(a) : body.substr(eq + 1));
    } else if (!have_command && (a == "serve" || a == "migrate" || a == "routes" || a == "help")) {
      out.command = a;
      have_command = true;
    } else {
      throw config_error("command line: unexpected argument '" + a + "' (try --help)");
    }
  }
  if (config_file.empty())
    if (auto it = env.find("TANDEM_CONFIG"); it != env.end() && !it->second.empty())
      config_file = it->second;
  if (!config_file.empty())
    apply_file(out.config, config_file);
  apply_env(out.config, env);
  for (auto& [name, value] : overrides) {
    try {
      find_key(name, "command line").set(out.config, value);
    } catch (const config_error& e) {
      throw config_error(std::string{"command line: "} + e.what());
    }
  }
  // smtp.from goes on the MAIL FROM line and the From: header as it is.
  const auto& smtp = out.config.smtp;
  if (!smtp.url.empty() && smtp.from.empty())
    throw config_error("smtp.url needs smtp.from, the sender address of invitations");
  if (!smtp.from.empty() && !text::deliverable_email(smtp.from))
    throw config_error("smtp.from: '" + smtp.from + "' is not a bare address (name@domain)");
  return out;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    if (auto eq = kv.find('='); eq != std::string::npos)
      out.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return out;
}

std::string describe_keys(const app_config& cfg) {
  std::ostringstream out;
  for (auto& k : key_table()) {
    std::string name = k.name;
    auto value = k.show(cfg);
    auto ends_with = [&](const std::string& tail) {
      return name.size() > tail.size()
             && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
    };
    bool secret = ends_with("_key") || ends_with(".password");
    if (secret && !value.empty())
      value = "(set, not shown)";
    out << "  --" << name << " (" << env_name(name) << ") = " << value << "\n      " << k.help
        << "\n";
  }
  return out.str();
}

} // namespace tandem::config
