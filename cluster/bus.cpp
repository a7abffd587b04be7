#include "cluster/bus.hpp"

#include "cluster/bus_codec.hpp"
#include "common/backoff.hpp"
#include "config/log.hpp"
#include "persistence/redis.hpp"
#include "persistence/redis_session.hpp"

#include <hiredis/hiredis.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <system_error>
#include <unordered_map>

namespace tandem::cluster {

namespace {

using std::chrono::milliseconds;

// -- the subscriber: a blocking hiredis connection on a detached actor ------------------

/// How the bus stops its subscriber: a flag, and a pipe whose read end the subscriber
/// polls beside its socket, so that it stops at once even while waiting.
class subscriber_control {
public:
  subscriber_control() {
    if (pipe2(fds_, O_NONBLOCK | O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "bus: pipe2");
  }

  subscriber_control(const subscriber_control&) = delete;
  subscriber_control& operator=(const subscriber_control&) = delete;

  ~subscriber_control() {
    close(fds_[0]);
    close(fds_[1]);
  }

  void stop() {
    stopping_ = true;
    char byte = 1;
    [[maybe_unused]] auto written = write(fds_[1], &byte, 1);
  }

  bool stopping() const {
    return stopping_;
  }

  enum class wake { readable, timed_out, stopped };

  /// Waits until `fd` is readable (never, for -1), `timeout` passes or stop() is called.
  wake wait(int fd, milliseconds timeout) const {
    pollfd fds[2] = {{fds_[0], POLLIN, 0}, {fd, POLLIN, 0}};
    auto n = poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
    if (stopping_)
      return wake::stopped;
    if (n > 0 && fd >= 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0)
      return wake::readable;
    return wake::timed_out; // EINTR included: the caller loops
  }

private:
  int fds_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
};

struct context_deleter {
  void operator()(redisContext* ctx) const {
    redisFree(ctx);
  }
};

struct reply_deleter {
  void operator()(void* reply) const {
    freeReplyObject(reply);
  }
};

using context_ptr = std::unique_ptr<redisContext, context_deleter>;
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

timeval to_timeval(milliseconds ms) {
  timeval tv{};
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = (ms.count() % 1000) * 1000;
  return tv;
}

struct subscriber_args {
  caf::actor bus;
  std::string channel;
  config::redis_config redis;
  std::size_t message_limit = 0;
  std::size_t queue_limit = 0;
  std::shared_ptr<subscriber_control> control;
  std::shared_ptr<bus_counters> counters;
};

bool is_array_of(const redisReply& r, const char* first) {
  return r.type == REDIS_REPLY_ARRAY && r.elements == 3
         && r.element[0]->type == REDIS_REPLY_STRING && std::strcmp(r.element[0]->str, first) == 0;
}

/// A connection subscribed to the channel, or the reason there is none.
context_ptr subscribe(const subscriber_args& args, std::string& why) {
  auto timeout = to_timeval(milliseconds{args.redis.timeout_ms});
  context_ptr ctx{redisConnectWithTimeout(args.redis.host.c_str(), args.redis.port, timeout)};
  if (!ctx || ctx->err != 0) {
    why = ctx ? ctx->errstr : "cannot allocate a context";
    return nullptr;
  }
  if (redisSetTimeout(ctx.get(), timeout) != REDIS_OK) {
    why = ctx->errstr;
    return nullptr;
  }
  reply_ptr reply{static_cast<redisReply*>(redisCommand(
    ctx.get(), "SUBSCRIBE %b", args.channel.data(), args.channel.size()))};
  if (!reply || !is_array_of(*reply, "subscribe")) {
    why = reply ? "unexpected answer to SUBSCRIBE" : ctx->errstr;
    return nullptr;
  }
  return ctx;
}

/// Hands one published message to the bus actor, within the limits.
void hand_over(const subscriber_args& args, const redisReply& r) {
  if (!is_array_of(r, "message") || r.element[2]->type != REDIS_REPLY_STRING)
    return; // PING's "pong", confirmations
  auto& counters = *args.counters;
  const auto& payload = *r.element[2];
  if (payload.len > args.message_limit) {
    ++counters.refused_size;
    return;
  }
  // The bus actor's mailbox is bounded here: beyond the limit, envelopes are dropped
  // (their requesters time out) instead of piling up in memory.
  if (counters.inbound_queued.load() >= args.queue_limit) {
    ++counters.refused_queue;
    return;
  }
  ++counters.inbound_queued;
  caf::anon_send(args.bus, atom::bus_inbound_v, std::string{payload.str, payload.len});
}

/// Reads the subscription until it fails (its reason) or the bus stops (empty). A
/// connection silent for redis.timeout_ms is asked PING; silent for as long again,
/// it counts as lost (a server gone without closing the socket).
std::string listen(const subscriber_args& args, redisContext* ctx) {
  auto timeout = milliseconds{args.redis.timeout_ms};
  bool ping_sent = false;
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx, &raw) != REDIS_OK)
      return ctx->errstr;
    if (raw != nullptr) {
      reply_ptr reply{static_cast<redisReply*>(raw)};
      ping_sent = false;
      hand_over(args, *reply);
      continue;
    }
    switch (args.control->wait(ctx->fd, timeout)) {
      case subscriber_control::wake::stopped:
        return {};
      case subscriber_control::wake::readable:
        if (redisBufferRead(ctx) != REDIS_OK)
          return ctx->errstr;
        break;
      case subscriber_control::wake::timed_out: {
        if (ping_sent)
          return "no answer to PING";
        int done = 0;
        if (redisAppendCommand(ctx, "PING") != REDIS_OK)
          return ctx->errstr;
        while (done == 0)
          if (redisBufferWrite(ctx, &done) != REDIS_OK)
            return ctx->errstr;
        ping_sent = true;
        break;
      }
    }
  }
}

