// tandem: config -> migrations -> actor system -> actors -> HTTP front -> wait
// for SIGTERM/SIGINT -> drain -> stop.
#include "vocabulary/messages.hpp"
#include "auth/accounts.hpp"
#include "actors/connection_actor.hpp"
#include "actors/connection_directory.hpp"
#include "actors/conversation_registry.hpp"
#include "actors/email_outbox.hpp"
#include "auth/external_identities.hpp"
#include "wire/page_privacy.hpp"
#include "auth/password_hasher.hpp"
#include "actors/request_purge.hpp"
#include "auth/tokens.hpp"
#include "actors/user_registry.hpp"
#include "cluster/bus.hpp"
#include "cluster/membership.hpp"
#include "cluster/node_identity.hpp"
#include "cluster/placement.hpp"
#include "config/app_config.hpp"
#include "config/log.hpp"
#include "config/secrets.hpp"
#include "http/media_urls.hpp"
#include "http/node_metrics.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"
#include "persistence/accounts_repo.hpp"
#include "persistence/cluster_repo.hpp"
#include "persistence/db.hpp"
#include "persistence/db_session.hpp"
#include "persistence/media_store.hpp"
#include "persistence/message_writer.hpp"
#include "persistence/migrations.hpp"
#include "persistence/redis.hpp"

#include <caf/all.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

namespace {

using namespace tandem;

constexpr const char* usage = R"(usage: tandem [serve|migrate|routes|help] [--config FILE] [--section.key=value ...]

  serve     apply pending migrations, then run a node (default)
  migrate   apply pending migrations and exit
  routes    list what a node with this configuration serves, one line each:
            `METHOD PATTERN GUARD` per HTTP route (GUARD: public, token, signed-url),
            `WS PATH token` per WebSocket path, `FRAME ACTION` per inbound frame

Every key can be set in the config file ([section] then key = value), in the
environment as TANDEM_<SECTION>_<KEY>, or on the command line, in increasing
order of precedence. Keys and their current values:
)";

/// libpq messages span lines; the operator gets one.
std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\t')
      c = ' ';
  while (!text.empty() && text.back() == ' ')
    text.pop_back();
  return text;
}

/// Connects once and applies pending migrations; the node refuses to start
/// (non-zero exit) when the database cannot be reached.
int migrate(const config::app_config& cfg) {
  try {
    pqxx::connection conn{
      persistence::dsn_with_connect_timeout(cfg.db.dsn, cfg.db.connect_timeout_ms)};
    auto applied = persistence::apply_migrations(conn);
    log::info("migrations applied", {{"applied", applied},
                                     {"version", persistence::applied_migration_version(conn)}});
    if (auto keyed = persistence::accounts::backfill_email_keys(conn); keyed > 0)
      log::info("canonical emails set", {{"accounts", keyed}});
    return 0;
  } catch (const pqxx::broken_connection& e) {
    std::cerr << "tandem: cannot connect to PostgreSQL (db.dsn): " << one_line(e.what()) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "tandem: migrations failed: " << one_line(e.what()) << "\n";
  }
  return 1;
}

/// `dsn` with a PostgreSQL setting for every session it opens (libpq's `options`), as a
/// key=value string or a URI. A DSN that sets `options` itself is left as it is.
std::string dsn_with_session_setting(const std::string& dsn, const std::string& name,
                                     const std::string& value) {
  if (dsn.find("options") != std::string::npos)
    return dsn;
  if (dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0)
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "options=-c%20" + name
           + "%3D" + value;
  return dsn + " options='-c " + name + "=" + value + "'";
}

