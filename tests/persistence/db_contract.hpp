// The contract of the database interfaces that actors hold (`persistence::social_db`,
// `persistence::chat_db`): scenarios that every implementation must pass, run against
// the in-memory fakes of the actor tests (db_contract_fake_test.cpp) and against the
// database actor on PostgreSQL (db_contract_pg_test.cpp), so that a fake cannot drift
// from the SQL.
//
// A subject provides the users and conversations a scenario starts from and one way to
// ask its handles:
//   void add_user(const std::string& id, const std::string& first_name);
//   std::string conversation(const std::vector<std::string>& members, bool is_group);
//   persistence::social_db social();  persistence::chat_db chat();
//   template <class T, class Handle, class... Ts> caf::expected<T> ask(Handle, Ts...);
//   void set_lease(const node_identity& node, bool live);  (node's cluster_nodes row)
#pragma once

#include "auth/tokens.hpp"
#include "persistence/chat_db.hpp"
#include "persistence/social_db.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tandem_test::contract {

using namespace tandem;

template <class T>
errc error_of(const caf::expected<T>& x) {
  REQUIRE_FALSE(x);
  return code_of(x.error());
}

inline std::vector<std::string> sorted(std::vector<std::string> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

/// What a single node's writes carry: no fence.
const write_fence unfenced{};

// -- social_db ------------------------------------------------------------------------

template <class Subject>
void social_db_contract(Subject& s) {
  for (const char* id : {"amy", "bob", "cat", "dan"})
    s.add_user(id, std::string{id} + "-first");
  auto db = s.social();
  const friendship_limits limits{100, 100, 100, 3600};
  auto write = [&](friendship_op op, const std::string& caller, const std::string& other) {
    return s.template ask<friendship_change>(db, atom::commit_friendship_v,
                                             friendship_command{op, caller, other}, limits,
                                             unfenced);
  };
  auto befriend = [&](const std::string& a, const std::string& b) {
    REQUIRE(write(friendship_op::request, a, b));
    REQUIRE(write(friendship_op::accept, b, a));
  };
  auto load = [&](const std::string& user, int32_t unread_limit) {
    auto snap = s.template ask<social_snapshot>(db, atom::load_social_v, user, unread_limit);
    REQUIRE(snap);
    return *snap;
  };
  /// The other user of each of `user`'s rows, and whether it is accepted.
  auto relations = [&](const std::string& user) {
    std::map<std::string, bool> out;
    for (const auto& rel : load(user, 10).relations)
      out[rel.user.user_id] = rel.row.accepted();
    return out;
  };
  using states = std::map<std::string, bool>;
  auto share = [&](const std::string& sender, caf::optional<std::string> to) {
    return s.template ask<share_receipt>(db, atom::insert_share_v, sender,
                                         share_request{std::move(to), "https://example.org/",
                                                       "Example"},
                                         unfenced);
  };
  auto ids_of = [](const std::vector<share_notification>& xs) {
    std::vector<std::string> out;
    for (const auto& x : xs)
      out.push_back(x.event_id);
    return out;
  };

  SECTION("a user loads with the profile; an unknown user is not found") {
    auto snap = load("amy", 10);
    CHECK(snap.profile.user_id == "amy");
    CHECK(snap.profile.first_name == "amy-first");
    CHECK(snap.relations.empty());
    CHECK(snap.unread.items.empty());
    CHECK(snap.unread.complete);
    CHECK(error_of(s.template ask<social_snapshot>(db, atom::load_social_v, std::string{"zed"},
                                                   int32_t{10}))
          == errc::not_found);
  }

  SECTION("profile writes answer the profile as committed; a second creation is refused") {
    new_profile fresh{"zed", "zed@example.com", "Zed", "Last"};
    auto created = s.template ask<user_profile>(db, atom::create_user_v, fresh, unfenced);
    REQUIRE(created);
    CHECK(created->first_name == "Zed");
    CHECK(created->email == "zed@example.com");
    CHECK(error_of(s.template ask<user_profile>(db, atom::create_user_v, fresh, unfenced))
          == errc::already_exists);
    const std::vector<std::string> allowed{"example.com"};
    auto domains = s.template ask<user_profile>(db, atom::set_domains_v, std::string{"zed"},
                                                domain_list::allow, allowed, unfenced);
    REQUIRE(domains);
    CHECK(domains->domain_allow == allowed);
    auto image = s.template ask<user_profile>(db, atom::set_image_v, std::string{"zed"},
                                              std::string{"png"}, unfenced);
    REQUIRE(image);
    CHECK(image->profile_image_extension == std::string{"png"});
    CHECK(image->profile_image_uploaded_at);
    auto cleared = s.template ask<std::string>(db, atom::clear_image_v, std::string{"zed"},
                                               unfenced);
    REQUIRE(cleared);
    CHECK(*cleared == "png");
    auto reloaded = load("zed", 10).profile;
    CHECK(reloaded.domain_allow == allowed);
    CHECK(!reloaded.profile_image_extension);
    CHECK(error_of(s.template ask<user_profile>(db, atom::set_image_v, std::string{"nobody"},
                                                std::string{"png"}, unfenced))
          == errc::not_found);
  }

  SECTION("a request is answered once, by its addressee; removing ends a friendship") {
    auto asked = write(friendship_op::request, "bob", "amy");
    REQUIRE(asked);
    CHECK(asked->exists);
    CHECK(asked->row.requester == "bob");
    CHECK(asked->row.addressee == "amy");
    CHECK_FALSE(asked->row.accepted());
    CHECK(asked->low.user_id == "amy"); // both cards, lower id first
    CHECK(asked->high.user_id == "bob");
    CHECK(relations("amy") == states{{"bob", false}});
    CHECK(error_of(write(friendship_op::request, "bob", "amy")) == errc::already_exists);
    CHECK(error_of(write(friendship_op::request, "amy", "bob")) == errc::already_exists);
    CHECK(error_of(write(friendship_op::accept, "bob", "amy")) == errc::not_found);
    auto accepted = write(friendship_op::accept, "amy", "bob");
    REQUIRE(accepted);
    CHECK(accepted->exists);
    CHECK(accepted->row.accepted());
    CHECK(accepted->row.requester == "bob");
    CHECK(relations("amy") == states{{"bob", true}});
    CHECK(relations("bob") == states{{"amy", true}});
    CHECK(error_of(write(friendship_op::accept, "amy", "bob")) == errc::not_found);
    CHECK(error_of(write(friendship_op::decline, "amy", "bob")) == errc::not_found);
    auto removed = write(friendship_op::remove, "amy", "bob");
    REQUIRE(removed);
    CHECK_FALSE(removed->exists);
    CHECK(relations("bob").empty());
    CHECK(error_of(write(friendship_op::remove, "bob", "amy")) == errc::not_found);
    // A declined request leaves no row; a request to no one is not found.
    REQUIRE(write(friendship_op::request, "cat", "amy"));
    auto declined = write(friendship_op::decline, "amy", "cat");
    REQUIRE(declined);
    CHECK_FALSE(declined->exists);
    CHECK(relations("cat").empty());
    CHECK(error_of(write(friendship_op::request, "amy", "zed")) == errc::not_found);
  }

  SECTION("declining every request takes the pending ones to the user only") {
    REQUIRE(write(friendship_op::request, "bob", "amy"));
    REQUIRE(write(friendship_op::request, "cat", "amy"));
    REQUIRE(write(friendship_op::request, "amy", "dan"));
    REQUIRE(write(friendship_op::accept, "amy", "cat")); // accepted: not declined
    auto changes = s.template ask<std::vector<friendship_change>>(db, atom::decline_requests_v,
                                                                  std::string{"amy"}, unfenced);
    REQUIRE(changes);
    std::vector<std::string> requesters;
    for (const auto& c : *changes) {
      CHECK_FALSE(c.exists);
      CHECK(c.row.addressee == "amy");
      CHECK(c.other_than("amy").user_id == c.row.requester);
      requesters.push_back(c.row.requester);
    }
    CHECK(sorted(requesters) == std::vector<std::string>{"bob"});
    CHECK(relations("amy") == states{{"cat", true}, {"dan", false}});
    auto again = s.template ask<std::vector<friendship_change>>(db, atom::decline_requests_v,
                                                                std::string{"amy"}, unfenced);
    REQUIRE(again);
    CHECK(again->empty());
    // Nothing has expired: the purge deletes nothing.
    auto purged = s.template ask<int64_t>(db, atom::purge_expired_requests_v, int32_t{100});
    REQUIRE(purged);
    CHECK(*purged == 0);
  }

  SECTION("a share reaches the accepted friends or the one named; reading marks it") {
    befriend("amy", "bob");
    befriend("amy", "cat");
    REQUIRE(write(friendship_op::request, "amy", "dan"));
    auto all = share("amy", caf::none);
    REQUIRE(all);
    CHECK(sorted(all->recipients) == std::vector<std::string>{"bob", "cat"});
    CHECK(all->note.url == "https://example.org/");
    CHECK(all->note.title == "Example");
    CHECK(all->note.sender.user_id == "amy");
    CHECK_FALSE(all->note.seen_at);
    auto one = share("amy", std::string{"bob"});
    REQUIRE(one);
    CHECK(one->recipients == std::vector<std::string>{"bob"});
    CHECK(error_of(share("amy", std::string{"dan"})) == errc::forbidden); // pending only
    // A user without accepted friends shares with no one, and the share is kept.
    auto alone = share("dan", caf::none);
    REQUIRE(alone);
    CHECK(alone->recipients.empty());
    CHECK(alone->note.sender.user_id == "dan");
    CHECK_FALSE(alone->note.event_id.empty());
    // Newest first.
    auto both = std::vector<std::string>{one->note.event_id, all->note.event_id};
    CHECK(ids_of(load("bob", 10).unread.items) == both);
    CHECK(ids_of(load("cat", 10).unread.items) == std::vector<std::string>{all->note.event_id});
    auto read = s.template ask<read_receipt>(db, atom::mark_shares_v, std::string{"bob"},
                                             std::vector<std::string>{all->note.event_id},
                                             int32_t{10}, unfenced);
    REQUIRE(read);
    CHECK(read->marked == std::vector<std::string>{all->note.event_id});
    CHECK(ids_of(read->unread.items) == std::vector<std::string>{one->note.event_id});
    CHECK(read->unread.complete);
    auto again = s.template ask<read_receipt>(db, atom::mark_shares_v, std::string{"bob"},
                                              std::vector<std::string>{all->note.event_id},
                                              int32_t{10}, unfenced);
    REQUIRE(again);
    CHECK(again->marked.empty());
    auto fetch = [&](caf::optional<bool> is_read, list_window page) {
      auto got = s.template ask<std::vector<share_notification>>(
        db, atom::fetch_shares_v, share_query{"bob", is_read, page});
      REQUIRE(got);
      return ids_of(*got);
    };
    CHECK(fetch(caf::none, {10, 0}) == both);
    CHECK(fetch(true, {10, 0}) == std::vector<std::string>{all->note.event_id});
    CHECK(fetch(false, {10, 0}) == std::vector<std::string>{one->note.event_id});
    CHECK(fetch(caf::none, {1, 1}) == std::vector<std::string>{all->note.event_id});
    // Past the unread limit: the newest, and not complete.
    auto third = share("amy", std::string{"bob"});
    REQUIRE(third);
    auto capped = load("bob", 1).unread;
    CHECK(ids_of(capped.items) == std::vector<std::string>{third->note.event_id});
    CHECK_FALSE(capped.complete);
  }
}

// -- chat_db ------------------------------------------------------------------------------

/// A random UUID in the form PostgreSQL prints.
inline std::string new_uuid() {
  auto hex = new_random_id();
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-"
         + hex.substr(16, 4) + "-" + hex.substr(20);
}

template <class Subject>
void chat_db_contract(Subject& s) {
  for (const char* id : {"amy", "bob", "cat", "dan"})
    s.add_user(id, std::string{id} + "-first");
  auto group = s.conversation({"amy", "bob", "cat"}, true);
  auto db = s.chat();
  const std::string unknown = "00000000-0000-4000-8000-0000000000ff";
  auto message = [&](int64_t seq, const std::string& sender, const std::string& temp) {
    return chat_message{group, seq, new_uuid(), sender, "message " + std::to_string(seq),
                        "2024-01-01T00:00:00.000Z", temp};
  };
  auto insert = [&](std::vector<chat_message> batch) {
    return s.template ask<std::vector<std::string>>(db, atom::insert_messages_v, std::move(batch));
  };
  auto load = [&](const std::string& id, int32_t recent) {
    return s.template ask<conversation_snapshot>(db, atom::load_conversation_v, id, recent);
  };
  /// Each member's read cursor.
  auto cursors = [](const conversation_snapshot& snap) {
    std::map<std::string, int64_t> out;
    for (std::size_t i = 0; i < snap.members.size(); ++i)
      out[snap.members[i]] = snap.last_read.at(i);
    return out;
  };
  using cursor_map = std::map<std::string, int64_t>;
  auto seqs_of = [](const std::vector<chat_message>& xs) {
    std::vector<int64_t> out;
    for (const auto& x : xs)
      out.push_back(x.seq);
    return out;
  };

  SECTION("a conversation loads its members, cursors and newest messages") {
    CHECK(error_of(load(unknown, 10)) == errc::not_found);
    auto fresh = load(group, 10);
    REQUIRE(fresh);
    CHECK(cursors(*fresh) == cursor_map{{"amy", 0}, {"bob", 0}, {"cat", 0}});
    CHECK(fresh->last_seq == 0);
    CHECK(fresh->recent.empty());
    std::vector<chat_message> batch{message(1, "amy", "t1"), message(2, "bob", "t2"),
                                    message(3, "amy", "t3")};
    auto ids = insert(batch);
    REQUIRE(ids);
    CHECK(sorted(*ids) == sorted({batch[0].message_id, batch[1].message_id, batch[2].message_id}));
    auto snap = load(group, 2);
    REQUIRE(snap);
    CHECK(snap->last_seq == 3);
    CHECK(seqs_of(snap->recent) == std::vector<int64_t>{2, 3});
    CHECK(snap->recent.back().content == "message 3");
    // A sender has read their own message.
    CHECK(cursors(*snap) == cursor_map{{"amy", 3}, {"bob", 2}, {"cat", 0}});
  }

  SECTION("a tempMessageId is stored once per sender; a taken seq refuses the whole batch") {
    auto first = message(1, "amy", "t1");
    REQUIRE(insert({first}));
    auto repeated = insert({message(2, "amy", "t1")});
    REQUIRE(repeated);
    CHECK(repeated->empty());
    auto other = message(2, "bob", "t1");
    auto stored = insert({other});
    REQUIRE(stored);
    CHECK(*stored == std::vector<std::string>{other.message_id});
    auto found = s.template ask<chat_message>(db, atom::find_message_v, group, std::string{"amy"},
                                              std::string{"t1"});
    REQUIRE(found);
    CHECK(found->message_id == first.message_id);
    CHECK(found->seq == 1);
    CHECK(found->content == "message 1");
    CHECK(error_of(s.template ask<chat_message>(db, atom::find_message_v, group,
                                                std::string{"cat"}, std::string{"t1"}))
          == errc::not_found);
    CHECK(error_of(insert({message(3, "cat", "t9"), message(2, "cat", "t10")}))
          == errc::already_exists);
    CHECK(error_of(s.template ask<chat_message>(db, atom::find_message_v, group,
                                                std::string{"cat"}, std::string{"t9"}))
          == errc::not_found);
    auto snap = load(group, 10);
    REQUIRE(snap);
    CHECK(snap->last_seq == 2);
  }

  SECTION("read cursors move forward only") {
    REQUIRE(insert({message(1, "amy", "t1"), message(2, "amy", "t2"), message(3, "amy", "t3")}));
    auto move = [&](int64_t seq) {
      auto done = s.template ask<bool>(db, atom::store_read_cursor_v, group, std::string{"bob"},
                                       seq);
      REQUIRE(done);
      CHECK(*done);
      auto snap = load(group, 10);
      REQUIRE(snap);
      return cursors(*snap).at("bob");
    };
    CHECK(move(2) == 2);
    CHECK(move(1) == 2);
    CHECK(move(3) == 3);
  }

  SECTION("the history after a seq is paged, for members only") {
    std::vector<chat_message> batch;
    for (int64_t seq = 1; seq <= 5; ++seq)
      batch.push_back(message(seq, "amy", "t" + std::to_string(seq)));
    REQUIRE(insert(batch));
    auto after = [&](const std::string& caller, int64_t seq, int32_t limit) {
      message_query q;
      q.mode = message_query::after_seq;
      q.seq = seq;
      q.limit = limit;
      return s.template ask<std::vector<chat_message>>(db, atom::message_history_v, caller, group,
                                                       q);
    };
    auto page = after("bob", 1, 2);
    REQUIRE(page);
    CHECK(seqs_of(*page) == std::vector<int64_t>{2, 3});
    auto rest = after("bob", 3, 100);
    REQUIRE(rest);
    CHECK(seqs_of(*rest) == std::vector<int64_t>{4, 5});
    auto none = after("bob", 5, 100);
    REQUIRE(none);
    CHECK(none->empty());
    CHECK(error_of(after("dan", 0, 100)) == errc::forbidden);
  }

  SECTION("members leave a group, the last one out deletes it; a direct one cannot be left") {
    REQUIRE(insert({message(1, "bob", "t1")}));
    auto leave = [&](const std::string& id, const std::string& user) {
      return s.template ask<bool>(db, atom::remove_participant_v, id, user);
    };
    auto left = leave(group, "bob");
    REQUIRE(left);
    CHECK(*left);
    auto again = leave(group, "bob");
    REQUIRE(again);
    CHECK_FALSE(*again);
    auto snap = load(group, 10);
    REQUIRE(snap);
    CHECK(sorted(snap->members) == std::vector<std::string>{"amy", "cat"});
    CHECK(snap->recent.size() == 1);
    REQUIRE(leave(group, "amy"));
    REQUIRE(leave(group, "cat"));
    CHECK(error_of(load(group, 10)) == errc::not_found);
    CHECK(error_of(leave(group, "cat")) == errc::not_found);
    auto direct = s.conversation({"amy", "bob"}, false);
    CHECK(error_of(leave(direct, "amy")) == errc::invalid_request);
  }
}

// -- ownership in a cluster: claims, releases, the fenced group commit -------------------

template <class Subject>
void ownership_contract(Subject& s) {
  for (const char* id : {"amy", "bob"})
    s.add_user(id, std::string{id} + "-first");
  auto group = s.conversation({"amy", "bob"}, true);
  auto other = s.conversation({"amy", "bob"}, true);
  auto chat = s.chat();
  auto social = s.social();
  const node_identity a{"node-a", 11}, a_restarted{"node-a", 12}, b{"node-b", 21};
  s.set_lease(a, true);
  s.set_lease(b, true);
  auto claim = [&](const std::string& id, const node_identity& node) {
    return s.template ask<int64_t>(chat, atom::claim_conversation_v, id, node);
  };
  auto release = [&](const std::string& id, const node_identity& node, int64_t epoch) {
    auto done = s.template ask<bool>(chat, atom::release_conversation_v, id, node, epoch);
    REQUIRE(done);
    return *done;
  };
  auto message = [&](const std::string& id, int64_t seq, const std::string& sender,
                     const std::string& temp) {
    return chat_message{id, seq, new_uuid(), sender, "message " + std::to_string(seq),
                        "2024-01-01T00:00:00.000Z", temp};
  };
  auto insert = [&](std::vector<chat_message> batch, std::vector<int64_t> epochs) {
    auto out = s.template ask<fenced_batch>(chat, atom::insert_fenced_messages_v, std::move(batch),
                                            std::move(epochs));
    REQUIRE(out);
    return *out;
  };
  auto last_seq = [&](const std::string& id) {
    auto snap = s.template ask<conversation_snapshot>(chat, atom::load_conversation_v, id,
                                                      int32_t{10});
    REQUIRE(snap);
    return snap->last_seq;
  };

  SECTION("a claim takes a key, a claim by its owner bumps the epoch, no one else's while "
          "the owner's lease lives") {
    CHECK(claim(group, a) == 1);
    CHECK(claim(group, a) == 2);
    CHECK(error_of(claim(group, b)) == errc::moved);
    CHECK(error_of(claim(group, a_restarted)) == errc::moved);
    SECTION("after the owner's lease expired") {
      s.set_lease(a, false);
      CHECK(claim(group, b) == 3);
      CHECK(error_of(claim(group, a)) == errc::moved);
    }
    SECTION("after a release, by anyone at once, even the owner's next incarnation") {
      CHECK_FALSE(release(group, a, 1));  // an older epoch releases nothing
      CHECK_FALSE(release(group, b, 2));  // nor does another node
      CHECK(release(group, a, 2));
      CHECK(claim(group, a_restarted) == 3);
      s.set_lease(a_restarted, true);  // its row replaces the old incarnation's
      CHECK(error_of(claim(group, a)) == errc::moved);
    }
    SECTION("users are claimed the same way, apart from conversations") {
      auto user = [&](const node_identity& node) {
        return s.template ask<int64_t>(social, atom::claim_user_v, std::string{"amy"}, node);
      };
      CHECK(user(b) == 1);
      CHECK(error_of(user(a)) == errc::moved);
      auto released = s.template ask<bool>(social, atom::release_user_v, std::string{"amy"}, b,
                                           int64_t{1});
      REQUIRE(released);
      CHECK(*released);
      CHECK(user(a) == 2);
    }
  }

  SECTION("a node's keys page in key order with their epochs; releasing them frees those "
          "still owned with that epoch only") {
    auto third = s.conversation({"amy", "bob"}, true);
    std::vector<std::string> ids{group, other, third};
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids)
      REQUIRE(claim(id, a) == 1);
    REQUIRE(claim(ids[1], a) == 2);
    auto owned = [&](const node_identity& node, const std::string& after, int32_t limit) {
      auto page = s.template ask<std::vector<owned_key>>(chat, atom::owned_conversations_v, node,
                                                         after, limit);
      REQUIRE(page);
      std::vector<std::pair<std::string, int64_t>> out;
      for (const auto& k : *page)
        out.emplace_back(k.key, k.epoch);
      return out;
    };
    using rows = std::vector<std::pair<std::string, int64_t>>;
    CHECK(owned(a, "", 2) == rows{{ids[0], 1}, {ids[1], 2}});
    CHECK(owned(a, ids[1], 2) == rows{{ids[2], 1}});
    CHECK(owned(a, ids[2], 2).empty());
    CHECK(owned(b, "", 10).empty());
    CHECK(owned(a_restarted, "", 10).empty());  // another incarnation owns nothing
    // ids[1] with an old epoch and ids[2] claimed by b after a's lease: kept.
    s.set_lease(a, false);
    REQUIRE(claim(ids[2], b) == 2);
    s.set_lease(a, true);
    auto released = s.template ask<int32_t>(
      chat, atom::release_conversations_v,
      std::vector<owned_key>{{ids[0], 1}, {ids[1], 1}, {ids[2], 1}}, a);
    REQUIRE(released);
    CHECK(*released == 1);
    CHECK(owned(a, "", 10) == rows{{ids[1], 2}});
    CHECK(owned(b, "", 10) == rows{{ids[2], 2}});
    CHECK(claim(ids[0], b) == 2);  // free at once
    SECTION("users page and release the same way, apart from conversations") {
      auto user_page = s.template ask<std::vector<owned_key>>(social, atom::owned_users_v, a,
                                                              std::string{}, int32_t{10});
      REQUIRE(user_page);
      CHECK(user_page->empty());
      REQUIRE(s.template ask<int64_t>(social, atom::claim_user_v, std::string{"bob"}, a) == 1);
      user_page = s.template ask<std::vector<owned_key>>(social, atom::owned_users_v, a,
                                                         std::string{}, int32_t{10});
      REQUIRE(user_page);
      REQUIRE(user_page->size() == 1);
      CHECK(user_page->front().key == "bob");
      CHECK(user_page->front().epoch == 1);
      auto freed = s.template ask<int32_t>(social, atom::release_users_v, *user_page, a);
      REQUIRE(freed);
      CHECK(*freed == 1);
      CHECK(owned(a, "", 10) == rows{{ids[1], 2}});  // conversations untouched
    }
  }

  SECTION("a fenced batch stores the rows of conversations still owned with their epoch only") {
    REQUIRE(claim(group, a) == 1);
    REQUIRE(claim(other, a) == 1);
    s.set_lease(a, false);
    REQUIRE(claim(other, b) == 2);  // taken over
    auto mine = message(group, 1, "amy", "t1");
    auto stale = message(other, 1, "amy", "t2");
    auto result = insert({mine, stale}, {1, 1});
    CHECK(result.inserted == std::vector<std::string>{mine.message_id});
    CHECK(result.fenced == std::vector<std::string>{other});
    CHECK(last_seq(group) == 1);
    CHECK(last_seq(other) == 0);
    auto fresh = message(other, 1, "bob", "t3");
    auto taken = insert({fresh}, {2});
    CHECK(taken.inserted == std::vector<std::string>{fresh.message_id});
    CHECK(taken.fenced.empty());
    SECTION("nothing is stored after a release, not even with the released epoch") {
      REQUIRE(release(other, b, 2));
      auto late = insert({message(other, 2, "bob", "t4")}, {2});
      CHECK(late.inserted.empty());
      CHECK(late.fenced == std::vector<std::string>{other});
      CHECK(last_seq(other) == 1);
    }
  }

  SECTION("a fenced batch skips a resent tempMessageId before it takes a seq, and moves "
          "cursors forward only") {
    REQUIRE(claim(group, a) == 1);
    auto first = message(group, 1, "amy", "t1");
    REQUIRE(insert({first}, {1}).inserted.size() == 1);
    auto resent = insert({message(group, 2, "amy", "t1")}, {1});
    CHECK(resent.inserted.empty());
    CHECK(resent.fenced.empty());
    CHECK(last_seq(group) == 1);  // seq 2 is still free: no gap
    REQUIRE(s.template ask<bool>(chat, atom::store_read_cursor_v, group, std::string{"bob"},
                                 int64_t{5}));
    auto next = message(group, 2, "bob", "t2");
    CHECK(insert({next}, {1}).inserted == std::vector<std::string>{next.message_id});
    auto snap = s.template ask<conversation_snapshot>(chat, atom::load_conversation_v, group,
                                                      int32_t{10});
    REQUIRE(snap);
    CHECK(snap->last_seq == 2);
    std::map<std::string, int64_t> cursors;
    for (std::size_t i = 0; i < snap->members.size(); ++i)
      cursors[snap->members[i]] = snap->last_read.at(i);
    // amy's cursor stays at her stored message: the resend's seq was never hers.
    CHECK(cursors == std::map<std::string, int64_t>{{"amy", 1}, {"bob", 5}});
  }
}

} // namespace tandem_test::contract