void run_subscriber(caf::blocking_actor*, subscriber_args args) {
  persistence::block_sigpipe_in_this_thread();
  persistence::reconnect_backoff backoff;
  auto& control = *args.control;
  while (!control.stopping()) {
    std::string why;
    auto ctx = subscribe(args, why);
    if (!ctx) {
      auto wait = backoff.failed(persistence::reconnect_backoff::clock::now());
      log::warn("bus: cannot subscribe",
                {{"channel", args.channel},
                 {"error", why},
                 {"retry_in_ms", std::chrono::duration_cast<milliseconds>(wait).count()}});
      control.wait(-1, std::chrono::duration_cast<milliseconds>(wait));
      continue;
    }
    backoff.succeeded();
    args.counters->subscribed = true;
    caf::anon_send(args.bus, atom::bus_link_v, true);
    log::info("bus: subscribed", {{"channel", args.channel}});
    why = listen(args, ctx.get());
    args.counters->subscribed = false;
    caf::anon_send(args.bus, atom::bus_link_v, false);
    if (!why.empty())
      log::warn("bus: subscription lost", {{"channel", args.channel}, {"error", why}});
  }
}

// -- the bus actor -------------------------------------------------------------------

struct pending_request {
  caf::response_promise promise;
  node_identity target;
};

/// Learns how many nodes received a publish, or why it failed.
using publish_done = std::function<void(caf::expected<int64_t>)>;

struct waiting_publish {
  std::string channel;
  std::string bytes;
  publish_done done;
};

/// Most PUBLISHes written in one round trip: bounds a flush's buffers and the wait of
/// its last requester.
constexpr std::size_t max_flush = 256;

