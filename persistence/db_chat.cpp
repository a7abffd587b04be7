// The database facade's chat operations (chat_db and chat_queries): one handler each, its
// name, then its work inside one transaction.
#include "persistence/db_facade.hpp"
#include "persistence/chat_repo.hpp"
#include "persistence/ownership_repo.hpp"

namespace tandem::persistence {

chat_area::behavior_type chat_handlers(db_self self) {
  return {
    [self](atom::load_conversation, const std::string& id, int32_t recent_limit) {
      return self->state.transact("load_conversation", [id, recent_limit](pqxx::work& tx) {
        return chat::load(tx, id, recent_limit);
      });
    },
    [self](atom::insert_messages, const std::vector<chat_message>& batch) {
      return self->state.transact("insert_messages",
                                  [batch](pqxx::work& tx) { return chat::insert(tx, batch); });
    },
    [self](atom::insert_fenced_messages, const std::vector<chat_message>& batch,
           const std::vector<int64_t>& epochs) {
      return self->state.transact("insert_fenced_messages", [batch, epochs](pqxx::work& tx) {
        return chat::insert_fenced(tx, batch, epochs);
      });
    },
    [self](atom::claim_conversation, const std::string& id, const node_identity& node) {
      return self->state.transact("claim_conversation", [id, node](pqxx::work& tx) {
        return ownership::claim(tx, ownership::key_kind::conversation, id, node);
      });
    },
    [self](atom::owned_conversations, const node_identity& node, const std::string& after,
           int32_t limit) {
      return self->state.transact("owned_conversations", [node, after, limit](pqxx::work& tx) {
        return ownership::owned_by(tx, ownership::key_kind::conversation, node, after, limit);
      });
    },
    [self](atom::release_conversations, const std::vector<owned_key>& keys,
           const node_identity& node) {
      return self->state.transact("release_conversations", [keys, node](pqxx::work& tx) {
        return ownership::release_all(tx, ownership::key_kind::conversation, keys, node);
      });
    },
    [self](atom::release_conversation, const std::string& id, const node_identity& node,
           int64_t epoch) {
      return self->state.transact("release_conversation", [id, node, epoch](pqxx::work& tx) {
        return ownership::release(tx, ownership::key_kind::conversation, id, node, epoch);
      });
    },
    [self](atom::find_message, const std::string& id, const std::string& sender,
           const std::string& temp_id) {
      return self->state.transact("find_sent_message", [id, sender, temp_id](pqxx::work& tx) {
        return chat::find_sent(tx, id, sender, temp_id);
      });
    },
    [self](atom::store_read_cursor, const std::string& id, const std::string& user, int64_t seq) {
      return self->state.transact("move_read_cursor", [id, user, seq](pqxx::work& tx) {
        chat::move_cursor(tx, id, user, seq);
        return true;
      });
    },
    [self](atom::remove_participant, const std::string& id, const std::string& user) {
      return self->state.transact("leave_conversation",
                                  [id, user](pqxx::work& tx) { return chat::leave(tx, id, user); });
    },
    [self](atom::create_conversation, const new_conversation& c) {
      return self->state.transact("create_conversation",
                                  [c](pqxx::work& tx) { return chat::create(tx, c); });
    },
    [self](atom::direct_conversation, const std::string& a, const std::string& b) {
      return self->state.transact("find_direct_conversation",
                                  [a, b](pqxx::work& tx) { return chat::find_direct(tx, a, b); });
    },
    [self](atom::list_conversations, const std::string& user, int8_t is_read, int32_t limit,
           int32_t offset) {
      return self->state.transact("list_conversations",
                                  [user, is_read, limit, offset](pqxx::work& tx) {
                                    return chat::list(tx, user, is_read, limit, offset);
                                  });
    },
    [self](atom::get_conversation_info, const std::string& caller, const std::string& id) {
      return self->state.transact("conversation_info", [caller, id](pqxx::work& tx) {
        return chat::info(tx, caller, id);
      });
    },
    [self](atom::message_history, const std::string& caller, const std::string& id,
           const message_query& q) {
      return self->state.transact("conversation_messages", [caller, id, q](pqxx::work& tx) {
        return chat::page(tx, caller, id, q);
      });
    },
    [self](atom::list_participants, const std::string& caller, const std::string& id) {
      return self->state.transact("conversation_participants", [caller, id](pqxx::work& tx) {
        return chat::participants(tx, caller, id);
      });
    },
  };
}

} // namespace tandem::persistence
