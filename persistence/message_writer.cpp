#include "persistence/message_writer.hpp"

#include "config/log.hpp"

#include <algorithm>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tandem::persistence {

namespace {

struct writer_state {
  struct pending_write {
    chat_message message;
    caf::typed_response_promise<bool> rp;
  };

  chat_db db;
  message_writer_settings settings;
  std::shared_ptr<message_writer_counters> counters;
  std::vector<pending_write> pending;
  bool committing = false;
  bool timer_armed = false;

  static inline const char* name = "tandem.message_writer";
};

using self_pointer = message_writer_actor::stateful_pointer<writer_state>;

void commit(self_pointer self) {
  auto& st = self->state;
  auto n = std::min(st.pending.size(), st.settings.commit_batch);
  std::vector<writer_state::pending_write> batch(std::make_move_iterator(st.pending.begin()),
                                                 std::make_move_iterator(st.pending.begin() + n));
  st.pending.erase(st.pending.begin(), st.pending.begin() + n);
  std::vector<chat_message> rows;
  rows.reserve(n);
  for (const auto& w : batch)
    rows.push_back(w.message);
  st.committing = true;
  auto shared = std::make_shared<std::vector<writer_state::pending_write>>(std::move(batch));
  auto next = [self] {
    auto& st = self->state;
    st.committing = false;
    // What arrived during the commit goes at once: it has waited long enough.
    if (!st.pending.empty())
      commit(self);
  };
  self->request(st.db, st.settings.request_timeout, atom::ch_insert_v, std::move(rows))
    .then(
      [self, shared, next](std::vector<std::string>& inserted) {
        auto& c = *self->state.counters;
        ++c.batches;
        c.messages += shared->size();
        auto largest = c.largest_batch.load();
        while (shared->size() > largest
               && !c.largest_batch.compare_exchange_weak(largest, shared->size())) {
        }
        std::unordered_set<std::string> stored(inserted.begin(), inserted.end());
        for (auto& w : *shared)
          w.rp.deliver(stored.count(w.message.message_id) != 0);
        next();
      },
      [self, shared, next](caf::error& err) {
        ++self->state.counters->failed_batches;
        log::warn("message batch not committed",
                  {{"messages", shared->size()}, {"error", describe(err)}});
        for (auto& w : *shared)
          w.rp.deliver(err);
        next();
      });
}

message_writer_actor::behavior_type writer_impl(self_pointer self, chat_db db,
                                                message_writer_settings settings,
                                                std::shared_ptr<message_writer_counters> counters) {
  self->state.db = std::move(db);
  self->state.settings = settings;
  self->state.counters = std::move(counters);
  return {
    [self](atom::msg_write, chat_message& m) -> caf::result<bool> {
      auto& st = self->state;
      if (st.pending.size() >= st.settings.queue_limit)
        return caf::make_error(errc::overloaded, "Too many messages waiting to be stored");
      auto rp = self->make_response_promise<bool>();
      st.pending.push_back({std::move(m), rp});
      if (st.committing)
        return rp;
      if (st.pending.size() >= st.settings.commit_batch)
        commit(self);
      else if (!st.timer_armed) {
        st.timer_armed = true;
        self->delayed_send(self, st.settings.commit_delay, atom::flush_v);
      }
      return rp;
    },
    [self](atom::flush) {
      auto& st = self->state;
      st.timer_armed = false;
      if (!st.committing && !st.pending.empty())
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
