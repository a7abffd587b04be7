#include "actors/conversation_actor.hpp"

#include "actors/passivation.hpp"
#include "wire/ws_frames.hpp"
#include "common/wall_clock.hpp"
#include "config/log.hpp"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <algorithm>

namespace tandem {

// -- state ----------------------------------------------------------------------------------

namespace {

/// The key of `sent`: a sender id holds no NUL, so the first one ends it.
std::string sent_key(const std::string& sender, const std::string& temp_id) {
  std::string key;
  key.reserve(sender.size() + 1 + temp_id.size());
  key.append(sender).push_back('\0');
  key.append(temp_id);
  return key;
}

} // namespace

const chat_message* conversation_state::find_sent(const std::string& sender,
                                                  const std::string& temp_id) const {
  auto i = sent.find(sent_key(sender, temp_id));
  return i == sent.end() ? nullptr : i->second;
}

void conversation_state::index(const chat_message& m) {
  sent[sent_key(m.sender_id, m.client_message_id)] = &m;
}

void conversation_state::install(conversation_snapshot snap) {
  cursors.clear();
  for (std::size_t i = 0; i < snap.members.size(); ++i)
    cursors[snap.members[i]] = snap.last_read[i];
  last_seq = snap.last_seq;
  ring.assign(snap.recent.begin(), snap.recent.end());
  sent.clear();
  for (const auto& m : ring)
    index(m);
}

void conversation_state::done_reading(const std::string& reader, int64_t seq) {
  if (auto i = reading.find(reader); i != reading.end() && i->second == seq)
    reading.erase(i);
}

void conversation_state::remember(const chat_message& m) {
  ring.push_back(m);
  index(ring.back());
  while (ring.size() > settings.ring_size) {
    auto i = sent.find(sent_key(ring.front().sender_id, ring.front().client_message_id));
    if (i != sent.end() && i->second == &ring.front())
      sent.erase(i);
    ring.pop_front();
  }
}

chat_settings chat_settings_from(const config::app_config& cfg) {
  chat_settings s;
  s.max_message_length = cfg.chat.max_message_length;
  s.rate_per_s = cfg.chat.rate_per_s;
  s.rate_burst = cfg.chat.rate_burst;
  s.conversations_per_hour = cfg.chat.conversations_per_hour;
  s.conversations_burst = cfg.chat.conversations_burst;
  s.ring_size = cfg.chat.ring_size;
  s.send_queue_limit = cfg.chat.send_queue_limit;
  s.idle_timeout = std::chrono::seconds(cfg.chat.idle_timeout_s);
  s.request_timeout = std::chrono::milliseconds(cfg.http.request_timeout_ms);
  s.takeover_limit = cfg.cluster.takeover_limit;
  s.claim_wait = std::chrono::milliseconds(cfg.cluster.renew_interval_ms);
  s.sweep_interval = std::chrono::milliseconds(cfg.cluster.sweep_interval_ms);
  return s;
}

persistence::message_writer_settings message_writer_settings_from(const config::app_config& cfg) {
  persistence::message_writer_settings s;
  s.commit_delay = std::chrono::microseconds(cfg.chat.commit_delay_us);
  s.commit_batch = cfg.chat.commit_batch;
  s.queue_limit = cfg.chat.writer_queue_limit;
  s.request_timeout = std::chrono::milliseconds(cfg.http.request_timeout_ms);
  return s;
}

namespace {

using self_pointer = conversation_actor::stateful_pointer<conversation_state>;

/// A random (version 4) UUID in canonical text.
std::string new_uuid() {
  thread_local boost::uuids::random_generator generate;
  return boost::uuids::to_string(generate());
}

caf::error not_a_member() {
  return caf::make_error(errc::forbidden, "Not a participant of this conversation");
}

/// Counts a routed message (see `count_routed`) and refuses non-members.
caf::error admit(self_pointer self, const std::string& user) {
  if (auto err = count_routed(self))
    return err;
  if (!self->state.is_member(user))
    return not_a_member();
  return caf::none;
}

void push_to(self_pointer self, const std::string& user, const ws_push& push) {
  self->send(self->state.users, atom::push_v, user, push);
}

/// One message to the user registry, which skips members without a live connection.
void push_to_members(self_pointer self, const ws_push& push, const std::string& except = {}) {
  std::vector<std::string> to;
  to.reserve(self->state.cursors.size());
  for (const auto& [member, seq] : self->state.cursors)
    if (member != except)
      to.push_back(member);
  if (!to.empty())
    self->send(self->state.users, atom::fanout_v, std::move(to), push);
}

void start_next_send(self_pointer self);

/// A passivated actor goes once nothing it accepted is in flight: a hand-over lets its
/// queued sends commit and be answered here, then releases the key (so that the next
/// owner claims it at once and loads every commit), rather than dropping them unanswered.
void leave_when_done(self_pointer self) {
  auto& st = self->state;
  if (!st.passivating || !st.sends.empty() || st.sending || st.reads_in_flight != 0)
    return;
  release_key(self, atom::release_conversation_v);
  self->quit();
}

/// The conversation was claimed by another node (`err` is errc::moved): nothing more of
/// it may be committed here, so every waiting sender is told to retry (where the
/// conversation now lives) and the actor asks to be let go.
void fence(self_pointer self, caf::error err) {
  auto& st = self->state;
  log::info("conversation fenced: another node claimed it", {{"conversation", st.id}});
  for (auto& send : st.sends)
    send.rp.deliver(err);
  st.sends.clear();
  st.sending = false;
  st.failure = std::move(err);
  report_idle(self);
  leave_when_done(self);
}

void finish_send(self_pointer self) {
  auto& st = self->state;
  st.sends.pop_front();
  st.sending = false;
  start_next_send(self);
  leave_when_done(self);
}

/// Commits the send in front: seq = last_seq + 1, durable before anyone sees it.
void commit_send(self_pointer self) {
  auto& st = self->state;
  auto& front = st.sends.front();
  if (const auto* sent = st.find_sent(front.sender, front.temp_id)) {
    push_to(self, front.sender, frames::new_message(*sent));
    front.rp.deliver(*sent);
    return finish_send(self);
  }
  chat_message m{st.id, st.last_seq + 1, new_uuid(), front.sender, front.content, unix_now_iso8601(),
                 front.temp_id};
  auto on_written = [self, m](bool stored) {
    auto& st = self->state;
    auto rp = st.sends.front().rp;
    if (!stored) {
      // Sent before the ring's window: answer with the original from the database.
      self->request(st.db, st.settings.request_timeout, atom::find_message_v, st.id, m.sender_id,
                    m.client_message_id)
        .then(
          [self, rp](chat_message& original) mutable {
            push_to(self, original.sender_id, frames::new_message(original));
            rp.deliver(original);
            finish_send(self);
          },
          [self, rp](caf::error& err) mutable {
            rp.deliver(std::move(err));
            finish_send(self);
          });
      return;
    }
    st.last_seq = m.seq;
    // The sender may have left the group while the message was committed.
    if (auto sender = st.cursors.find(m.sender_id); sender != st.cursors.end())
      sender->second = std::max(sender->second, m.seq);
    st.remember(m);
    push_to_members(self, frames::new_message(m));
    rp.deliver(m);
    finish_send(self);
  };
  auto on_error = [self](caf::error& err) {
    auto& st = self->state;
    auto code = code_of(err);
    if (code == errc::moved)
      return fence(self, std::move(err));
    // A lost reply may hide a commit: reload the latest seq before the next send.
    if (code != errc::overloaded)
      st.reload_before_send = true;
    st.sends.front().rp.deliver(std::move(err));
    finish_send(self);
  };
  // Unbounded here: the writer always answers, after its own bounded database request.
  if (st.epoch == 0)
    self->request(st.writer, caf::infinite, atom::write_message_v, m).then(on_written, on_error);
  else
    self->request(st.writer, caf::infinite, atom::write_message_v, m, st.epoch)
      .then(on_written, on_error);
}

void start_next_send(self_pointer self) {
  auto& st = self->state;
  if (st.sending || st.sends.empty())
    return;
  st.sending = true;
  if (!st.reload_before_send)
    return commit_send(self);
  self->request(st.db, st.settings.request_timeout, atom::load_conversation_v, st.id,
                static_cast<int32_t>(st.settings.ring_size))
    .then(
      [self](conversation_snapshot& snap) {
        self->state.install(std::move(snap));
        self->state.reload_before_send = false;
        commit_send(self);
      },
      [self](caf::error& err) {
        self->state.sends.front().rp.deliver(std::move(err));
        finish_send(self);
      });
}

void schedule_tick(self_pointer self) {
  self->delayed_send(self, self->state.settings.idle_timeout, atom::tick_v, true);
}

/// The claim or the load failed: everything routed here is answered with `err`.
void fail_to_start(self_pointer self, caf::error err) {
  auto& st = self->state;
  auto code = code_of(err);
  if (code != errc::not_found && code != errc::moved)
    log::warn("conversation actor could not load", {{"conversation", st.id},
                                                    {"error", describe(err)}});
  st.failure = std::move(err);
  report_idle(self);
}

/// Loads the conversation before the actor serves anything.
void load(self_pointer self) {
  auto& st = self->state;
  self->request(st.db, st.settings.request_timeout, atom::load_conversation_v, st.id,
                static_cast<int32_t>(st.settings.ring_size))
    .await(
      [self](conversation_snapshot& snap) {
        self->state.install(std::move(snap));
        schedule_tick(self);
      },
      [self](caf::error& err) { fail_to_start(self, std::move(err)); });
}

} // namespace

conversation_actor::behavior_type
conversation_impl(self_pointer self, std::string id, persistence::chat_db db,
                  persistence::message_writer_actor writer, user_registry_actor users,
                  chat_settings settings, conversation_registry_actor registry) {
  auto& st = self->state;
  st.id = std::move(id);
  st.db = std::move(db);
  st.writer = std::move(writer);
  st.users = std::move(users);
  st.registry = std::move(registry);
  st.settings = settings;
  st.last_active = self->clock().now();
  // Claimed before it is loaded, so that what is loaded is what the last owner committed.
  claim_then_load(self, atom::claim_conversation_v, st.settings.cluster_node, load,
                  fail_to_start);
  return {
    [self](atom::send_message, const std::string&, const std::string& sender,
           const std::string& temp_id, const std::string& content) -> caf::result<chat_message> {
      if (auto err = admit(self, sender))
        return err;
      auto& st = self->state;
      if (st.sends.size() > st.settings.send_queue_limit)
        return caf::make_error(errc::overloaded, "Too many messages waiting in this conversation");
      auto rp = self->make_response_promise<chat_message>();
      st.sends.push_back({sender, temp_id, content, rp});
      start_next_send(self);
      return rp;
    },
    [self](atom::mark_read, const std::string&, const std::string& reader) -> caf::result<int64_t> {
      if (auto err = admit(self, reader))
        return err;
      auto& st = self->state;
      auto seq = st.last_seq;
      // Nothing new since the cursor (or a read in flight) got there: no write, no frames,
      // so a repeated read-messages costs nothing.
      auto pending = st.reading.find(reader);
      if (st.cursors[reader] >= seq || (pending != st.reading.end() && pending->second >= seq))
        return seq;
      st.reading[reader] = seq;
      auto rp = self->make_response_promise<int64_t>();
      ++st.reads_in_flight;
      self->request(st.db, st.settings.request_timeout, atom::store_read_cursor_v, st.id, reader, seq)
        .then(
          [self, rp, reader, seq](bool) mutable {
            auto& st = self->state;
            --st.reads_in_flight;
            st.done_reading(reader, seq);
            // Nothing to tell when the reader left the group meanwhile.
            if (auto cursor = st.cursors.find(reader); cursor != st.cursors.end()) {
              cursor->second = std::max(cursor->second, seq);
              push_to(self, reader, frames::read_messages(st.id, reader));
              push_to_members(self, frames::read_receipt(st.id, reader, seq), reader);
            }
            rp.deliver(seq);
            leave_when_done(self);
          },
          [self, rp, reader, seq](caf::error& err) mutable {
            --self->state.reads_in_flight;
            self->state.done_reading(reader, seq);
            rp.deliver(std::move(err));
            leave_when_done(self);
          });
      return rp;
    },
    [self](atom::leave_conversation, const std::string&, const std::string& user) -> caf::result<bool> {
      if (auto err = admit(self, user))
        return err;
      auto& st = self->state;
      auto rp = self->make_response_promise<bool>();
      ++st.reads_in_flight;
      self->request(st.db, st.settings.request_timeout, atom::remove_participant_v, st.id, user)
        .then(
          // Not a member any more in the database: a retry of a leave whose reply was
          // lost, which this actor now catches up with.
          [self, rp, user](bool) mutable {
            auto& st = self->state;
            --st.reads_in_flight;
            push_to_members(self, frames::participant_left(st.id, user));
            st.cursors.erase(user);
            st.reading.erase(user);
            rp.deliver(true);
            // The last one out deleted the conversation: answered as unknown from now on.
            if (st.cursors.empty()) {
              st.failure = caf::make_error(errc::not_found, "Conversation not found");
              report_idle(self);
            }
            leave_when_done(self);
          },
          [self, rp](caf::error& err) mutable {
            auto& st = self->state;
            --st.reads_in_flight;
            // A lost reply may hide the removal: the members are read again before the
            // next send.
            if (code_of(err) != errc::invalid_request)
              st.reload_before_send = true;
            rp.deliver(std::move(err));
            leave_when_done(self);
          });
      return rp;
    },
    [self](atom::typing, const std::string&, const std::string& user) -> caf::result<bool> {
      if (auto err = admit(self, user))
        return err;
      push_to_members(self, frames::typing(self->state.id, user), user);
      return true;
    },
    [self](atom::messages_after, const std::string&, const std::string& caller, int64_t after,
           int32_t limit) -> caf::result<std::vector<chat_message>> {
      if (auto err = admit(self, caller))
        return err;
      auto& st = self->state;
      // After a commit whose outcome is unknown, last_seq and the ring may lack a stored
      // message until the next send reloads them: only the database knows the end then.
      bool covered = !st.reload_before_send
                     && (after >= st.last_seq
                         || (!st.ring.empty() && st.ring.front().seq <= after + 1));
      if (covered) {
        std::vector<chat_message> out;
        for (const auto& m : st.ring)
          if (m.seq > after && out.size() < static_cast<std::size_t>(limit))
            out.push_back(m);
        return out;
      }
      return self->delegate(st.db, atom::message_history_v, caller, st.id,
                            message_query{message_query::after_seq, limit, 0, after, true});
    },
    [self](atom::tick, bool) {
      auto& st = self->state;
      auto idle_for = self->clock().now() - st.last_active;
      if (idle_for >= st.settings.idle_timeout && st.sends.empty() && st.reads_in_flight == 0)
        report_idle(self);
      schedule_tick(self);
    },
    [self](atom::passivate) {
      // The registry routes nothing more here; what it routed before is answered first.
      self->state.passivating = true;
      leave_when_done(self);
    },
  };
}

} // namespace tandem
