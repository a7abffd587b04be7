// The database operations of the social graph and share notifications, in two typed
// interfaces that the database facade implements (persistence/db.hpp): the narrow one
// user actors hold, so that their tests can put an in-memory fake behind it, and the
// reads that routes make directly because no actor state serves them.
#pragma once

#include "vocabulary/messages.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::persistence {

/// What a user actor needs from the database. Every write is one transaction, fenced by
/// the `write_fence` it carries last: in a cluster its first statement locks the user's
/// key_owners row and the write is refused with `errc::moved` when the epoch moved on
/// (docs/cluster.md, Ownership); epoch 0 fences nothing. Besides the errors of every
/// database operation (see `db_actor`), replies `errc::not_found` "User not found" when
/// a user named has no profile.
using social_db = caf::typed_actor<
  /// Loads what a user actor keeps: the profile, every friendship row of the user
  /// with the other user's card, and at most `unread_limit` newest unread shares.
  caf::replies_to<atom::load_social, std::string, int32_t>::with<social_snapshot>,
  /// Cluster only (docs/cluster.md, Ownership): claims the user for a node and replies
  /// the epoch; `errc::moved` while another live node owns it (see ownership::claim).
  caf::replies_to<atom::claim_user, std::string, node_identity>::with<int64_t>,
  /// Cluster only: frees the user claimed with this epoch (see ownership::release);
  /// replies whether it was.
  caf::replies_to<atom::release_user, std::string, node_identity, int64_t>::with<bool>,
  /// Cluster only: the users a node still owns, with their epochs, at most `limit`
  /// after the key `after` (see ownership::owned_by).
  caf::replies_to<atom::owned_users, node_identity, std::string, int32_t>::with<
    std::vector<owned_key>>,
  /// Cluster only: frees those of the users still owned by the node with their epochs
  /// (see ownership::release_all); replies how many were.
  caf::replies_to<atom::release_users, std::vector<owned_key>, node_identity>::with<int32_t>,
  // -- the user's profile, written by their actor only ------------------------------
  /// Creates the profile of `p.user_id` with the default domain lists and replies it;
  /// `errc::already_exists` when there is one.
  caf::replies_to<atom::create_user, new_profile, write_fence>::with<user_profile>,
  /// Replaces the editable fields of the caller's profile and its email (from the
  /// token), and replies the profile.
  caf::replies_to<atom::update_user, identity, profile_update, write_fence>::with<user_profile>,
  /// Replaces one domain list of a user and replies the profile.
  caf::replies_to<atom::set_domains, std::string, domain_list, std::vector<std::string>,
                  write_fence>::with<user_profile>,
  /// Records an upload of a profile image with this extension now (U12) and replies
  /// the profile.
  caf::replies_to<atom::set_image, std::string, std::string, write_fence>::with<user_profile>,
  /// Nulls both image columns of a user (U15) and replies the extension they held
  /// ("" for none).
  caf::replies_to<atom::clear_image, std::string, write_fence>::with<std::string>,
  // -- friendships and shares ---------------------------------------------------------
  /// Runs a friendship write and replies the pair's state after it. Errors:
  /// `already_exists` "Friendship already exists" (a request while any row exists),
  /// `not_found` "Friend request not found" (accept or decline without a pending
  /// request from `other`) or "Friendship not found" (remove without a row),
  /// `rate_limited` when a pending request bound is reached, `already_exists`
  /// "Friend limit reached" when accepting would pass `max_friends`.
  caf::replies_to<atom::commit_friendship, friendship_command, friendship_limits,
                  write_fence>::with<friendship_change>,
  /// Declines every pending request to `user` that has not expired, and replies the
  /// pairs' states after it: `exists` false, `row` the request deleted, both cards.
  caf::replies_to<atom::decline_requests, std::string, write_fence>::with<
    std::vector<friendship_change>>,
  /// Deletes at most `batch` expired pending requests; replies how many it deleted.
  caf::replies_to<atom::purge_expired_requests, int32_t>::with<int64_t>,
  /// Stores a share by `sender` with every accepted friend (no `sent_to`) or with
  /// `sent_to` only, and one unread recipient row each. `errc::forbidden` when
  /// `sent_to` is not an accepted friend.
  caf::replies_to<atom::insert_share, std::string, share_request, write_fence>::with<
    share_receipt>,
  /// Marks those of the events that `user` received as seen now and replies which
  /// were unread, plus the newest `unread_limit` unread ones after the write.
  caf::replies_to<atom::mark_shares, std::string, std::vector<std::string>, int32_t,
                  write_fence>::with<read_receipt>,
  /// The notifications a user received, newest first, filtered and paged.
  caf::replies_to<atom::fetch_shares, share_query>::with<std::vector<share_notification>>>;

/// The social reads that routes make directly.
using social_queries = caf::typed_actor<
  /// U16, U17: users other than the caller whose email or full name matches, with
  /// friendship_state and mutual_friend_count, in the ranking of U16/U17 (docs/api.md).
  caf::replies_to<atom::search_users, user_search>::with<std::vector<user_summary>>,
  /// F8, F9: the caller's friends and pending requests (both ways) whose email or
  /// full name matches, by first name, last name and id.
  caf::replies_to<atom::search_relations, user_search>::with<std::vector<relation>>,
  /// N4: the events a user sent, newest first, with the number of recipients who
  /// have not seen each.
  caf::replies_to<atom::sent_shares, std::string, list_window>::with<std::vector<sent_share>>>;

} // namespace tandem::persistence