struct bus_state {
  node_identity self_id;
  config::cluster_config cfg;
  std::unique_ptr<bus_codec> codec;
  persistence::redis_actor publisher;
  std::shared_ptr<bus_counters> counters;
  std::shared_ptr<subscriber_control> subscriber;
  std::unordered_map<std::string, caf::actor> endpoints;
  std::unordered_map<uint64_t, pending_request> pending;
  uint64_t last_request_id = 0;
  std::size_t in_flight = 0; ///< publishes accepted, not yet answered by Redis
  /// Publishes that arrived while a flush was out: they go together in the next one
  /// (a deque: a flush takes from the front without moving a backlog behind it).
  std::deque<waiting_publish> waiting;
  bool flushing = false; ///< a pipeline is at the publisher (one at a time keeps the order)
  static inline const char* name = "tandem.bus";
};

using bus_actor = caf::stateful_actor<bus_state>*;

/// A reply type nobody sends: see deliver_inbound.
struct any_reply {};

/// Logs the 1st, 2nd, 4th, 8th ... occurrence only: a peer sending garbage at a high
/// rate must not flood the log.
bool worth_logging(uint64_t count) {
  return (count & (count - 1)) == 0;
}

/// Writes the waiting publishes to Redis in one pipeline, unless one is out already:
/// whatever arrives meanwhile goes out with the next, when that one is answered. At a
/// low rate a flush holds one PUBLISH and costs what a lone command did; under load one
/// round trip (and one wake-up of the publisher's thread) carries many.
void flush(bus_actor self) {
  auto& st = self->state;
  if (st.flushing || st.waiting.empty())
    return;
  auto n = std::min(st.waiting.size(), max_flush);
  std::vector<std::vector<std::string>> commands;
  std::vector<publish_done> dones;
  commands.reserve(n);
  dones.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& w = st.waiting.front();
    commands.push_back({"PUBLISH", std::move(w.channel), std::move(w.bytes)});
    dones.push_back(std::move(w.done));
    st.waiting.pop_front();
  }
  st.flushing = true;
  ++st.counters->flushes;
  // The publisher's own pool answers every job (its commands time out), so no timeout
  // here: in_flight stays exact.
  self->request(st.publisher, caf::infinite, atom::command_v, std::move(commands))
    .then(
      [self, dones](std::vector<redis_reply>& replies) {
        auto& st = self->state;
        st.flushing = false;
        for (std::size_t i = 0; i < dones.size(); ++i) {
          --st.in_flight;
          if (i < replies.size() && replies[i].kind == redis_reply::integer) {
            ++st.counters->published;
            dones[i](caf::expected<int64_t>{replies[i].integer_value});
          } else {
            ++st.counters->unavailable;
            dones[i](caf::make_error(errc::peer_unavailable,
                                     "cannot publish: "
                                       + (i < replies.size() ? replies[i].str : "no reply")));
          }
        }
        flush(self);
      },
      [self, dones](caf::error& err) {
        auto& st = self->state;
        st.flushing = false;
        for (const auto& done : dones) {
          --st.in_flight;
          ++st.counters->unavailable;
          done(caf::make_error(errc::peer_unavailable, "cannot publish: " + describe(err)));
        }
        flush(self);
      });
}

/// Publishes `bytes` on `node_id`'s channel, in order with every other publish of this
/// node. `done` gets how many nodes received it, or at once `errc::payload_too_large` /
/// `errc::overloaded` (refused here), or `errc::peer_unavailable` (Redis could not be
/// reached).
void publish(bus_actor self, const std::string& node_id, std::string bytes, publish_done done) {
  auto& st = self->state;
  if (bytes.size() > st.cfg.bus_message_limit) {
    ++st.counters->refused_size;
    done(caf::make_error(errc::payload_too_large,
                         std::to_string(bytes.size())
                           + " bytes, over cluster.bus_message_limit "
                           + std::to_string(st.cfg.bus_message_limit)));
    return;
  }
  if (st.in_flight >= st.cfg.bus_queue_limit) {
    ++st.counters->refused_queue;
    done(caf::make_error(errc::overloaded, "the bus's publish queue is full"));
    return;
  }
  ++st.in_flight;
  st.waiting.push_back({bus::channel_of(node_id), std::move(bytes), std::move(done)});
  flush(self);
}

