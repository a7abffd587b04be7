// The SQL of the social graph and share notifications (tables friendships,
// share_events, share_recipients and the friend_edges view): free functions over an
// open transaction, run by the database facade's workers. Inputs are validated by
// the routes; the tables' constraints are the last line of defence.
#pragma once

#include "vocabulary/messages.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::persistence::social {

/// The profile, every relation and the newest `unread_limit` unread shares of
/// `user`; `errc::not_found` "User not found" without a profile.
caf::expected<social_snapshot> load(pqxx::work& tx, const std::string& user,
                                    int32_t unread_limit);

/// Runs one friendship write and returns the pair's state after it (see
/// `social_db`'s `commit_friendship` for the errors).
caf::expected<friendship_change> commit(pqxx::work& tx, const friendship_command& cmd,
                                        const friendship_limits& limits);

/// Declines every unexpired pending request to `user` (see `social_db`'s `decline_requests`).
std::vector<friendship_change> decline_all(pqxx::work& tx, const std::string& user);

/// Deletes at most `batch` expired pending requests; returns how many.
int64_t purge_expired(pqxx::work& tx, int32_t batch);

/// Stores a share and its recipient rows (see `social_db`'s `insert_share`).
caf::expected<share_receipt> insert_share(pqxx::work& tx, const std::string& sender,
                                          const share_request& req);

/// Marks the events of `event_ids` (canonical UUID texts) that `user` received and
/// had not seen as seen now; returns them and the unread ones after the write.
read_receipt mark_read(pqxx::work& tx, const std::string& user,
                       const std::vector<std::string>& event_ids, int32_t unread_limit);

/// The notifications a user received, newest first, filtered and paged.
std::vector<share_notification> fetch_shares(pqxx::work& tx, const share_query& q);

/// How many of the newest users a user search probes by default (see `search_users`).
constexpr int default_search_probe = 2000;

/// U16/U17 (see `social_queries`). Strangers are ranked tier by tier when a probe of
/// the newest `probe_size` users shows the matches are dense enough; with 0, every
/// match is ranked in one query. Both give the same answer.
std::vector<user_summary> search_users(pqxx::work& tx, const user_search& s,
                                       int probe_size = default_search_probe);

/// F8/F9 (see `social_queries`).
std::vector<relation> search_friends(pqxx::work& tx, const user_search& s);

/// N4 (see `social_queries`).
std::vector<sent_share> sent_shares(pqxx::work& tx, const std::string& sender,
                                    const list_window& page);

/// `text` with `\`, `%` and `_` escaped by a backslash, so that it matches itself
/// literally inside a `LIKE ... ESCAPE '\'` pattern.
std::string like_escape(const std::string& text);

} // namespace tandem::persistence::social
