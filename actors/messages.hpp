// Messages shared across folders: the project's error codes, atoms and the one
// CAF type-id block. Included by persistence/, actors/ and http/.
#pragma once

#include "actors/account_types.hpp"
#include "actors/chat_types.hpp"
#include "actors/media_messages.hpp"
#include "actors/realtime_types.hpp"
#include "actors/social_types.hpp"
#include "actors/user_types.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

/// Error codes carried in `caf::error` (category "tandem") across actors.
enum class errc : uint8_t {
  none = 0,
  invalid_request,    ///< The input failed validation (400).
  unauthorized,       ///< Missing or bad credentials (401).
  forbidden,          ///< Authenticated but not allowed (403).
  not_found,          ///< No such resource (404).
  already_exists,     ///< A unique key is taken (409).
  payload_too_large,  ///< A body or frame over its limit (413).
  rate_limited,       ///< Too many attempts (429).
  overloaded,         ///< A bounded queue is full; try again later (503).
  db_unavailable,     ///< PostgreSQL cannot be reached (503).
  db_timeout,         ///< A statement ran past statement_timeout (504).
  db_query_failed,    ///< Any other database error (500).
  redis_unavailable,  ///< Redis cannot be reached or timed out (503).
  redis_error,        ///< Redis answered with an error reply (500).
  internal,           ///< A bug or an unexpected exception (500).
  storage_full,       ///< The media store has no space left (507).
  storage_read_only,  ///< The media store cannot be written: read-only, no permission (503).
};

/// A short stable name for logs and `detail` texts ("db_unavailable").
const char* to_string(errc x);

/// Renders an error of any category for logs.
std::string describe(const caf::error& err);

/// The tandem code of `err`, or `errc::internal` for errors of other categories.
errc code_of(const caf::error& err);

/// One reply of Redis, flattened for messaging.
struct redis_reply {
  enum kind_t : uint8_t { nil, status, string, integer, array, error };
  uint8_t kind = nil;
  std::string str;                 ///< status, string and error replies
  int64_t integer_value = 0;       ///< integer replies
  std::vector<std::string> items;  ///< array replies (nested arrays are flattened)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, redis_reply& x) {
  return f(caf::meta::type_name("redis_reply"), x.kind, x.str, x.integer_value, x.items);
}

/// Who made a request: established once from a verified access token.
struct identity {
  std::string user_id;
  std::string email;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, identity& x) {
  return f(caf::meta::type_name("identity"), x.user_id, x.email);
}

} // namespace tandem

CAF_ERROR_CODE_ENUM(tandem::errc, "tandem")