void fail_pending(bus_actor self, uint64_t request_id, caf::error err) {
  auto& pending = self->state.pending;
  auto i = pending.find(request_id);
  if (i == pending.end())
    return;
  auto promise = std::move(i->second.promise);
  pending.erase(i);
  promise.deliver(std::move(err));
}

/// Publishes the reply (or error reply) to a request that came from `requester`.
void send_reply(bus_actor self, const node_identity& requester, uint64_t request_id,
                envelope_kind kind, caf::message payload) {
  auto& st = self->state;
  envelope out{kind, st.self_id, requester.incarnation, request_id, {}, std::move(payload)};
  auto bytes = st.codec->encode(out);
  if (!bytes) {
    ++st.counters->refused_values;
    log::warn("bus: a reply cannot cross nodes",
              {{"node", requester.id}, {"detail", describe(bytes.error())}});
    out.kind = envelope_kind::error_reply;
    out.payload = bus_codec::error_payload(bytes.error());
    bytes = st.codec->encode(out);
  }
  publish(self, requester.id, std::move(*bytes),
          [self, requester, request_id, kind](caf::expected<int64_t> sent) {
            // A reply too big is answered with that error, so that the requester
            // learns why instead of waiting for its timeout.
            if (!sent && kind == envelope_kind::reply
                && code_of(sent.error()) == errc::payload_too_large)
              send_reply(self, requester, request_id, envelope_kind::error_reply,
                         bus_codec::error_payload(sent.error()));
          });
}

void deliver_inbound(bus_actor self, envelope env) {
  auto& st = self->state;
  bool is_request = env.kind == envelope_kind::request;
  auto refuse = [&](const std::string& why) {
    log::warn("bus: inbound message not delivered",
              {{"from", env.sender.id}, {"endpoint", env.endpoint}, {"detail", why}});
    if (is_request)
      send_reply(self, env.sender, env.request_id, envelope_kind::error_reply,
                 bus_codec::error_payload(caf::make_error(errc::peer_unavailable, why)));
  };
  if (env.addressed_incarnation != st.self_id.incarnation)
    return refuse("addressed to incarnation " + std::to_string(env.addressed_incarnation)
                  + " of node " + st.self_id.id + ", which is gone");
  auto endpoint = st.endpoints.find(env.endpoint);
  if (endpoint == st.endpoints.end())
    return refuse("node " + st.self_id.id + " has no endpoint '" + env.endpoint + "'");
  if (!is_request) {
    self->send(endpoint->second, std::move(env.payload));
    return;
  }
  // The endpoint may answer with anything. The first handler matches no reply, so CAF
  // hands every reply to the error handler as sec::unexpected_response with the reply
  // as its context: the one way of an event-based actor to receive a reply of any type.
  auto requester = env.sender;
  auto request_id = env.request_id;
  self->request(endpoint->second, milliseconds{st.cfg.request_timeout_ms}, std::move(env.payload))
    .then([](const any_reply&) {},
          [self, requester, request_id](caf::error& err) {
            if (err.category() == caf::atom("system")
                && err.code() == static_cast<uint8_t>(caf::sec::unexpected_response))
              send_reply(self, requester, request_id, envelope_kind::reply, err.context());
            else
              send_reply(self, requester, request_id, envelope_kind::error_reply,
                         bus_codec::error_payload(err));
          });
}

