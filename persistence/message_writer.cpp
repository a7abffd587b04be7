#include "persistence/message_writer.hpp"

#include "common/published.hpp"
#include "common/text.hpp"
#include "config/log.hpp"
#include "persistence/group_commit.hpp"
#include "persistence/pq_errors.hpp"

#include <algorithm>
#include <functional>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tandem::persistence {

namespace {

struct writer_state {
  struct pending_write {
    chat_message message;
    caf::typed_response_promise<bool> rp;
    int64_t epoch = 0; ///< its conversation's claim in a cluster, else 0 (no fence)
    caf::actor_clock::time_point arrived;
  };

  chat_db db;
  message_writer_settings settings;
  std::shared_ptr<message_writer_counters> counters;
  group_commit<pending_write> pending;
  bool timer_armed = false;

  static inline const char* name = "tandem.message_writer";
};

using self_pointer = message_writer_actor::stateful_pointer<writer_state>;

using batch_ptr = group_commit<writer_state::pending_write>::batch;

/// Records the writes of `batch`, answered now: how long each waited since it arrived, and
/// what waits in the writer's mailbox.
void observe_answered(self_pointer self, const std::vector<writer_state::pending_write>& batch) {
  sample_mailbox(self, self->state.counters->mailbox);
  auto now = self->clock().now();
  for (const auto& w : batch)
    self->state.counters->latency.observe(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(now - w.arrived).count()));
}

/// Counts a committed transaction and answers its writers: a message inserted true, one
/// skipped as a resend false, and every message of a fenced conversation
/// `errc::moved`.
void answer(self_pointer self, const batch_ptr& batch, const std::vector<std::string>& inserted,
            const std::vector<std::string>& fenced) {
  auto& c = *self->state.counters;
  ++c.batches;
  c.messages += batch->size();
  c.batch_sizes.observe(batch->size());
  auto largest = c.largest_batch.load();
  while (batch->size() > largest
         && !c.largest_batch.compare_exchange_weak(largest, batch->size())) {
  }
  std::unordered_set<std::string> stored(inserted.begin(), inserted.end());
  std::unordered_set<std::string> moved(fenced.begin(), fenced.end());
  for (auto& w : *batch) {
    if (moved.count(w.message.conversation_id) != 0)
      w.rp.deliver(caf::make_error(errc::moved, "The conversation moved to another node"));
    else
      w.rp.deliver(stored.count(w.message.message_id) != 0);
  }
  observe_answered(self, *batch);
}

/// Inserts `batch` in one transaction (fenced when its writes carry epochs) and answers
/// its writers, then calls `done`. When a row error fails a batch of several rows, each
/// half is tried in a transaction of its own, and so on down: only the offending rows
/// fail, everyone else's are committed.
void insert(self_pointer self, batch_ptr batch, std::function<void()> done) {
  auto on_error = [self, batch, done](caf::error& err) {
    if (batch->size() > 1 && is_row_error(err)) {
      auto halves = split_in_halves(*batch);
      insert(self, halves.first,
             [self, second = halves.second, done] { insert(self, second, done); });
      return;
    }
    ++self->state.counters->failed_batches;
    log::warn("message batch not committed",
              {{"messages", batch->size()}, {"error", describe(err)}});
    for (auto& w : *batch)
      w.rp.deliver(err);
    observe_answered(self, *batch);
    done();
  };
  std::vector<chat_message> rows;
  std::vector<int64_t> epochs;
  rows.reserve(batch->size());
  for (const auto& w : *batch) {
    rows.push_back(w.message);
    epochs.push_back(w.epoch);
  }
  auto timeout = self->state.settings.request_timeout;
  if (batch->front().epoch == 0) {
    self->request(self->state.db, timeout, atom::insert_messages_v, std::move(rows))
      .then(
        [self, batch, done](std::vector<std::string>& inserted) {
          answer(self, batch, inserted, {});
          done();
        },
        on_error);
    return;
  }
  self->request(self->state.db, timeout, atom::insert_fenced_messages_v, std::move(rows),
                std::move(epochs))
    .then(
      [self, batch, done](fenced_batch& result) {
        answer(self, batch, result.inserted, result.fenced);
        done();
      },
      on_error);
}

void commit(self_pointer self) {
  auto& st = self->state;
  // A batch is fenced or not as a whole: the prefix of writes alike in that.
  const auto& waiting = st.pending.waiting();
  auto limit = std::min(waiting.size(), st.settings.commit_batch);
  std::size_t n = 1;
  while (n < limit && (waiting[n].epoch == 0) == (waiting.front().epoch == 0))
    ++n;
  auto batch = st.pending.start(n);
  st.counters->waiting = waiting.size();
  insert(self, std::move(batch), [self] {
    if (self->state.pending.finish())
      commit(self);
  });
}

/// The writer's own check of a row before it joins a batch (the gateway checked it
/// already): text the database would refuse must not fail anyone else's messages.
caf::error check_row(const chat_message& m) {
  for (const std::string* s : {&m.conversation_id, &m.message_id, &m.sender_id, &m.content,
                               &m.sent_at, &m.client_message_id})
    if (auto f = text::check(*s); f != text::fault::none)
      return caf::make_error(errc::invalid_request, std::string{"Message text "} + text::describe(f));
  return caf::none;
}

/// Queues a write (see message_writer_actor) with its conversation's epoch (0: unfenced)
/// and starts a batch when one is full.
caf::result<bool> enqueue(self_pointer self, chat_message m, int64_t epoch) {
  auto& st = self->state;
  sample_mailbox(self, st.counters->mailbox);
  if (auto err = check_row(m))
    return err;
  if (st.pending.waiting().size() >= st.settings.queue_limit) {
    ++st.counters->refused;
    return caf::make_error(errc::overloaded, "Too many messages waiting to be stored");
  }
  auto rp = self->make_response_promise<bool>();
  st.pending.add({std::move(m), rp, epoch, self->clock().now()});
  st.counters->waiting = st.pending.waiting().size();
  if (st.pending.committing())
    return rp;
  if (st.pending.waiting().size() >= st.settings.commit_batch)
    commit(self);
  else if (!st.timer_armed) {
    st.timer_armed = true;
    self->delayed_send(self, st.settings.commit_delay, atom::flush_v);
  }
  return rp;
}

message_writer_actor::behavior_type writer_impl(self_pointer self, chat_db db,
                                                message_writer_settings settings,
                                                std::shared_ptr<message_writer_counters> counters) {
  self->state.db = std::move(db);
  self->state.settings = settings;
  self->state.counters = std::move(counters);
  return {
    [self](atom::write_message, chat_message& m) -> caf::result<bool> {
      return enqueue(self, std::move(m), 0);
    },
    [self](atom::write_message, chat_message& m, int64_t epoch) -> caf::result<bool> {
      return enqueue(self, std::move(m), epoch);
    },
    [self](atom::flush) {
      auto& st = self->state;
      st.timer_armed = false;
      if (!st.pending.committing() && !st.pending.waiting().empty())
        commit(self);
    },
  };
}

} // namespace

message_writer_actor spawn_message_writer(caf::actor_system& sys, chat_db db,
                                          message_writer_settings settings,
                                          std::shared_ptr<message_writer_counters> counters) {
  return sys.spawn(writer_impl, std::move(db), settings, std::move(counters));
}

} // namespace tandem::persistence
