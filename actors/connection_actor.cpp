#include "actors/connection_actor.hpp"

#include "wire/errors.hpp"
#include "wire/fields.hpp"
#include "wire/wire_json.hpp"
#include "wire/ws_frames.hpp"
#include "common/text.hpp"
#include "common/wall_clock.hpp"
#include "config/log.hpp"

#include <algorithm>

namespace tandem {

namespace {

using self_pointer = connection_actor::stateful_pointer<connection_state>;
using wire::json;

void close(self_pointer self, uint16_t code, std::string reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.closing = true;
  st.link->close(code, std::move(reason));
}

/// The user's actor is gone, or does not know this connection: pushes would go
/// nowhere, so the client reconnects and registers afresh.
void lose_session(self_pointer self) {
  close(self, close_code::internal_error, "session lost; reconnect");
}

/// Sends the user's actor a message from this connection: directly on a single node,
/// routed by user through the registry with this connection's ref in a cluster.
template <class Atom, class... Ts>
void tell_user(self_pointer self, Atom a, Ts&&... xs) {
  auto& st = self->state;
  if (st.params.cluster)
    self->send(st.params.registry, a, st.params.user_id, st.ref, std::forward<Ts>(xs)...);
  else
    self->send(st.user, a, std::forward<Ts>(xs)...);
}

/// Hands everything queued to the link unless a batch is still being written: one
/// write in flight, and what piled up meanwhile goes out together.
void flush(self_pointer self) {
  auto& st = self->state;
  if (!st.open || st.writing || st.closing || st.queue.empty())
    return;
  st.writing = true;
  st.link->write(st.queue.take_all());
}

void enqueue(self_pointer self, shared_frame frame) {
  auto& st = self->state;
  if (st.closing)
    return;
  if (!st.queue.push(std::move(frame))) {
    log::warn("websocket send queue overflow", {{"user", st.params.user_id}});
    return close(self, close_code::try_again_later, "send queue overflow");
  }
  flush(self);
}

/// A frame of the connection's own (an error, a notice): never coalesced.
void enqueue(self_pointer self, std::string text) {
  enqueue(self, std::make_shared<const ws_frame>(ws_frame{std::move(text), {}}));
}

/// Counts a push taken for the socket under its kind (gateway_counters).
void count_push(self_pointer self, uint8_t kind) {
  auto& c = *self->state.params.settings.counters;
  if ((kind & event_kind::presence) != 0)
    c.pushed_presence.fetch_add(1, std::memory_order_relaxed);
  if ((kind & event_kind::social) != 0)
    c.pushed_social.fetch_add(1, std::memory_order_relaxed);
  if ((kind & event_kind::chat) != 0)
    c.pushed_chat.fetch_add(1, std::memory_order_relaxed);
}

/// A frame that broke the rules: an error frame, and the connection closes after
/// ws.max_strikes of them in a row.
void strike(self_pointer self, const std::string& detail,
            const caf::optional<std::string>& action = caf::none) {
  auto& st = self->state;
  enqueue(self, frames::error(detail, action));
  if (++st.strikes >= st.params.settings.max_strikes)
    close(self, close_code::policy_violation, "too many bad frames");
}

/// ws.rate_per_s frames per second, ws.rate_burst at once.
bool take_token(self_pointer self) {
  return self->state.frames.take(self->clock().now()) == 0;
}

/// The string member `key` of at most `max` characters, or a strike.
const std::string* text_field(self_pointer self, const json& frame, const char* key,
                              std::size_t max, const std::string& action) {
  auto check = wire::text_field(frame, key, {0, max});
  if (check)
    return check.value;
  strike(self,
         check.fault == wire::field_fault::length
           ? std::string{"'"} + key + "' must be at most " + std::to_string(max) + " characters"
           : std::string{"'"} + key + "' must be a string",
         action);
  return nullptr;
}

void on_update_presence(self_pointer self, const json& frame, const std::string& action) {
  auto& st = self->state;
  if ((st.params.kinds & event_kind::presence) == 0)
    return strike(self, "update-presence is not available on this path; use /ws or /ws/presence",
                  action);
  auto* url = text_field(self, frame, "url", wire::limits::url, action);
  if (url == nullptr)
    return;
  auto* title = text_field(self, frame, "title", wire::limits::title, action);
  if (title == nullptr)
    return;
  st.strikes = 0;
  tell_user(self, atom::update_presence_v, page_info{*url, *title});
}

/// The conversationId of a chat frame in canonical (lower-case) form, or a strike.
caf::optional<std::string> conversation_of(self_pointer self, const json& frame,
                                           const std::string& action,
                                           const caf::optional<std::string>& temp_id) {
  auto i = frame.find("conversationId");
  auto id = i != frame.end() && i->is_string()
              ? wire::canonical_uuid(i->get_ref<const std::string&>())
              : std::nullopt;
  if (!id) {
    enqueue(self, frames::error("'conversationId' must be a conversation id (a UUID)", action,
                                temp_id));
    if (++self->state.strikes >= self->state.params.settings.max_strikes)
      close(self, close_code::policy_violation, "too many bad frames");
    return caf::none;
  }
  return *id;
}

/// A chat request's failure: an error frame naming the action (and tempMessageId).
auto chat_error(self_pointer self, std::string action, caf::optional<std::string> temp_id) {
  return [self, action = std::move(action), temp_id = std::move(temp_id)](caf::error& err) {
    if (err.category() != caf::atom("tandem") && err != caf::sec::request_timeout)
      log::warn("chat request failed", {{"user", self->state.params.user_id},
                                        {"error", describe(err)}});
    enqueue(self, frames::error(wire::client_detail(err), action, temp_id));
  };
}

void on_send_message(self_pointer self, const json& frame, const std::string& action) {
  auto& st = self->state;
  auto t = wire::text_field(frame, "tempMessageId", {1, wire::limits::temp_message_id});
  if (!t)
    return strike(self, "'tempMessageId' must be a string of 1 to "
                          + std::to_string(wire::limits::temp_message_id) + " characters",
                  action);
  auto temp_id = *t.value;
  auto id = conversation_of(self, frame, action, temp_id);
  if (!id)
    return;
  auto c = frame.find("content");
  if (c == frame.end() || !c->is_string()) {
    enqueue(self, frames::error("'content' must be a string", action, temp_id));
    return;
  }
  std::string content{text::trim(c->get_ref<const std::string&>())};
  auto length = text::length(content);
  if (length == 0 || length > st.params.max_message_length) {
    enqueue(self, frames::error("'content' must be 1 to " + std::to_string(st.params.max_message_length)
                                  + " characters, not blank",
                                action, temp_id));
    return;
  }
  st.strikes = 0;
  // The echo is the new-message push every member's sockets get, this one's included.
  // Past the timeout the sender hears "no answer in time"; the message may still be
  // committed (its echo then follows) and a resend with the same tempMessageId is safe.
  self->request(st.params.chats, st.params.request_timeout * 2, atom::send_message_v, *id, st.params.user_id, temp_id,
                std::move(content))
    .then([](chat_message&) {}, chat_error(self, action, temp_id));
}

void on_conversation_action(self_pointer self, const json& frame, const std::string& action) {
  auto& st = self->state;
  auto id = conversation_of(self, frame, action, caf::none);
  if (!id)
    return;
  st.strikes = 0;
  bool read = action == "read-messages";
  // The user's budget for the action, kept by the user's actor whatever the socket.
  uint8_t kind = read ? flood_budget::receipts : flood_budget::typing;
  auto budget = st.params.cluster
                  ? self->request(st.params.registry, st.params.request_timeout, atom::budget_v,
                                  st.params.user_id, st.ref, kind)
                  : self->request(st.user, st.params.request_timeout, atom::budget_v, kind);
  budget.then(
      [self, read, action, id = *id](bool granted) {
        auto& st = self->state;
        if (!granted) {
          const auto& gw = st.params.settings;
          auto rate = read ? gw.receipts_per_s : gw.typing_per_s;
          enqueue(self, frames::error("Rate limit exceeded: at most " + std::to_string(rate) + " "
                                        + action + " frames per second for this user",
                                      action));
          return;
        }
        if (read)
          self->request(st.params.chats, st.params.request_timeout, atom::mark_read_v, id,
                        st.params.user_id)
            .then([](int64_t) {}, chat_error(self, action, caf::none));
        else
          self->request(st.params.chats, st.params.request_timeout, atom::typing_v, id,
                        st.params.user_id)
            .then([](bool) {}, chat_error(self, action, caf::none));
      },
      chat_error(self, action, caf::none));
}

/// Acts on the token's life at this moment and sets the alarm for its next point: the
/// token-expiring notice (ws.expiry_notice_s before `exp`), then the close
/// (ws.reauth_grace_s after it). An alarm that comes early only sets itself again.
void on_token_due(self_pointer self) {
  auto& st = self->state;
  if (st.params.expires_at == 0 || st.closing)
    return;
  const auto& settings = st.params.settings;
  auto expiry = std::chrono::milliseconds(std::chrono::seconds(st.params.expires_at));
  auto close_at = expiry + std::chrono::duration_cast<std::chrono::milliseconds>(settings.reauth_grace);
  auto now = unix_now_ms(); // token expiries are wall-clock times
  if (now >= close_at)
    return close(self, close_code::token_expired,
                 "token expired; authenticate or reconnect with a fresh token");
  auto notice_at = expiry - std::chrono::duration_cast<std::chrono::milliseconds>(settings.expiry_notice);
  if (!st.warned && now >= notice_at) {
    st.warned = true;
    enqueue(self,
            frames::token_expiring(st.params.expires_at,
                                   std::chrono::duration_cast<std::chrono::seconds>(close_at).count()));
  }
  st.link->alarm((st.warned ? close_at : notice_at) - now);
}

/// The token of an authenticate frame, verified and mapped: it takes the place of the
/// socket's token when it names the same user and session.
void reauthenticate(self_pointer self, const identity& who, const std::string& session,
                    int64_t expires_at) {
  auto& st = self->state;
  const std::string action = "authenticate";
  if (who.user_id != st.params.user_id)
    return enqueue(self, frames::error("The token is for another user", action));
  if (session != st.params.session)
    return enqueue(self,
                   frames::error("The token is of another session; reconnect with it", action));
  st.params.expires_at = expires_at;
  st.warned = false;
  enqueue(self, frames::authenticated(expires_at));
  on_token_due(self);
}

/// `{"action":"authenticate","token"}`: a fresh access token for a socket whose token
/// expires. A refusal is an error frame; the socket keeps its old token (and deadline).
void on_authenticate(self_pointer self, const json& frame, const std::string& action) {
  auto& st = self->state;
  if (!st.params.tokens)  // a connection made without them (actor tests) has no sessions
    return strike(self, "Unknown action '" + action + "'", action);
  auto* token = text_field(self, frame, "token", token_service::max_token_size, action);
  if (token == nullptr || st.closing)
    return;
  st.strikes = 0;
  auto check = st.params.tokens->verify(*token);
  if (check.who)
    return reauthenticate(self, *check.who, check.session, check.expires_at);
  if (!check.external)
    return enqueue(self, frames::error(check.failure, action));
  if (auto who = st.params.identities->cached(*check.external))
    return reauthenticate(self, *who, check.session, check.expires_at);
  // Mapping asks the database: the answer comes back as a message.
  st.params.identities->resolve(
    *check.external, [conn = caf::actor_cast<connection_actor>(self),
                      expires_at = check.expires_at](caf::expected<identity> mapped) {
      if (mapped)
        caf::anon_send(conn, atom::reauthenticated_v, std::move(*mapped), expires_at, std::string{});
      else
        caf::anon_send(conn, atom::reauthenticated_v, identity{}, int64_t{0},
                       wire::client_detail(mapped.error()));
    });
}

void on_heartbeat(self_pointer self, const json&, const std::string&) {
  self->state.strikes = 0;
  tell_user(self, atom::presence_heartbeat_v);
}

/// The actions a client may send and their handlers: the one table that routes frames
/// and that `ws_actions` lists.
struct inbound_action {
  const char* name;
  void (*handle)(self_pointer, const json&, const std::string&);
};
constexpr inbound_action inbound_actions[] = {
  {"heartbeat", on_heartbeat},
  {"update-presence", on_update_presence},
  {"send-message", on_send_message},
  {"read-messages", on_conversation_action},
  {"typing", on_conversation_action},
  {"authenticate", on_authenticate},
};

/// The WebSocket paths and the event kinds each subscribes to.
struct ws_path {
  const char* path;
  uint8_t kinds;
};
constexpr ws_path ws_path_table[] = {
  {"/ws", event_kind::all},
  {"/ws/chat", event_kind::chat},
  {"/ws/presence", event_kind::presence | event_kind::social},
};

/// Routes one inbound text frame by its `action`.
void on_frame(self_pointer self, const std::string& text) {
  auto& st = self->state;
  if (!take_token(self))
    return strike(self, "Rate limit exceeded: at most " + std::to_string(st.params.settings.rate_per_s)
                          + " frames per second");
  std::string bad_text;
  auto frame = wire::parse_client_json(text, bad_text);
  if (!bad_text.empty())
    return strike(self, bad_text);
  if (frame.is_discarded() || !frame.is_object())
    return strike(self, "A frame must be a JSON object");
  auto a = frame.find("action");
  if (a == frame.end() || !a->is_string())
    return strike(self, "A frame must have a string 'action'");
  const auto& action = a->get_ref<const std::string&>();
  for (const auto& entry : inbound_actions)
    if (action == entry.name)
      return entry.handle(self, frame, action);
  strike(self, "Unknown action '" + action + "'", action);
}

} // namespace

gateway_settings gateway_settings_from(const config::app_config& cfg) {
  gateway_settings s;
  s.max_connections = static_cast<std::size_t>(cfg.ws.max_connections);
  s.send_queue_limit = cfg.ws.send_queue_limit;
  s.rate_per_s = cfg.ws.rate_per_s;
  s.rate_burst = cfg.ws.rate_burst;
  s.max_strikes = cfg.ws.max_strikes;
  s.presence_timeout = std::chrono::seconds(cfg.ws.presence_timeout_s);
  s.close_timeout = std::chrono::milliseconds(cfg.ws.close_timeout_ms);
  s.presence_per_s = cfg.ws.presence_per_s;
  s.presence_burst = cfg.ws.presence_burst;
  s.typing_per_s = cfg.ws.typing_per_s;
  s.typing_burst = cfg.ws.typing_burst;
  s.receipts_per_s = cfg.ws.receipts_per_s;
  s.receipts_burst = cfg.ws.receipts_burst;
  s.fanout_backlog = cfg.ws.fanout_backlog;
  s.reauth_grace = std::chrono::seconds(cfg.ws.reauth_grace_s);
  s.expiry_notice = std::chrono::seconds(cfg.ws.expiry_notice_s);
  return s;
}

uint8_t subscriptions_of(const std::string& path) {
  for (const auto& p : ws_path_table)
    if (path == p.path)
      return p.kinds;
  return 0;
}

std::vector<std::string> ws_paths() {
  std::vector<std::string> out;
  for (const auto& p : ws_path_table)
    out.emplace_back(p.path);
  return out;
}

std::vector<std::string> ws_actions() {
  std::vector<std::string> out;
  for (const auto& a : inbound_actions)
    out.emplace_back(a.name);
  return out;
}

connection_actor::behavior_type connection_impl(self_pointer self, connection_params params,
                                                std::shared_ptr<ws_link> link) {
  auto& st = self->state;
  st.params = std::move(params);
  st.link = std::move(link);
  st.queue = outbound_queue{st.params.settings.send_queue_limit};
  st.frames = token_bucket{static_cast<double>(st.params.settings.rate_per_s),
                           static_cast<double>(st.params.settings.rate_burst), self->clock().now()};
  // The client gets a plain detail (the link maps the error); the cause is here.
  auto refused = [self](caf::error& err) {
    if (code_of(err) != errc::rate_limited)
      log::warn("websocket registration failed",
                {{"user", self->state.params.user_id}, {"error", describe(err)}});
    self->state.link->refuse(std::move(err));
    self->quit();
  };
  // The user's actor may hold the answer until an evicted socket has closed.
  auto wait = st.params.request_timeout + st.params.settings.close_timeout;
  if (st.params.cluster) {
    st.ref = {st.params.cluster.node, self->id()};
    self->send(st.params.cluster.directory, atom::register_connection_v,
               connection_actor{self});
    // The user's actor may be on another node and cannot monitor this one: however
    // this actor ends, its user's actor hears it (a no-op if it never seated it).
    self->attach_functor([registry = st.params.registry, user = st.params.user_id,
                          ref = st.ref] {
      caf::anon_send(registry, atom::close_connection_v, user, ref);
    });
    self->request(st.params.registry, wait, atom::open_connection_v, st.params.user_id,
                  st.params.kinds, st.ref)
      .then(
        [self](node_identity& home) {
          self->state.home = std::move(home);
          self->state.link->accept();
        },
        refused);
  } else {
    // The user's actor is gone (it failed or its node stops): pushes would go nowhere.
    self->set_down_handler([self](caf::down_msg&) { lose_session(self); });
    self->request(st.params.registry, wait, atom::open_connection_v, st.params.user_id,
                  st.params.kinds, caf::actor_cast<caf::actor>(self))
      .then(
        [self](caf::actor& user) {
          auto& st = self->state;
          st.user = caf::actor_cast<user_actor>(user);
          self->monitor(user);
          st.link->accept();
        },
        refused);
  }
  return {
    [self](atom::push, const ws_push& push) {
      if ((push.kind & self->state.params.kinds) == 0)
        return;
      count_push(self, push.kind);
      enqueue(self, push.frame);
    },
    [self](atom::websocket_opened) {
      self->state.open = true;
      flush(self);
      on_token_due(self);
    },
    [self](atom::websocket_frame, const std::string& text) {
      if (!self->state.closing)
        on_frame(self, text);
      self->state.link->read_more();
    },
    [self](atom::websocket_bad_frame, const std::string& detail) {
      if (!self->state.closing)
        strike(self, detail);
      self->state.link->read_more();
    },
    [self](atom::websocket_sent) {
      self->state.writing = false;
      flush(self);
    },
    [self](atom::websocket_closed) {
      // A monitor lives in the monitored actor until one of the two ends: the user's
      // actor outlives its connections, so drop it, or every closed socket would leave
      // its (dead) actor's memory pinned there.
      if (self->state.user)
        self->demonitor(self->state.user.address());
      self->quit();
    },
    [self](atom::evict) {
      close(self, close_code::replaced, "too many connections: replaced by a newer one");
    },
    [self](atom::session_end, const std::string& session) {
      if (!session.empty() && session == self->state.params.session)
        close(self, close_code::session_ended, "session signed out");
    },
    [self](atom::token_expiring) { on_token_due(self); },
    [self](atom::reauthenticated, const identity& who, int64_t expires_at, const std::string& failure) {
      if (self->state.closing)
        return;
      if (who.user_id.empty())
        return enqueue(self, frames::error(failure, std::string{"authenticate"}));
      reauthenticate(self, who, {}, expires_at);
    },
    [self](atom::connection_lost) { lose_session(self); },
    [self](atom::node_gone, const node_identity& node) {
      if (self->state.params.cluster && node == self->state.home)
        lose_session(self);
    },
  };
}

connection_actor spawn_connection(caf::actor_system& sys, connection_params params,
                                  std::shared_ptr<ws_link> link) {
  return sys.spawn(connection_impl, std::move(params), std::move(link));
}

} // namespace tandem