void complete_pending(bus_actor self, envelope env) {
  auto& st = self->state;
  // A reply to this node's previous run: its request ids mean nothing now.
  if (env.addressed_incarnation != st.self_id.incarnation)
    return;
  auto i = st.pending.find(env.request_id);
  if (i == st.pending.end())
    return; // timed out already
  auto request = std::move(i->second);
  st.pending.erase(i);
  if (env.sender != request.target) {
    log::warn("bus: a reply from another incarnation than the one asked",
              {{"node", request.target.id},
               {"asked", request.target.incarnation},
               {"replied", env.sender.incarnation}});
    request.promise.deliver(caf::make_error(errc::peer_unavailable,
                                            "node " + request.target.id
                                              + " answered from another incarnation"));
    return;
  }
  if (env.kind == envelope_kind::reply)
    request.promise.deliver(std::move(env.payload));
  else
    request.promise.deliver(bus_codec::error_of(env.payload));
}

caf::behavior bus_impl(bus_actor self, node_identity self_id, config::cluster_config cfg,
                       config::redis_config redis, std::shared_ptr<bus_counters> counters) {
  auto& st = self->state;
  st.self_id = std::move(self_id);
  st.cfg = cfg;
  st.codec = std::make_unique<bus_codec>(self->system());
  st.counters = std::move(counters);
  // A connection of its own: one worker keeps the order of publishes, and a slow bus
  // does not hold up the node's other Redis work.
  auto publisher_cfg = redis;
  publisher_cfg.pool_size = 1;
  publisher_cfg.queue_limit = cfg.bus_queue_limit;
  st.publisher = persistence::spawn_redis(self->system(), publisher_cfg);
  self->link_to(st.publisher);
  st.subscriber = std::make_shared<subscriber_control>();
  self->system().spawn<caf::detached>(
    run_subscriber,
    subscriber_args{caf::actor_cast<caf::actor>(self), bus::channel_of(st.self_id.id), redis,
                    cfg.bus_message_limit, cfg.bus_queue_limit, st.subscriber, st.counters});
  self->attach_functor([control = st.subscriber] { control->stop(); });
  return {
    [self](atom::register_endpoint, const std::string& name, caf::actor& handle) {
      self->state.endpoints[name] = std::move(handle);
    },
    [self](atom::bus_forward, const node_identity& target, std::string& endpoint,
           caf::message& payload) -> caf::result<caf::message> {
      auto& st = self->state;
      bool is_request = self->current_message_id().is_request();
      envelope env{is_request ? envelope_kind::request : envelope_kind::one_way, st.self_id,
                   target.incarnation, is_request ? ++st.last_request_id : 0,
                   std::move(endpoint), std::move(payload)};
      auto bytes = st.codec->encode(env);
      if (!bytes) {
        ++st.counters->refused_values;
        log::warn("bus: refused a message to another node",
                  {{"node", target.id}, {"endpoint", env.endpoint},
                   {"detail", describe(bytes.error())}});
        return std::move(bytes.error());
      }
      if (!is_request) {
        publish(self, target.id, std::move(*bytes), [](const caf::expected<int64_t>&) {
          // one-way: nobody to tell; the counters show refusals and failures
        });
        return caf::message{};
      }
      if (!st.counters->subscribed) {
        ++st.counters->unavailable;
        return caf::make_error(errc::peer_unavailable, "the bus is down");
      }
      auto request_id = env.request_id;
      auto promise = self->make_response_promise();
      st.pending.emplace(request_id, pending_request{promise, target});
      self->delayed_send(self, milliseconds{st.cfg.request_timeout_ms}, atom::bus_expire_v,
                         request_id);
      publish(self, target.id, std::move(*bytes),
              [self, request_id, node = target.id](caf::expected<int64_t> sent) {
                if (!sent) {
                  fail_pending(self, request_id, std::move(sent.error()));
                } else if (*sent == 0) {
                  ++self->state.counters->unavailable;
                  fail_pending(self, request_id,
                               caf::make_error(errc::peer_unavailable,
                                               "no node listens on " + bus::channel_of(node)));
                }
              });
      return promise;
    },
    [self](atom::bus_expire, uint64_t request_id) {
      auto& st = self->state;
      if (st.pending.count(request_id) == 0)
        return;
      ++st.counters->timeouts;
      fail_pending(self, request_id,
                   caf::make_error(errc::peer_unavailable,
                                   "no answer within cluster.request_timeout_ms ("
                                     + std::to_string(st.cfg.request_timeout_ms) + " ms)"));
    },
    [self](atom::bus_inbound, std::string& bytes) {
      auto& st = self->state;
      --st.counters->inbound_queued;
      auto env = st.codec->decode(bytes);
      if (!env) {
        auto count = ++st.counters->decode_errors;
        if (worth_logging(count))
          log::warn("bus: dropped a garbled envelope",
                    {{"bytes", bytes.size()}, {"detail", describe(env.error())},
                     {"decode_errors", count}});
        return;
      }
      ++st.counters->received;
      if (env->kind == envelope_kind::one_way || env->kind == envelope_kind::request)
        deliver_inbound(self, std::move(*env));
      else
        complete_pending(self, std::move(*env));
    },
    [self](atom::bus_link, bool up) {
      // Back after a loss: the publisher's connection may be the dead one of before,
      // found dead only by the next command. A PING ahead of the next publish (one
      // worker, in order) finds it, so that the next publish connects afresh.
      if (up) {
        self->request(self->state.publisher, caf::infinite, atom::ping_v)
          .then([](bool) {}, [](const caf::error&) {});
        return;
      }
      // Replies published while this node was not subscribed are lost: fail their
      // requests now rather than at their timeouts.
      auto& pending = self->state.pending;
      for (auto& [id, request] : pending)
        request.promise.deliver(caf::make_error(errc::peer_unavailable, "the bus went down"));
      self->state.counters->unavailable += pending.size();
      pending.clear();
    },
  };
}

