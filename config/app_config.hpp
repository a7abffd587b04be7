// Tandem's configuration: plain structs with their built-in defaults, and the
// loader that layers defaults < config file < TANDEM_* environment < command line.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace tandem::config {

struct http_config {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;
  int io_threads = 1;                      // one io thread measured fastest on 2 cores
  std::size_t body_limit = 1024 * 1024;    // bytes; larger bodies get 413
  int request_timeout_ms = 5000;           // deadline for the actors answering a request
  int idle_timeout_ms = 60000;             // keep-alive connection without a request
  std::vector<std::string> cors_origins = {"*"};  // "*" echoes any Origin
  int shutdown_timeout_ms = 10000;         // in-flight requests get this long on SIGTERM
  int shutdown_delay_ms = 0;               // SIGTERM: /readyz fails this long before stopping
  std::size_t header_limit = 16 * 1024;    // bytes of a header block, chunk line or trailers
  int header_timeout_ms = 10000;           // a request's headers must arrive within this
  int body_timeout_ms = 30000;             // a request's body (and a response's write) within this
  int max_connections = 1000;              // open HTTP + WebSocket connections; more: 503
  int linger_timeout_ms = 2000;            // drain a closing connection at most this long...
  std::size_t linger_max_bytes = 8 * 1024 * 1024;  // ...and at most this many bytes
};

struct ws_config {
  std::size_t frame_limit = 16 * 1024;     // bytes per inbound frame; larger: error frame
  int max_connections = 8;                 // sockets per user; one more closes the oldest
  int idle_timeout_s = 60;                 // silent socket closed; server pings at half of it
  std::size_t send_queue_limit = 256;      // frames queued per socket before it is closed (1013)
  int rate_per_s = 20;                     // inbound frames per second per socket...
  int rate_burst = 40;                     // ...with this burst
  int max_strikes = 10;                    // bad frames in a row before closing (1008)
  int inbound_window = 8;                  // frames read ahead of the connection actor
  int presence_timeout_s = 180;            // offline after this long without heartbeat/update
  int write_timeout_ms = 10000;            // a batch not written by then: socket cut (slow reader)
  int close_timeout_ms = 3000;             // a closing socket is cut after this, whatever the peer does
  int presence_per_s = 2;                  // presence fan-outs per second per user (all sockets)...
  int presence_burst = 10;                 // ...with this burst; more: coalesced, the latest page wins
  int typing_per_s = 2;                    // typing frames per second per user...
  int typing_burst = 10;                   // ...with this burst; more: shed (error frame)
  int receipts_per_s = 5;                  // read-messages per second per user...
  int receipts_burst = 20;                 // ...with this burst; more: shed (error frame)
  std::size_t fanout_backlog = 100000;     // user-registry mailbox beyond which typing fan-outs are shed
  int reauth_grace_s = 60;                 // past its token's expiry a socket re-authenticates or closes (4001)
  int expiry_notice_s = 60;                // token-expiring frame this long before the token expires
};

struct chat_config {
  std::size_t max_message_length = 1000;   // characters of a message, after trimming
  int rate_per_s = 10;                     // messages per second per user...
  int rate_burst = 20;                     // ...with this burst
  std::size_t ring_size = 256;             // newest messages a conversation actor keeps
  std::size_t send_queue_limit = 256;      // sends waiting in one conversation before 503
  int idle_timeout_s = 600;                // an unused conversation actor stops
  int commit_delay_us = 2000;              // group commit: longest wait for more messages...
  std::size_t commit_batch = 256;          // ...or this many
  std::size_t writer_queue_limit = 8192;   // messages waiting for the writer before refusing
  int conversations_page_max = 1000;       // GET /conversations: page size, also without limit
  int conversations_per_hour = 60;         // new conversations per user per hour...
  int conversations_burst = 20;            // ...with this burst
};

struct scheduler_config {
  int threads = 2;
  std::string policy = "sharing";          // "sharing" or "stealing" (docs/architecture.md, Threads)
};

struct db_config {
  std::string dsn = "host=127.0.0.1 port=5432 dbname=tandem user=postgres";
  int pool_size = 4;                       // detached workers, one connection each
  std::size_t queue_limit = 1024;          // queued jobs beyond this are refused at once (503)
  int statement_timeout_ms = 5000;
  int connect_timeout_ms = 3000;
  std::size_t max_expensive_per_user = 4;  // a user's searches waiting or running; more: 429
  int32_t max_search_offset = 10000;       // deepest offset of a user search; past it: 400
};

struct redis_config {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  int pool_size = 2;
  std::size_t queue_limit = 1024;
  int timeout_ms = 1000;                   // connect and per-command timeout
};

struct log_config {
  std::string level = "info";              // debug, info, warn, error
  bool requests = true;                    // one JSON line per HTTP request
  int socket_errors_per_s = 10;            // warnings about failed sockets a second; the rest are counted
};

struct node_config {
  std::string mode = "development";        // "production" refuses development keys
};