CAF_BEGIN_TYPE_ID_BLOCK(tandem, caf::first_custom_type_id)
  // -- atoms for persistence -------------------------------------------------
  CAF_ADD_ATOM(tandem, tandem::atom, ping, "ping")
  CAF_ADD_ATOM(tandem, tandem::atom, run, "run")
  CAF_ADD_ATOM(tandem, tandem::atom, migrations, "migrations")
  CAF_ADD_ATOM(tandem, tandem::atom, command, "command")
  CAF_ADD_ATOM(tandem, tandem::atom, stats, "stats")
  // -- atoms for accounts and tokens ------------------------------------------
  CAF_ADD_ATOM(tandem, tandem::atom, create_account, "acct_new")
  CAF_ADD_ATOM(tandem, tandem::atom, delete_account, "acct_del")
  CAF_ADD_ATOM(tandem, tandem::atom, find_account_by_email, "acct_find")
  CAF_ADD_ATOM(tandem, tandem::atom, hash_password, "pw_hash")
  CAF_ADD_ATOM(tandem, tandem::atom, verify_password, "pw_verify")
  CAF_ADD_ATOM(tandem, tandem::atom, sign_up, "sign_up")
  CAF_ADD_ATOM(tandem, tandem::atom, login, "login")
  CAF_ADD_ATOM(tandem, tandem::atom, refresh, "refresh")
  CAF_ADD_ATOM(tandem, tandem::atom, logout, "logout")
  CAF_ADD_ATOM(tandem, tandem::atom, map_external, "ext_map")
  // -- atoms for profiles -------------------------------------------------------
  CAF_ADD_ATOM(tandem, tandem::atom, create_user, "user_new")
  CAF_ADD_ATOM(tandem, tandem::atom, load_user, "user_load")
  CAF_ADD_ATOM(tandem, tandem::atom, load_users, "user_loadn")
  CAF_ADD_ATOM(tandem, tandem::atom, update_user, "user_upd")
  CAF_ADD_ATOM(tandem, tandem::atom, set_domains, "user_doms")
  // -- atoms for media and e-mail -----------------------------------------------
  // -- atoms for the social graph and share notifications -----------------------
  // user actors, routed through the user registry (actors/actor_types.hpp)
  CAF_ADD_ATOM(tandem, tandem::atom, fr_lookup, "fr_lookup")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_in, "fr_in")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_list, "fr_list")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_count, "fr_count")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_mutual, "fr_mutual")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_mcount, "fr_mcount")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_all, "fr_all")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_write, "fr_write")
  CAF_ADD_ATOM(tandem, tandem::atom, sh_unread, "sh_unread")
  CAF_ADD_ATOM(tandem, tandem::atom, sh_send, "sh_send")
  CAF_ADD_ATOM(tandem, tandem::atom, sh_read, "sh_read")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_ids, "fr_ids")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_page, "fr_page")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_apply, "fr_apply")
  CAF_ADD_ATOM(tandem, tandem::atom, sh_in, "sh_in")
  CAF_ADD_ATOM(tandem, tandem::atom, card_upd, "card_upd")
  CAF_ADD_ATOM(tandem, tandem::atom, prof_chg, "prof_chg")
  CAF_ADD_ATOM(tandem, tandem::atom, resync, "resync")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_decl_all, "fr_declall")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_expire, "fr_expire")
  // presence and WebSocket connections (actors/actor_types.hpp, connection_actor.hpp)
  CAF_ADD_ATOM(tandem, tandem::atom, conn_open, "conn_open")
  CAF_ADD_ATOM(tandem, tandem::atom, pr_update, "pr_update")
  CAF_ADD_ATOM(tandem, tandem::atom, pr_beat, "pr_beat")
  CAF_ADD_ATOM(tandem, tandem::atom, pr_check, "pr_check")
  CAF_ADD_ATOM(tandem, tandem::atom, pr_get, "pr_get")
  CAF_ADD_ATOM(tandem, tandem::atom, pr_peek, "pr_peek")
  CAF_ADD_ATOM(tandem, tandem::atom, pr_state, "pr_state")
  CAF_ADD_ATOM(tandem, tandem::atom, push, "push")
  CAF_ADD_ATOM(tandem, tandem::atom, ws_open, "ws_open")
  CAF_ADD_ATOM(tandem, tandem::atom, ws_in, "ws_in")
  CAF_ADD_ATOM(tandem, tandem::atom, ws_bad, "ws_bad")
  CAF_ADD_ATOM(tandem, tandem::atom, ws_sent, "ws_sent")
  CAF_ADD_ATOM(tandem, tandem::atom, ws_closed, "ws_closed")
  CAF_ADD_ATOM(tandem, tandem::atom, evict, "evict")
  CAF_ADD_ATOM(tandem, tandem::atom, budget, "budget")
  CAF_ADD_ATOM(tandem, tandem::atom, pr_flush, "pr_flush")
  CAF_ADD_ATOM(tandem, tandem::atom, fanout, "fanout")
  CAF_ADD_ATOM(tandem, tandem::atom, conn_live, "conn_live")
  // sessions: logout closes a session's sockets, expired tokens re-authenticate
  CAF_ADD_ATOM(tandem, tandem::atom, session_end, "sess_end")
  CAF_ADD_ATOM(tandem, tandem::atom, token_due, "token_due")
  CAF_ADD_ATOM(tandem, tandem::atom, reauthed, "reauthed")
  // chat: conversation actors (actors/conversation_actor.hpp) and the database
  CAF_ADD_ATOM(tandem, tandem::atom, cv_send, "cv_send")
  CAF_ADD_ATOM(tandem, tandem::atom, cv_read, "cv_read")
  CAF_ADD_ATOM(tandem, tandem::atom, cv_typing, "cv_typing")
  CAF_ADD_ATOM(tandem, tandem::atom, cv_after, "cv_after")
  CAF_ADD_ATOM(tandem, tandem::atom, cv_leave, "cv_leave")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_create, "ch_create")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_direct, "ch_direct")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_list, "ch_list")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_info, "ch_info")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_page, "ch_page")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_parts, "ch_parts")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_load, "ch_load")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_insert, "ch_insert")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_cursor, "ch_cursor")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_find, "ch_find")
  CAF_ADD_ATOM(tandem, tandem::atom, ch_leave, "ch_leave")
  CAF_ADD_ATOM(tandem, tandem::atom, msg_write, "msg_write")
  CAF_ADD_ATOM(tandem, tandem::atom, flush, "flush")
  // life cycle of registry-owned actors
  CAF_ADD_ATOM(tandem, tandem::atom, tick, "tick")
  CAF_ADD_ATOM(tandem, tandem::atom, idle, "idle")
  CAF_ADD_ATOM(tandem, tandem::atom, passivate, "passivate")
  // the database's social operations (persistence/social_db.hpp)
  CAF_ADD_ATOM(tandem, tandem::atom, soc_load, "soc_load")
  CAF_ADD_ATOM(tandem, tandem::atom, prof_load, "prof_load")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_commit, "fr_commit")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_decline, "fr_decline")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_purge, "fr_purge")
  CAF_ADD_ATOM(tandem, tandem::atom, sh_insert, "sh_insert")
  CAF_ADD_ATOM(tandem, tandem::atom, sh_mark, "sh_mark")
  CAF_ADD_ATOM(tandem, tandem::atom, sh_fetch, "sh_fetch")
  CAF_ADD_ATOM(tandem, tandem::atom, usr_search, "usr_search")
  CAF_ADD_ATOM(tandem, tandem::atom, fr_search, "fr_search")
  CAF_ADD_ATOM(tandem, tandem::atom, sh_sent, "sh_sent")
  CAF_ADD_ATOM(tandem, tandem::atom, media_put, "media_put")
  CAF_ADD_ATOM(tandem, tandem::atom, media_get, "media_get")
  CAF_ADD_ATOM(tandem, tandem::atom, media_del, "media_del")
  CAF_ADD_ATOM(tandem, tandem::atom, set_image, "set_image")
  CAF_ADD_ATOM(tandem, tandem::atom, clr_image, "clr_image")
  CAF_ADD_ATOM(tandem, tandem::atom, image_exts, "image_exts")
  CAF_ADD_ATOM(tandem, tandem::atom, enq_email, "enq_email")
  // -- message types ---------------------------------------------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::redis_reply))
  CAF_ADD_TYPE_ID(tandem, (tandem::identity))
  // -- message types of accounts and tokens -------------------------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::account))
  CAF_ADD_TYPE_ID(tandem, (tandem::token_pair))
  // -- message types of profiles ------------------------------------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::user_profile))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::user_profile>))
  CAF_ADD_TYPE_ID(tandem, (tandem::new_profile))
  CAF_ADD_TYPE_ID(tandem, (tandem::profile_update))
  CAF_ADD_TYPE_ID(tandem, (tandem::domain_list))
  // -- message types of media and e-mail ----------------------------------------
  // -- message types of the social graph and share notifications ----------------
  CAF_ADD_TYPE_ID(tandem, (tandem::user_card))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::user_card>))
  CAF_ADD_TYPE_ID(tandem, (tandem::user_summary))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::user_summary>))
  CAF_ADD_TYPE_ID(tandem, (tandem::friendship_row))
  CAF_ADD_TYPE_ID(tandem, (tandem::friendship_lookup))
  CAF_ADD_TYPE_ID(tandem, (tandem::relation))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::relation>))
  CAF_ADD_TYPE_ID(tandem, (tandem::friendship_command))
  CAF_ADD_TYPE_ID(tandem, (tandem::friendship_limits))
  CAF_ADD_TYPE_ID(tandem, (tandem::friendship_change))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::friendship_change>))
  CAF_ADD_TYPE_ID(tandem, (tandem::share_notification))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::share_notification>))
  CAF_ADD_TYPE_ID(tandem, (tandem::unread_snapshot))
  CAF_ADD_TYPE_ID(tandem, (tandem::share_request))
  CAF_ADD_TYPE_ID(tandem, (tandem::share_receipt))
  CAF_ADD_TYPE_ID(tandem, (tandem::read_receipt))
  CAF_ADD_TYPE_ID(tandem, (tandem::sent_share))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::sent_share>))
  CAF_ADD_TYPE_ID(tandem, (tandem::profile_snapshot))
  CAF_ADD_TYPE_ID(tandem, (tandem::social_snapshot))
  CAF_ADD_TYPE_ID(tandem, (tandem::page_request))
  CAF_ADD_TYPE_ID(tandem, (tandem::user_search))
  CAF_ADD_TYPE_ID(tandem, (tandem::share_query))
  CAF_ADD_TYPE_ID(tandem, (tandem::user_registry_stats))
  CAF_ADD_TYPE_ID(tandem, (tandem::media_key))
  CAF_ADD_TYPE_ID(tandem, (tandem::invitation))
  // -- message types of chat ------------------------------------------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::chat_message))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::chat_message>))
  CAF_ADD_TYPE_ID(tandem, (tandem::new_conversation))
  CAF_ADD_TYPE_ID(tandem, (tandem::conversation_summary))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::conversation_summary>))
  CAF_ADD_TYPE_ID(tandem, (tandem::conversation_info))
  CAF_ADD_TYPE_ID(tandem, (tandem::message_query))
  CAF_ADD_TYPE_ID(tandem, (tandem::conversation_snapshot))
  // -- message types of presence and WebSocket connections ----------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::ws_push))
  CAF_ADD_TYPE_ID(tandem, (tandem::page_info))
  CAF_ADD_TYPE_ID(tandem, (tandem::presence_state))
  CAF_ADD_TYPE_ID(tandem, (tandem::presence_overview))
CAF_END_TYPE_ID_BLOCK(tandem)

namespace tandem {

/// Registers the project's message types and error renderer with a config.
void add_message_types(caf::actor_system_config& cfg);

} // namespace tandem