/// Exit code 2 while another process runs with this node's id (docs/cluster.md,
/// Membership): the live lease of its row is renewed while this one watches, for two
/// renew intervals at most. A lease that stays as it was is a previous run's (killed),
/// which this run replaces; without a live lease (a drained run deleted it) no wait.
int refuse_a_running_twin(const config::app_config& cfg, const node_identity& self) {
  try {
    pqxx::connection conn{
      persistence::dsn_with_connect_timeout(cfg.db.dsn, cfg.db.connect_timeout_ms)};
    auto read = [&] {
      pqxx::work tx{conn};
      return persistence::cluster_repo::live_lease(tx, self.id);
    };
    auto first = read();
    if (!first)
      return 0;
    auto until = std::chrono::steady_clock::now()
                 + 2 * std::chrono::milliseconds(cfg.cluster.renew_interval_ms);
    while (std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto now = read();
      if (!now)
        return 0;
      if (!(*now == *first)) {
        std::cerr << "tandem: another process runs as cluster node \"" << self.id
                  << "\" (incarnation " << now->incarnation
                  << " renewed its lease meanwhile): give every node its own cluster.node_id\n";
        return 2;
      }
    }
    log::info("the lease of this node's previous run is still live: this run replaces it",
              {{"node", self.id}, {"previous", first->incarnation}});
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tandem: cannot read this node's lease (db.dsn): " << one_line(e.what()) << "\n";
    return 1;
  }
}

/// Blocks SIGINT and SIGTERM in every thread started after this call, so that
/// main alone receives them through sigwait.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that closes early must cost a write error, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  return set;
}

/// Tells every peer of `view` that this node is about to drain and waits (each at most
/// `timeout`) for their answers: from then on they place this node's keys on themselves
/// and send it nothing new, so that once it hands its keys over, what it passes on finds
/// peers that agree on the keys' new homes instead of refusing it until they renew.
void announce_drain(caf::scoped_actor& self, const cluster::membership_view& view,
                    cluster::bus& bus, std::chrono::milliseconds timeout) {
  using answer_handle = decltype(self->request(caf::actor{}, timeout, atom::membership_changed_v,
                                               view.self));
  std::vector<std::pair<std::string, answer_handle>> asked;
  for (const auto& n : view.live)
    if (n.identity != view.self)
      asked.emplace_back(n.identity.id, self->request(bus.proxy(n.identity, "membership"),
                                                      timeout, atom::membership_changed_v,
                                                      view.self));
  for (auto& [peer, answer] : asked)
    answer.receive([](bool) {},
                   [&peer = peer](caf::error& err) {
                     log::warn("drain: a peer did not take the announcement",
                               {{"peer", peer}, {"error", describe(err)}});
                   });
}

/// Waits up to `ms` for another stop signal: whether one came (the operator insists: no
/// more waiting).
bool second_signal_within(const sigset_t& stop_signals, int ms) {
  auto ts = timespec{ms / 1000, (ms % 1000) * 1000000L};
  while (true) {
    auto t0 = std::chrono::steady_clock::now();
    if (sigtimedwait(&stop_signals, nullptr, &ts) >= 0)
      return true;
    if (errno != EINTR)
      return false; // EAGAIN: the delay is over
    auto left = std::chrono::nanoseconds(ts.tv_sec * 1000000000LL + ts.tv_nsec)
                - (std::chrono::steady_clock::now() - t0);
    if (left <= std::chrono::nanoseconds::zero())
      return false;
    ts = timespec{static_cast<time_t>(left.count() / 1000000000LL),
                  static_cast<long>(left.count() % 1000000000LL)};
  }
}

/// The route table that `serve` builds, from the same make_routes, without connecting to
/// anything: the handlers are made, never called, so no actor is spawned behind them.
int print_routes(const config::app_config& cfg) {
  caf::actor_system_config sys_cfg;
  sys_cfg.set("logger.file-verbosity", caf::atom("quiet"));
  sys_cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{sys_cfg};
  http::metrics stats;
  auto routes = http::make_routes({sys, cfg, {}, {}, stats, nullptr, nullptr, {}, {}, nullptr,
                                   {}, nullptr, {}, nullptr, nullptr});
  for (const auto& r : routes.routes())
    std::cout << r.method << ' ' << r.pattern << ' ' << r.guard << '\n';
  for (const auto& path : ws_paths())
    std::cout << "WS " << path << " token\n";
  for (const auto& action : ws_actions())
    std::cout << "FRAME " << action << '\n';
  return 0;
}

