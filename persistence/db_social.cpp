// The database facade's profiles, social graph and share notifications (social_db and
// social_queries): one handler each, its name, then its work inside one transaction;
// shares are committed in batches (see commit_shares).
#include "persistence/db_facade.hpp"
#include "persistence/media_repo.hpp"
#include "persistence/ownership_repo.hpp"
#include "persistence/pq_errors.hpp"
#include "persistence/social_repo.hpp"
#include "persistence/users_repo.hpp"

#include <algorithm>
#include <functional>
#include <memory>

namespace tandem::persistence {

namespace {

/// `errc::moved` when the user's claim moved on from `fence.epoch` (docs/cluster.md,
/// Ownership), else none; locks the user's key_owners row until the transaction ends.
/// Epoch 0 fences nothing and runs no statement.
caf::error fenced_out(pqxx::work& tx, const write_fence& fence) {
  if (fence.epoch != 0 && !ownership::hold(tx, ownership::key_kind::user, fence.key, fence.epoch))
    return caf::make_error(errc::moved, "The user moved to another node");
  return caf::none;
}

/// Runs `fn(tx)` as one transaction on a worker (see db_state::transact), fenced by the
/// user's claim (see fenced_out and social_db).
template <class F>
auto transact_fenced(db_self self, std::string operation, write_fence fence, F fn) {
  using reply = detail::reply_type_t<std::invoke_result_t<F&, pqxx::work&>>;
  return self->state.transact(
    std::move(operation),
    [fence = std::move(fence), fn = std::move(fn)](pqxx::work& tx) -> caf::expected<reply> {
      if (auto err = fenced_out(tx, fence))
        return err;
      return fn(tx);
    });
}

// -- the group commit of shares ---------------------------------------------------

using share_batch = group_commit<pending_share>::batch;

/// Most shares committed in one transaction: a batch's commit answers them all, a
/// failed one is tried again in halves (see insert_shares).
constexpr std::size_t max_shares_per_transaction = 64;

/// Stores `batch` in one transaction on the share worker, answers each share once it
/// committed, then calls `done`. A share's own refusal (its sender has no profile,
/// `sent_to` is no friend, the user moved) is its answer alone. An error that one row may
/// cause (a constraint) fails the transaction: a batch of several is then tried again in
/// halves, and so on down, so that only the offending share fails. An unreachable or slow
/// database fails the whole batch, which no retry would help.
void insert_shares(db_self self, share_batch batch, std::function<void()> done) {
  auto failed = [self, batch, done](const caf::error& err) {
    if (batch->size() > 1 && is_row_error(err)) {
      auto halves = split_in_halves(*batch);
      insert_shares(self, halves.first,
                    [self, second = halves.second, done] { insert_shares(self, second, done); });
      return;
    }
    for (auto& share : *batch)
      share.rp.deliver(err);
    done();
  };
  pool_job<db_session> job;
  job.name = "insert_shares";
  // Runs on the worker's thread: reads the batch's requests, never its promises.
  job.run = [batch, done](db_session& session) -> completion {
    auto receipts = with_transaction(session.connection(), [&batch](pqxx::work& tx) {
      std::vector<caf::expected<share_receipt>> out;
      out.reserve(batch->size());
      for (const auto& share : *batch) {
        if (auto err = fenced_out(tx, share.fence))
          out.emplace_back(std::move(err));
        else
          out.push_back(social::insert_share(tx, share.sender, share.req));
      }
      return out;
    });
    return {[batch, done, receipts = std::move(receipts)]() mutable {
      for (std::size_t i = 0; i < batch->size(); ++i) {
        if (receipts[i])
          (*batch)[i].rp.deliver(std::move(*receipts[i]));
        else
          (*batch)[i].rp.deliver(std::move(receipts[i].error()));
      }
      done();
    }};
  };
  job.fail = [failed](caf::error err) -> completion {
    return {[failed, err] { failed(err); }};
  };
  auto& st = self->state;
  if (!st.share_worker)
    st.share_worker = st.make_worker(self->system());
  // No timeout, as in the pool: statement_timeout bounds the work.
  self->request(st.share_worker, caf::infinite, atom::run_v, std::move(job))
    .then([](completion& answer) { answer.deliver(); },
          [self, failed](caf::error& err) {
            // The worker died (it never throws): the next batch starts another.
            log::error("share worker failed", {{"error", describe(err)}});
            self->state.share_worker = pool_worker<db_session>{};
            failed(caf::make_error(errc::internal));
          });
}

/// Commits the oldest waiting shares, at most `max_shares_per_transaction`, in one
/// transaction. Shares that arrive meanwhile wait and then go together: under load, one
/// commit (one wait for the disk's flush) serves many shares; an idle node commits each
/// at once. A share that waited past the callers' deadline is answered and dropped
/// first: its caller has given up on it (its client was told it failed), so storing it
/// now would show a share the sender believes lost, and a retry twice.
void commit_shares(db_self self) {
  auto& st = self->state;
  if (st.share_deadline > caf::timespan{0}) {
    auto now = self->clock().now();
    st.shares.drop_expired(
      [&](const pending_share& s) { return now - s.arrived >= st.share_deadline; },
      [](pending_share& s) {
        s.rp.deliver(caf::make_error(errc::db_timeout, "The share waited too long to be stored"));
      });
    if (st.shares.waiting().empty())
      return;
  }
  insert_shares(self, self->state.shares.start(max_shares_per_transaction), [self] {
    if (self->state.shares.finish())
      commit_shares(self);
  });
}

} // namespace

social_area::behavior_type social_handlers(db_self self) {
  return {
    [self](atom::load_social, const std::string& user, int32_t unread_limit) {
      return self->state.transact("load_social", [user, unread_limit](pqxx::work& tx) {
        return social::load(tx, user, unread_limit);
      });
    },
    [self](atom::claim_user, const std::string& user, const node_identity& node) {
      return self->state.transact("claim_user", [user, node](pqxx::work& tx) {
        return ownership::claim(tx, ownership::key_kind::user, user, node);
      });
    },
    [self](atom::release_user, const std::string& user, const node_identity& node,
           int64_t epoch) {
      return self->state.transact("release_user", [user, node, epoch](pqxx::work& tx) {
        return ownership::release(tx, ownership::key_kind::user, user, node, epoch);
      });
    },
    [self](atom::owned_users, const node_identity& node, const std::string& after,
           int32_t limit) {
      return self->state.transact("owned_users", [node, after, limit](pqxx::work& tx) {
        return ownership::owned_by(tx, ownership::key_kind::user, node, after, limit);
      });
    },
    [self](atom::release_users, const std::vector<owned_key>& keys, const node_identity& node) {
      return self->state.transact("release_users", [keys, node](pqxx::work& tx) {
        return ownership::release_all(tx, ownership::key_kind::user, keys, node);
      });
    },
    // -- profiles: written by their user's actor -----------------------------------
    [self](atom::create_user, const new_profile& p, const write_fence& fence) {
      return transact_fenced(self, "create_user", fence,
                             [p](pqxx::work& tx) { return users::insert(tx, p); });
    },
    [self](atom::update_user, const identity& who, const profile_update& u,
           const write_fence& fence) {
      return transact_fenced(self, "update_user", fence,
                             [who, u](pqxx::work& tx) { return users::update(tx, who, u); });
    },
    [self](atom::set_domains, const std::string& id, domain_list which,
           const std::vector<std::string>& domains, const write_fence& fence) {
      return transact_fenced(self, "set_domains", fence, [id, which, domains](pqxx::work& tx) {
        return users::set_domains(tx, id, which, domains);
      });
    },
    [self](atom::set_image, const std::string& user_id, const std::string& ext,
           const write_fence& fence) {
      return transact_fenced(self, "set_profile_image", fence, [user_id, ext](pqxx::work& tx) {
        return media_repo::set_profile_image(tx, user_id, ext);
      });
    },
    [self](atom::clear_image, const std::string& user_id, const write_fence& fence) {
      return transact_fenced(self, "clear_profile_image", fence, [user_id](pqxx::work& tx) {
        return media_repo::clear_profile_image(tx, user_id);
      });
    },
    // -- the social graph and share notifications --------------------------------
    [self](atom::commit_friendship, const friendship_command& cmd, const friendship_limits& limits,
           const write_fence& fence) {
      return transact_fenced(self, "friendship_write", fence, [cmd, limits](pqxx::work& tx) {
        return social::commit(tx, cmd, limits);
      });
    },
    [self](atom::decline_requests, const std::string& user, const write_fence& fence) {
      return transact_fenced(self, "decline_friend_requests", fence,
                             [user](pqxx::work& tx) { return social::decline_all(tx, user); });
    },
    [self](atom::purge_expired_requests, int32_t batch) {
      return self->state.transact("purge_friend_requests", [batch](pqxx::work& tx) {
        return social::purge_expired(tx, batch);
      });
    },
    [self](atom::insert_share, const std::string& sender, const share_request& req,
           const write_fence& fence) -> caf::result<share_receipt> {
      auto& st = self->state;
      if (st.shares.committing() && st.shares.waiting().size() >= st.share_queue_limit)
        return caf::make_error(errc::overloaded, "Too many shares waiting to be stored",
                               int64_t{1});
      auto rp = self->make_response_promise<share_receipt>();
      st.shares.add({sender, req, fence, rp, self->clock().now()});
      if (!st.shares.committing())
        commit_shares(self);
      return rp;
    },
    [self](atom::mark_shares, const std::string& user, const std::vector<std::string>& ids,
           int32_t unread_limit, const write_fence& fence) {
      return transact_fenced(self, "mark_shares_read", fence,
                             [user, ids, unread_limit](pqxx::work& tx) {
                               return social::mark_read(tx, user, ids, unread_limit);
                             });
    },
    [self](atom::fetch_shares, const share_query& q) {
      return self->state.transact("fetch_shares",
                                  [q](pqxx::work& tx) { return social::fetch_shares(tx, q); });
    },
    [self](atom::search_users, const user_search& s) {
      return self->state.transact(
        "search_users", [s](pqxx::work& tx) { return social::search_users(tx, s); }, s.caller);
    },
    [self](atom::search_relations, const user_search& s) {
      return self->state.transact(
        "search_friends", [s](pqxx::work& tx) { return social::search_friends(tx, s); }, s.caller);
    },
    [self](atom::sent_shares, const std::string& sender, const list_window& page) {
      return self->state.transact("sent_shares", [sender, page](pqxx::work& tx) {
        return social::sent_shares(tx, sender, page);
      });
    },
  };
}

} // namespace tandem::persistence
