// An in-memory fake of `persistence::chat_db` for the actor tests (the real database
// actor is detached and would bypass CAF's test scheduler). The contract tests
// (tests/persistence/db_contract.hpp) run the same scenarios against it and
// against the real one on PostgreSQL, so that it cannot drift from the SQL.
#pragma once

#include "persistence/chat_db.hpp"
#include "tests/support/fake_key_owners.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tandem_test {

using namespace tandem;

struct fake_chat_store {
  std::map<std::string, std::vector<std::string>> members;
  std::set<std::string> direct; ///< the conversations that are not groups
  std::map<std::pair<std::string, std::string>, int64_t> cursors;
  std::vector<chat_message> messages;
  std::vector<std::size_t> batches; ///< size of every committed insert
  int page_queries = 0;
  int cursor_writes = 0;
  int loads = 0; ///< snapshots served: a reload shows an actor was replaced
  caf::error fail_next_insert;
  /// The next insert commits, but is answered with this (a reply lost after the commit).
  caf::error lose_next_reply;
  fake_key_owners owners; ///< the conversations' ('c')

  const chat_message* find(const std::string& id, const std::string& sender,
                           const std::string& temp) const {
    for (const auto& m : messages)
      if (m.conversation_id == id && m.sender_id == sender && m.client_message_id == temp)
        return &m;
    return nullptr;
  }

  /// The group commit: ON CONFLICT DO NOTHING on (conversation, sender, tempMessageId);
  /// a taken (conversation, seq) fails the whole transaction. Cursors move to the
  /// messages inserted.
  caf::expected<std::vector<std::string>> insert(const std::vector<chat_message>& batch) {
    std::vector<chat_message> fresh;
    for (const auto& m : batch)
      if (!find(m.conversation_id, m.sender_id, m.client_message_id))
        fresh.push_back(m);
    for (auto i = fresh.begin(); i != fresh.end(); ++i) {
      auto same_seq = [&](const chat_message& x) {
        return x.conversation_id == i->conversation_id && x.seq == i->seq;
      };
      if (std::any_of(messages.begin(), messages.end(), same_seq)
          || std::any_of(fresh.begin(), i, same_seq))
        return caf::make_error(errc::already_exists, "insert_messages");
    }
    std::vector<std::string> ids;
    for (const auto& m : fresh) {
      messages.push_back(m);
      ids.push_back(m.message_id);
      auto& c = cursors[{m.conversation_id, m.sender_id}];
      c = std::max(c, m.seq);
    }
    batches.push_back(batch.size());
    return ids;
  }

  int64_t last_seq(const std::string& id) const {
    int64_t out = 0;
    for (const auto& m : messages)
      if (m.conversation_id == id)
        out = std::max(out, m.seq);
    return out;
  }
};

inline persistence::chat_db::behavior_type fake_chat_db(persistence::chat_db::pointer,
                                                       fake_chat_store* store) {
  return {
    [=](atom::load_conversation, const std::string& id, int32_t limit) -> caf::result<conversation_snapshot> {
      ++store->loads;
      if (store->members.count(id) == 0)
        return caf::make_error(errc::not_found, "Conversation not found");
      conversation_snapshot snap;
      for (const auto& m : store->members.at(id)) {
        snap.members.push_back(m);
        snap.last_read.push_back(store->cursors[{id, m}]);
      }
      snap.last_seq = store->last_seq(id);
      for (const auto& m : store->messages)
        if (m.conversation_id == id)
          snap.recent.push_back(m);
      if (snap.recent.size() > static_cast<std::size_t>(limit))
        snap.recent.erase(snap.recent.begin(), snap.recent.end() - limit);
      return snap;
    },
    [=](atom::insert_messages, const std::vector<chat_message>& batch)
      -> caf::result<std::vector<std::string>> {
      if (auto err = std::exchange(store->fail_next_insert, caf::error{}))
        return err;
      auto inserted = store->insert(batch);
      if (!inserted)
        return inserted.error();
      if (auto err = std::exchange(store->lose_next_reply, caf::error{}))
        return err;
      return std::move(*inserted);
    },
    [=](atom::insert_fenced_messages, const std::vector<chat_message>& batch,
        const std::vector<int64_t>& epochs) -> caf::result<fenced_batch> {
      if (auto err = std::exchange(store->fail_next_insert, caf::error{}))
        return err;
      std::vector<chat_message> owned;
      std::set<std::string> fenced;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (store->owners.holds(batch[i].conversation_id, epochs[i]))
          owned.push_back(batch[i]);
        else
          fenced.insert(batch[i].conversation_id);
      }
      auto inserted = store->insert(owned);
      if (!inserted)
        return inserted.error();
      return fenced_batch{std::move(*inserted), {fenced.begin(), fenced.end()}};
    },
    [=](atom::claim_conversation, const std::string& id,
        const node_identity& node) -> caf::result<int64_t> {
      auto epoch = store->owners.claim(id, node);
      if (!epoch)
        return epoch.error();
      return *epoch;
    },
    [=](atom::release_conversation, const std::string& id, const node_identity& node,
        int64_t epoch) -> caf::result<bool> {
      auto released = store->owners.release_request(id, node, epoch);
      if (!released)
        return std::move(released.error());
      return *released;
    },
    [=](atom::owned_conversations, const node_identity& node, const std::string& after,
        int32_t limit) { return store->owners.owned_by(node, after, limit); },
    [=](atom::release_conversations, const std::vector<owned_key>& keys,
        const node_identity& node) { return store->owners.release_all_request(keys, node); },
    [=](atom::find_message, const std::string& id, const std::string& sender,
        const std::string& temp) -> caf::result<chat_message> {
      if (const auto* m = store->find(id, sender, temp))
        return *m;
      return caf::make_error(errc::not_found, "Message not found");
    },
    [=](atom::store_read_cursor, const std::string& id, const std::string& user, int64_t seq) {
      ++store->cursor_writes;
      auto& c = store->cursors[{id, user}];
      c = std::max(c, seq);
      return true;
    },
    [=](atom::remove_participant, const std::string& id,
        const std::string& user) -> caf::result<bool> {
      auto conv = store->members.find(id);
      if (conv == store->members.end())
        return caf::make_error(errc::not_found, "Conversation not found");
      if (store->direct.count(id) != 0)
        return caf::make_error(errc::invalid_request, "A direct conversation cannot be left");
      auto& members = conv->second;
      auto i = std::find(members.begin(), members.end(), user);
      if (i == members.end())
        return false;
      members.erase(i);
      if (members.empty()) { // the last one out takes the conversation with it
        store->members.erase(conv);
        auto& ms = store->messages;
        ms.erase(std::remove_if(ms.begin(), ms.end(),
                                [&](const chat_message& m) { return m.conversation_id == id; }),
                 ms.end());
      }
      return true;
    },
    // The after_seq mode only: the one conversation actors use.
    [=](atom::message_history, const std::string& caller, const std::string& id,
        const message_query& q) -> caf::result<std::vector<chat_message>> {
      ++store->page_queries;
      auto conv = store->members.find(id);
      if (conv == store->members.end())
        return caf::make_error(errc::not_found, "Conversation not found");
      if (std::find(conv->second.begin(), conv->second.end(), caller) == conv->second.end())
        return caf::make_error(errc::forbidden, "Not a participant of this conversation");
      std::vector<chat_message> out;
      for (const auto& m : store->messages)
        if (m.conversation_id == id && m.seq > q.seq
            && out.size() < static_cast<std::size_t>(q.limit))
          out.push_back(m);
      return out;
    },
  };
}

} // namespace tandem_test