/// A node of a cluster (docs/cluster.md): leases in PostgreSQL, messages over Redis.
struct cluster_config {
  bool enabled = false;                    // false: one node owns every key, no leases
  std::string node_id;                     // unique per node; empty: <hostname>-<http.port>
  std::string advertise_url;               // how operators reach this node; empty: http://address:port
  int lease_ms = 5000;                     // a node's lease in the database lasts this long...
  int renew_interval_ms = 1000;            // ...and is renewed this often
  int fence_after_ms = 3500;               // unrenewed this long: the node stops serving its keys
  int request_timeout_ms = 2000;           // every request to another node fails after this
  std::size_t bus_message_limit = 1024 * 1024;  // bytes of one message between nodes
  std::size_t bus_queue_limit = 10000;     // messages waiting to be published; more: refused
  int drain_timeout_ms = 5000;             // SIGTERM: handing the node's keys over takes at most this
  int takeover_limit = 10000;              // conversations of a node that left activated at once, per node
  int sweep_interval_ms = 30000;           // keys this node owns but no actor holds are released this often; 0: never
};

struct auth_config {
  std::string jwt_key;                     // HS256 key; empty: the development key (refused in production)
  std::string jwt_key_file;                // or read the key from this file
  std::string issuer = "tandem";
  std::string audience = "tandem-clients";
  int access_ttl_s = 15 * 60;
  int refresh_ttl_s = 30 * 24 * 3600;
  int login_max_failures = 5;              // per email within the window, then 429
  int login_max_failures_per_address = 50; // per client address within the window
  int login_window_s = 15 * 60;
  int register_max_per_address = 30;       // registrations per client address within the window, then 429
  int register_window_s = 3600;
  int refreshes_per_hour = 60;             // POST /auth/refresh per user (token bucket)...
  int refreshes_burst = 20;                // ...with this burst
  int hasher_threads = 2;                  // detached argon2id workers
  std::size_t hasher_queue_limit = 256;
  int hasher_login_reserve = 1;            // hashing jobs registrations leave to logins
  int argon2_memory_kib = 19456;           // OWASP's argon2id minimum: 19 MiB, t=2, p=1
  int argon2_iterations = 2;
  std::string external_issuer;             // optional RS256 ID tokens (e.g. a Cognito pool)
  std::string external_jwks_file;
  std::string external_audience;           // empty: not checked
  std::string external_user_claim = "cognito:username"; // names the subject mapped to a Tandem id
  std::size_t external_identity_cache = 50000; // (issuer, subject) -> user id mappings kept in memory
  int clock_leeway_s = 60;                 // iat/nbf of a token may lie this far in the future
};

struct media_config {
  std::string dir = ".local/media";        // profile images live here
  std::string url_key;                     // HMAC key for signed URLs; empty: development key
  std::string url_key_file;
  std::string public_url;                  // base of signed URLs; empty: http://<http.address>:<port>
  std::size_t max_bytes = 2 * 1024 * 1024;
  int url_ttl_s = 3600;
};

struct users_config {
  int idle_timeout_s = 600;                // a user actor idle this long (no live connection) stops
  std::size_t unread_cache_limit = 200;    // unread share notifications kept in memory per user
  int max_pending_requests = 1000;         // pending friend requests to one user
  int max_outgoing_requests = 200;         // pending friend requests from one user
  int request_ttl_s = 30 * 24 * 3600;      // a pending friend request expires after this
  int request_purge_interval_s = 3600;     // how often expired requests are deleted...
  int request_purge_batch = 10000;         // ...at most this many per statement
  int max_friends = 5000;                  // accepted friends per user
  std::size_t write_queue_limit = 64;      // writes waiting in one user actor before 503
  int shares_per_hour = 120;               // share notifications sent per user (token bucket)...
  int shares_burst = 30;                   // ...with this burst
  int invitations_max = 20;                // POST /email per user within the window, then 429
  int invitations_window_s = 3600;
};

struct smtp_config {
  std::string url;                         // smtp://host:587 or smtps://host:465; empty: outbox off
  std::string from;                        // envelope and From: address (required with url)
  std::string username;                    // SMTP AUTH user; empty: no AUTH
  std::string password;                    // SMTP AUTH password (secret)
  std::string starttls = "required";       // required, try or off (smtp:// only)
  std::string ca_file;                     // CA bundle verifying the server; empty: the system's
  int timeout_ms = 30000;                  // one whole SMTP transaction (connect included)
  int batch = 50;                          // rows claimed at once
  int poll_interval_ms = 5000;             // wait between looks for due rows when idle
  int max_attempts = 8;                    // sends of one row before it is marked failed
  int backoff_base_ms = 60000;             // first retry delay, doubled per attempt (at most a day)
};

struct app_config {
  node_config node;
  cluster_config cluster;
  auth_config auth;
  media_config media;
  users_config users;
  http_config http;
  ws_config ws;
  chat_config chat;
  scheduler_config scheduler;
  db_config db;
  redis_config redis;
  log_config log;
  smtp_config smtp;
};

/// A configuration problem found at start-up; `what()` is one line for the operator.
class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What the command line asked for besides configuration keys.
struct command_line {
  std::string command = "serve";           // serve | migrate | routes | help
  app_config config;
};

/// Builds the configuration from defaults, the `--config FILE` (INI: `[section]`
/// then `key = value`), `TANDEM_<SECTION>_<KEY>` variables of `env`, and
/// `--section.key=value` / `--section.key value` arguments, in that order.
/// Throws `config_error` on unknown keys, bad values or a missing file.
command_line parse_command_line(const std::vector<std::string>& args,
                                const std::map<std::string, std::string>& env);

/// The process environment as a map (for `parse_command_line`).
std::map<std::string, std::string> process_environment();

/// Every key with its current value and description, for `tandem help`.
std::string describe_keys(const app_config& cfg);

} // namespace tandem::config