// -- proxies ---------------------------------------------------------------------------

/// A type nobody sends: a proxy handles everything in its default handler, but an
/// actor with an empty behavior would end at once.
struct never_sent {};

caf::behavior proxy_impl(caf::event_based_actor* self, caf::actor bus_handle,
                         node_identity target, std::string endpoint) {
  self->monitor(bus_handle);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->set_default_handler(
    [bus_handle, target, endpoint](caf::scheduled_actor* ptr,
                                   caf::message_view& xs) -> caf::result<caf::message> {
      // delegate keeps the sender and the request id: the bus answers the sender.
      static_cast<caf::event_based_actor*>(ptr)->delegate(
        bus_handle, atom::bus_forward_v, target, endpoint, xs.move_content_to_message());
      return caf::delegated<caf::message>{};
    });
  return {[](const never_sent&) {}};
}

} // namespace

bus::bus(caf::actor_system& sys, node_identity self, const config::cluster_config& cluster,
         const config::redis_config& redis)
    : sys_(sys), counters_(std::make_shared<bus_counters>()) {
  actor_ = sys.spawn(bus_impl, std::move(self), cluster, redis, counters_);
}

bus::~bus() {
  stop();
}

void bus::stop() {
  caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
}

void bus::register_endpoint(const std::string& name, caf::actor handle) {
  caf::anon_send(actor_, atom::register_endpoint_v, name, std::move(handle));
}

caf::actor bus::proxy(const node_identity& node, const std::string& endpoint) {
  std::lock_guard<std::mutex> guard{proxies_mutex_};
  auto& entry = proxies_[{node.id, endpoint}];
  if (entry.second && entry.first == node.incarnation)
    return entry.second;
  // The node came back as a new incarnation: its old proxy addresses the dead one.
  if (entry.second)
    caf::anon_send_exit(entry.second, caf::exit_reason::user_shutdown);
  entry = {node.incarnation, sys_.spawn(proxy_impl, actor_, node, endpoint)};
  return entry.second;
}

std::string bus::channel_of(const std::string& node_id) {
  return "tandem:node:" + node_id;
}

} // namespace tandem::cluster