int serve(const config::app_config& cfg) {
  // Keys first: a node that refuses its keys must stop before it touches anything.
  std::shared_ptr<const token_service> tokens;
  std::string media_url_key;
  auto self_node = cluster::make_node_identity(cfg);
  try {
    tokens = token_service::from_config(cfg);
    media_url_key = config::resolve_media_url_key(cfg);
    if (cfg.cluster.enabled)
      cluster::make_membership_settings(cfg.cluster, self_node, {});
  } catch (const config::config_error& e) {
    std::cerr << "tandem: " << e.what() << "\n";
    return 2;
  }
  if (auto rc = migrate(cfg); rc != 0)
    return rc;
  if (cfg.cluster.enabled)
    if (auto rc = refuse_a_running_twin(cfg, self_node); rc != 0)
      return rc;
  // After the database check, so that a node refused for its database creates no directory.
  try {
    persistence::prepare_media_dir(cfg.media.dir);
  } catch (const std::exception& e) {
    std::cerr << "tandem: " << e.what() << "\n";
    return 1;
  }
  try {
    check_public_suffix_list();
  } catch (const std::exception& e) {
    std::cerr << "tandem: " << e.what() << "\n";
    return 1;
  }
  auto stop_signals = block_stop_signals();

  caf::actor_system_config sys_cfg;
  add_message_types(sys_cfg);
  sys_cfg.set("scheduler.max-threads", cfg.scheduler.threads);
  sys_cfg.set("scheduler.policy", cfg.scheduler.policy == "sharing" ? caf::atom("sharing")
                                                                     : caf::atom("stealing"));
  sys_cfg.set("logger.file-verbosity", caf::atom("quiet"));
  sys_cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{sys_cfg};

  // /metrics reads what each component publishes (http/node_metrics.hpp), gathered here.
  http::metrics stats;
  http::node_figures figures;
  auto gauges = [&figures](const char* pool) {
    auto published = std::make_shared<persistence::pool_gauges>();
    figures.pools.emplace_back(pool, published);
    return published;
  };
  auto db_cfg = cfg.db;
  if (cfg.cluster.enabled)
    // A node paused inside a transaction (between its statements and COMMIT) holds the
    // row locks of key_owners that its fenced writes took, and every claim of those keys
    // would wait for it: PostgreSQL ends such a session after fence_after_ms, by which
    // time a live node would have fenced itself anyway, and before its lease ends.
    db_cfg.dsn = dsn_with_session_setting(db_cfg.dsn, "idle_in_transaction_session_timeout",
                                          std::to_string(cfg.cluster.fence_after_ms));
  auto db = persistence::spawn_db(
    sys, db_cfg, std::chrono::milliseconds(cfg.http.request_timeout_ms), gauges("db"));
  // In a cluster, lease renewals run on a connection of their own: queued behind
  // ordinary queries in the shared pool, a node that is only busy would miss its fence
  // deadline and stop serving.
  persistence::db_actor leases;
  if (cfg.cluster.enabled) {
    auto lease_cfg = db_cfg;
    lease_cfg.pool_size = 1;
    lease_cfg.queue_limit = 4;
    leases = persistence::spawn_db(sys, lease_cfg,
                                   std::chrono::milliseconds(cfg.cluster.fence_after_ms),
                                   gauges("leases"));
  }
  auto identities = std::make_shared<external_identity_map>(
    sys, db, cfg.auth.external_identity_cache,
    std::chrono::milliseconds(cfg.http.request_timeout_ms));
  auto redis = persistence::spawn_redis(sys, cfg.redis, gauges("redis"));
  auto hasher = spawn_password_hasher(sys, cfg.auth, gauges("password_hasher"));
  auto media = persistence::spawn_media(sys, cfg.media, gauges("media"));
  // The cluster (docs/cluster.md): none of it runs unless cluster.enabled. Keys homed
  // on another node go to its registries over the bus; every key served here is
  // claimed first, and the node stops serving when it cannot renew its lease.
  std::shared_ptr<cluster::membership_board> board;
  std::unique_ptr<cluster::bus> bus;
  std::optional<node_identity> claim_as;
  caf::actor refuser;
  if (cfg.cluster.enabled) {
    board = std::make_shared<cluster::membership_board>(self_node);
    bus = std::make_unique<cluster::bus>(sys, self_node, cfg.cluster, cfg.redis);
    claim_as = self_node;
    refuser = cluster::spawn_refuser(sys);
  }
  auto placement_to = [&](const char* endpoint) {
    if (!bus)
      return cluster::cluster_placement{};
    return cluster::cluster_placement{
      board,
      [b = bus.get(), name = std::string{endpoint}](const node_identity& node) {
        return b->proxy(node, name);
      },
      bus->handle().address(), refuser};
  };
  // Sockets of users homed elsewhere are reached through the directory of their node.
  cluster_link connections_link;
  auto directory_counters = std::make_shared<connection_directory_counters>();
  if (bus)
    connections_link = {spawn_connection_directory(
                          sys, self_node,
                          [b = bus.get()](const node_identity& node) {
                            return b->proxy(node, "connections");
                          },
                          directory_counters),
                        self_node};
  auto views = std::make_shared<polled_views>();
  auto user_cfg = user_settings_from(cfg);
  user_cfg.views = views;
  user_cfg.cluster_node = claim_as;
  user_cfg.cluster = connections_link;
  auto user_counters = std::make_shared<registry_counters>();
  auto users = spawn_user_registry(sys, db, user_cfg, user_counters, placement_to("users"));
  auto purge_counters = std::make_shared<request_purge_counters>();
  auto purge = spawn_request_purge(sys, db, request_purge_settings_from(cfg), purge_counters);
  auto accounts = spawn_accounts(
    sys, {cfg.auth, std::chrono::milliseconds(cfg.http.request_timeout_ms), tokens, db, redis,
          hasher, users});
  auto writer_counters = std::make_shared<persistence::message_writer_counters>();
  auto writer = persistence::spawn_message_writer(sys, db, message_writer_settings_from(cfg),
                                                  writer_counters);
  auto chat_counters = std::make_shared<registry_counters>();
  auto chat_cfg = chat_settings_from(cfg);
  chat_cfg.cluster_node = claim_as;
  auto chats = spawn_conversation_registry(sys, db, writer, users, chat_cfg, chat_counters,
                                           placement_to("conversations"));
  if (bus) {
    bus->register_endpoint("users", caf::actor_cast<caf::actor>(users));
    bus->register_endpoint("conversations", caf::actor_cast<caf::actor>(chats));
    bus->register_endpoint("connections",
                           caf::actor_cast<caf::actor>(connections_link.directory));
  }
  // URLs name this node's bound port when media.public_url is empty: set after start.
  auto media_urls = std::make_shared<http::media_url_signer>(
    std::move(media_url_key), cfg.media.public_url, cfg.http.address,
    std::chrono::seconds(cfg.media.url_ttl_s));
  // The actor system's destructor waits for every actor: long-lived ones must be told to stop.
  cluster::membership_actor membership;
  auto stop_actors = [&] {
    if (bus)
      bus->stop();
    if (membership)
      caf::anon_send_exit(membership, caf::exit_reason::user_shutdown);
    for (auto handle : {caf::actor_cast<caf::actor>(db), caf::actor_cast<caf::actor>(redis),
                        caf::actor_cast<caf::actor>(media), caf::actor_cast<caf::actor>(accounts),
                        caf::actor_cast<caf::actor>(hasher), caf::actor_cast<caf::actor>(users),
                        caf::actor_cast<caf::actor>(chats), caf::actor_cast<caf::actor>(writer),
                        caf::actor_cast<caf::actor>(purge),
                        caf::actor_cast<caf::actor>(connections_link.directory), refuser,
                        caf::actor_cast<caf::actor>(leases)})
      caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  };
  auto gateway = std::make_shared<const http::ws_gateway>(
    http::ws_gateway{sys, tokens, identities, users, chats, cfg.chat.max_message_length,
                     user_cfg.gateway, cfg.ws,
                     std::chrono::milliseconds(cfg.http.request_timeout_ms), connections_link});
  auto shutting_down = std::make_shared<std::atomic<bool>>(false);
  http::server server{cfg.http, cfg.log,
                      http::make_routes(
                        {sys, cfg, db, redis, stats, tokens, identities, accounts, media,
                         media_urls, users, views, chats, board, shutting_down}),
                      stats, gateway};
  // E-mail invitations (smtp.*): off while smtp.url is empty; the sender stops with db.
  auto outbox_counters = std::make_shared<email_outbox_counters>();
  spawn_email_outbox(sys, db, cfg, outbox_counters);
  figures.users = user_counters;
  figures.conversations = chat_counters;
  figures.writer = writer_counters;
  figures.gateway = user_cfg.gateway.counters;
  figures.purge = purge_counters;
  figures.outbox = outbox_counters;
  if (bus) {
    figures.bus = &bus->counters();
    figures.directory = directory_counters;
  }
  http::add_node_collectors(stats, sys, std::move(figures));
  uint16_t port = 0;
  try {
    port = server.start();
  } catch (const std::exception& e) {
    std::cerr << "tandem: " << e.what() << "\n";
    stop_actors();
    return 1;
  }
  media_urls->set_port(port);
  // A node that joins or leaves tells the others to renew at once (docs/cluster.md,
  // Planned moves); a lost message only leaves them a renewal behind.
  auto tell_peers = [b = bus.get()](const cluster::membership_view& view) {
    for (const auto& n : view.live)
      if (n.identity.id != view.self.id)
        caf::anon_send(b->proxy(n.identity, "membership"), atom::membership_changed_v);
  };
  if (board) {
    cluster::membership_hooks hooks;
    hooks.on_fence.emplace_back(
      [users, chats, directory = connections_link.directory, node = self_node.id] {
        log::warn("lease not renewed in time: this node stops serving its keys",
                  {{"node", node}});
        caf::anon_send(users, atom::stop_serving_v);
        caf::anon_send(chats, atom::stop_serving_v);
        // Sockets whose user actor is on another node would stay open on a node that
        // serves nothing; its clients reconnect through the balancer instead.
        caf::anon_send(directory, atom::stop_serving_v);
      });
    hooks.on_unfence.emplace_back([] { log::info("lease renewed: serving keys"); });
    // A node that left the live set (or restarted: another incarnation) holds none of
    // this node's users' sockets any more, and none of its users' actors; one that only
    // announced its drain is not gone yet (it still holds sockets and unreleased keys).
    hooks.on_view.emplace_back(
      [users, chats, directory = connections_link.directory, tell_peers,
       before = std::make_shared<std::vector<cluster_node>>(),
       present_before = std::make_shared<std::vector<cluster_node>>()](
        const std::shared_ptr<const cluster::membership_view>& view) {
        if (view->live != *before) {
          // Keys whose home moved are handed over (a node joined or left).
          caf::anon_send(users, atom::hand_over_v);
          caf::anon_send(chats, atom::hand_over_v);
        }
        auto listed = [](const std::vector<cluster_node>& nodes, const node_identity& node) {
          return std::any_of(nodes.begin(), nodes.end(),
                             [&](const cluster_node& n) { return n.identity == node; });
        };
        auto present = view->live;
        present.insert(present.end(), view->leaving.begin(), view->leaving.end());
        // Leaving, this node drops out of its own view: it is not gone to itself.
        for (const auto& old : *present_before)
          if (!listed(present, old.identity) && old.identity != view->self) {
            caf::anon_send(users, atom::node_gone_v, old.identity);
            caf::anon_send(chats, atom::node_gone_v, old.identity);
            caf::anon_send(directory, atom::node_gone_v, old.identity);
          }
        // Joined (or back from fenced): the others hand this node its keys now rather
        // than at their next renewal.
        if (listed(view->live, view->self) && !listed(*before, view->self))
          tell_peers(*view);
        *before = view->live;
        *present_before = std::move(present);
      });
    membership = cluster::spawn_membership(
      sys, leases,
      cluster::make_membership_settings(cfg.cluster, self_node,
                                        cluster::advertised_url(cfg, port)),
      board, std::move(hooks));
    bus->register_endpoint("membership", caf::actor_cast<caf::actor>(membership));
  }
  log::info("listening", {{"url", "http://" + cfg.http.address + ":" + std::to_string(port)},
                          {"port", port}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  // Unready first, serving as before: the balancer sends nothing new here once its checks
  // have seen /readyz fail, so no client is sent to a node that has stopped serving.
  shutting_down->store(true);
  if (cfg.http.shutdown_delay_ms > 0 && !second_signal_within(stop_signals,
                                                              cfg.http.shutdown_delay_ms))
    log::info("unready for http.shutdown_delay_ms, now stopping",
              {{"delay_ms", cfg.http.shutdown_delay_ms}});
  // The drain (docs/cluster.md, Planned moves): this node leaves its own view, so its
  // actors finish what they were sent, release their keys and stop, while whatever still
  // reaches it is passed on to the keys' new homes; then its sockets close, its lease row
  // goes and the others are told to renew; it keeps passing messages on for one renewal
  // interval, until every other view has let it go.
  std::optional<caf::scoped_actor> drainer;
  auto drain_timeout = std::chrono::milliseconds(cfg.cluster.drain_timeout_ms);
  auto drain_step = [&](const char* what, auto dest, auto atom_value) {
    bool ok = false;
    (*drainer)
      ->request(dest, drain_timeout, atom_value)
      .receive([&ok](bool) { ok = true; },
               [what](caf::error& err) {
                 log::warn(std::string{"drain: "} + what + " failed",
                           {{"error", describe(err)}});
               });
    return ok;
  };
  if (membership) {
    drainer.emplace(sys);
    announce_drain(*drainer, *board->view(), *bus,
                   std::chrono::milliseconds(cfg.cluster.request_timeout_ms));
    drain_step("leaving the live set", membership, atom::leave_cluster_v);
    drain_step("handing the users over", users, atom::hand_over_v);
    drain_step("handing the conversations over", chats, atom::hand_over_v);
  }
  auto cut = server.shutdown();
  if (membership) {
    auto peers = board->view();
    if (drain_step("deleting the lease", membership, atom::drop_lease_v))
      log::info("left the cluster");
    tell_peers(*peers);
    std::this_thread::sleep_for(std::chrono::milliseconds(cfg.cluster.renew_interval_ms));
  }
  drainer.reset(); // an actor too: awaited below
  stop_actors();
  // Every actor ends before the server and what it serves with (metrics, gateway) go:
  // a connection actor or a responder still holding a session would otherwise touch
  // them, and the io_context, after they are destroyed.
  sys.await_all_actors_done();
  log::info("stopped", {{"connections_cut", cut}});
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  config::command_line cmd;
  try {
    cmd = config::parse_command_line(std::vector<std::string>(argv + 1, argv + argc),
                                     config::process_environment());
  } catch (const config::config_error& e) {
    std::cerr << "tandem: " << e.what() << "\n";
    return 2;
  }
  log::set_level(cmd.config.log.level);
  if (cmd.command == "help") {
    std::cout << usage << config::describe_keys(cmd.config);
    return 0;
  }
  if (cmd.command == "migrate")
    return migrate(cmd.config);
  if (cmd.command == "routes")
    return print_routes(cmd.config);
  return serve(cmd.config);
}
