// The database facade's profiles, social graph and share notifications (social_db and
// social_queries): one handler each, its name, then its work inside one transaction.
#include "persistence/db_facade.hpp"
#include "persistence/media_repo.hpp"
#include "persistence/ownership_repo.hpp"
#include "persistence/social_repo.hpp"
#include "persistence/users_repo.hpp"

namespace tandem::persistence {

namespace {

/// Runs `fn(tx)` as one transaction on a worker (see db_state::transact), fenced by the
/// user's claim: its first statement locks the user's key_owners row, and the write is
/// refused when the epoch moved on (see social_db). Epoch 0 adds no statement.
template <class F>
auto transact_fenced(db_self self, std::string operation, write_fence fence, F fn) {
  using reply = detail::reply_type_t<std::invoke_result_t<F&, pqxx::work&>>;
  return self->state.transact(
    std::move(operation),
    [fence = std::move(fence), fn = std::move(fn)](pqxx::work& tx) -> caf::expected<reply> {
      if (fence.epoch != 0
          && !ownership::hold(tx, ownership::key_kind::user, fence.key, fence.epoch))
        return caf::make_error(errc::moved, "The user moved to another node");
      return fn(tx);
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
           const write_fence& fence) {
      return transact_fenced(self, "insert_share", fence, [sender, req](pqxx::work& tx) {
        return social::insert_share(tx, sender, req);
      });
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
