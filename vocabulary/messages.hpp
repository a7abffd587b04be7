// The vocabulary every room above this one speaks: the project's error codes, atoms and
// the one CAF type-id block.
#pragma once

#include "vocabulary/account_types.hpp"
#include "vocabulary/chat_types.hpp"
#include "vocabulary/cluster_types.hpp"
#include "vocabulary/membership_types.hpp"
#include "vocabulary/email_types.hpp"
#include "vocabulary/media_types.hpp"
#include "vocabulary/ownership_types.hpp"
#include "vocabulary/realtime_types.hpp"
#include "vocabulary/social_types.hpp"
#include "vocabulary/user_types.hpp"

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
  moved,              ///< The key's owner changed (fenced, or owned by another node); retry (503).
  peer_unavailable,   ///< Another node did not answer within cluster.request_timeout_ms (503).
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
  CAF_ADD_ATOM(tandem, tandem::atom, load_users, "user_loadn")
  CAF_ADD_ATOM(tandem, tandem::atom, update_user, "user_upd")
  CAF_ADD_ATOM(tandem, tandem::atom, set_domains, "user_doms")
  // -- atoms for media and e-mail -----------------------------------------------
  // -- atoms for the social graph and share notifications -----------------------
  // user actors, routed through the user registry (vocabulary/user_interface.hpp)
  CAF_ADD_ATOM(tandem, tandem::atom, lookup_friendship, "fr_lookup")
  CAF_ADD_ATOM(tandem, tandem::atom, incoming_requests, "fr_in")
  CAF_ADD_ATOM(tandem, tandem::atom, list_friends, "fr_list")
  CAF_ADD_ATOM(tandem, tandem::atom, count_friends, "fr_count")
  CAF_ADD_ATOM(tandem, tandem::atom, mutual_friends, "fr_mutual")
  CAF_ADD_ATOM(tandem, tandem::atom, count_mutual_friends, "fr_mcount")
  CAF_ADD_ATOM(tandem, tandem::atom, all_relations, "fr_all")
  CAF_ADD_ATOM(tandem, tandem::atom, write_friendship, "fr_write")
  CAF_ADD_ATOM(tandem, tandem::atom, unread_shares, "sh_unread")
  CAF_ADD_ATOM(tandem, tandem::atom, send_share, "sh_send")
  CAF_ADD_ATOM(tandem, tandem::atom, mark_shares_read, "sh_read")
  CAF_ADD_ATOM(tandem, tandem::atom, friend_ids, "fr_ids")
  CAF_ADD_ATOM(tandem, tandem::atom, friend_cards, "fr_page")
  CAF_ADD_ATOM(tandem, tandem::atom, apply_friendship_change, "fr_apply")
  CAF_ADD_ATOM(tandem, tandem::atom, receive_share, "sh_in")
  CAF_ADD_ATOM(tandem, tandem::atom, card_changed, "card_upd")
  CAF_ADD_ATOM(tandem, tandem::atom, get_profile, "prof_get")
  CAF_ADD_ATOM(tandem, tandem::atom, create_profile, "prof_new")
  CAF_ADD_ATOM(tandem, tandem::atom, update_profile, "prof_upd")
  CAF_ADD_ATOM(tandem, tandem::atom, set_profile_domains, "prof_doms")
  CAF_ADD_ATOM(tandem, tandem::atom, set_profile_image, "prof_img")
  CAF_ADD_ATOM(tandem, tandem::atom, clear_profile_image, "prof_noimg")
  CAF_ADD_ATOM(tandem, tandem::atom, resync, "resync")
  CAF_ADD_ATOM(tandem, tandem::atom, decline_all_requests, "fr_declall")
  CAF_ADD_ATOM(tandem, tandem::atom, expire_requests, "fr_expire")
  // presence and WebSocket connections (vocabulary/user_interface.hpp, connection_actor.hpp)
  CAF_ADD_ATOM(tandem, tandem::atom, open_connection, "conn_open")
  CAF_ADD_ATOM(tandem, tandem::atom, update_presence, "pr_update")
  CAF_ADD_ATOM(tandem, tandem::atom, presence_heartbeat, "pr_beat")
  CAF_ADD_ATOM(tandem, tandem::atom, check_presence, "pr_check")
  CAF_ADD_ATOM(tandem, tandem::atom, get_presence, "pr_get")
  CAF_ADD_ATOM(tandem, tandem::atom, peek_presence, "pr_peek")
  CAF_ADD_ATOM(tandem, tandem::atom, presence_of, "pr_state")
  CAF_ADD_ATOM(tandem, tandem::atom, push, "push")
  CAF_ADD_ATOM(tandem, tandem::atom, websocket_opened, "ws_open")
  CAF_ADD_ATOM(tandem, tandem::atom, websocket_frame, "ws_in")
  CAF_ADD_ATOM(tandem, tandem::atom, websocket_bad_frame, "ws_bad")
  CAF_ADD_ATOM(tandem, tandem::atom, websocket_sent, "ws_sent")
  CAF_ADD_ATOM(tandem, tandem::atom, websocket_closed, "ws_closed")
  CAF_ADD_ATOM(tandem, tandem::atom, evict, "evict")
  CAF_ADD_ATOM(tandem, tandem::atom, budget, "budget")
  CAF_ADD_ATOM(tandem, tandem::atom, flush_presence, "pr_flush")
  CAF_ADD_ATOM(tandem, tandem::atom, fanout, "fanout")
  CAF_ADD_ATOM(tandem, tandem::atom, live_connections, "conn_live")
  // sessions: logout closes a session's sockets, expired tokens re-authenticate
  CAF_ADD_ATOM(tandem, tandem::atom, session_end, "sess_end")
  CAF_ADD_ATOM(tandem, tandem::atom, token_expiring, "token_due")
  CAF_ADD_ATOM(tandem, tandem::atom, reauthenticated, "reauthed")
  // chat: conversation actors (actors/conversation_actor.hpp) and the database
  CAF_ADD_ATOM(tandem, tandem::atom, send_message, "cv_send")
  CAF_ADD_ATOM(tandem, tandem::atom, mark_read, "cv_read")
  CAF_ADD_ATOM(tandem, tandem::atom, typing, "cv_typing")
  CAF_ADD_ATOM(tandem, tandem::atom, messages_after, "cv_after")
  CAF_ADD_ATOM(tandem, tandem::atom, leave_conversation, "cv_leave")
  CAF_ADD_ATOM(tandem, tandem::atom, create_conversation, "ch_create")
  CAF_ADD_ATOM(tandem, tandem::atom, direct_conversation, "ch_direct")
  CAF_ADD_ATOM(tandem, tandem::atom, list_conversations, "ch_list")
  CAF_ADD_ATOM(tandem, tandem::atom, get_conversation_info, "ch_info")
  CAF_ADD_ATOM(tandem, tandem::atom, message_history, "ch_page")
  CAF_ADD_ATOM(tandem, tandem::atom, list_participants, "ch_parts")
  CAF_ADD_ATOM(tandem, tandem::atom, load_conversation, "ch_load")
  CAF_ADD_ATOM(tandem, tandem::atom, insert_messages, "ch_insert")
  CAF_ADD_ATOM(tandem, tandem::atom, store_read_cursor, "ch_cursor")
  CAF_ADD_ATOM(tandem, tandem::atom, find_message, "ch_find")
  CAF_ADD_ATOM(tandem, tandem::atom, remove_participant, "ch_leave")
  CAF_ADD_ATOM(tandem, tandem::atom, write_message, "msg_write")
  CAF_ADD_ATOM(tandem, tandem::atom, flush, "flush")
  // life cycle of registry-owned actors
  CAF_ADD_ATOM(tandem, tandem::atom, tick, "tick")
  CAF_ADD_ATOM(tandem, tandem::atom, idle, "idle")
  CAF_ADD_ATOM(tandem, tandem::atom, passivate, "passivate")
  // the database's social operations (persistence/social_db.hpp)
  CAF_ADD_ATOM(tandem, tandem::atom, load_social, "soc_load")
  CAF_ADD_ATOM(tandem, tandem::atom, commit_friendship, "fr_commit")
  CAF_ADD_ATOM(tandem, tandem::atom, decline_requests, "fr_decline")
  CAF_ADD_ATOM(tandem, tandem::atom, purge_expired_requests, "fr_purge")
  CAF_ADD_ATOM(tandem, tandem::atom, insert_share, "sh_insert")
  CAF_ADD_ATOM(tandem, tandem::atom, mark_shares, "sh_mark")
  CAF_ADD_ATOM(tandem, tandem::atom, fetch_shares, "sh_fetch")
  CAF_ADD_ATOM(tandem, tandem::atom, search_users, "usr_search")
  CAF_ADD_ATOM(tandem, tandem::atom, search_relations, "fr_search")
  CAF_ADD_ATOM(tandem, tandem::atom, sent_shares, "sh_sent")
  CAF_ADD_ATOM(tandem, tandem::atom, put_media, "media_put")
  CAF_ADD_ATOM(tandem, tandem::atom, get_media, "media_get")
  CAF_ADD_ATOM(tandem, tandem::atom, delete_media, "media_del")
  CAF_ADD_ATOM(tandem, tandem::atom, set_image, "set_image")
  CAF_ADD_ATOM(tandem, tandem::atom, clear_image, "clr_image")
  CAF_ADD_ATOM(tandem, tandem::atom, image_extensions, "image_exts")
  CAF_ADD_ATOM(tandem, tandem::atom, enqueue_email, "enq_email")
  // -- atoms of the cluster: membership and placement ---------------------------
  CAF_ADD_ATOM(tandem, tandem::atom, renew_lease, "ls_renew")
  CAF_ADD_ATOM(tandem, tandem::atom, drop_lease, "ls_drop")
  CAF_ADD_ATOM(tandem, tandem::atom, fence_due, "cl_fence")
  CAF_ADD_ATOM(tandem, tandem::atom, leave_cluster, "cl_leave")
  CAF_ADD_ATOM(tandem, tandem::atom, stop_serving, "cl_stop")
  CAF_ADD_ATOM(tandem, tandem::atom, hand_over, "cl_handovr")
  CAF_ADD_ATOM(tandem, tandem::atom, membership_changed, "cl_changed")

  // -- atoms of the cluster: ownership (claims, epochs, fencing) -----------------
  CAF_ADD_ATOM(tandem, tandem::atom, claim_conversation, "claim_c")
  CAF_ADD_ATOM(tandem, tandem::atom, release_conversation, "release_c")
  CAF_ADD_ATOM(tandem, tandem::atom, owned_conversations, "owned_c")
  CAF_ADD_ATOM(tandem, tandem::atom, release_conversations, "release_cs")
  CAF_ADD_ATOM(tandem, tandem::atom, claim_user, "claim_u")
  CAF_ADD_ATOM(tandem, tandem::atom, release_user, "release_u")
  CAF_ADD_ATOM(tandem, tandem::atom, owned_users, "owned_u")
  CAF_ADD_ATOM(tandem, tandem::atom, release_users, "release_us")
  CAF_ADD_ATOM(tandem, tandem::atom, sweep_keys, "cl_sweep")
  CAF_ADD_ATOM(tandem, tandem::atom, insert_fenced_messages, "ch_fenced")

  // -- atoms of the cluster: the bus between nodes -------------------------------
  CAF_ADD_ATOM(tandem, tandem::atom, register_endpoint, "bus_reg")
  CAF_ADD_ATOM(tandem, tandem::atom, bus_forward, "bus_fwd")
  CAF_ADD_ATOM(tandem, tandem::atom, bus_inbound, "bus_in")
  CAF_ADD_ATOM(tandem, tandem::atom, bus_expire, "bus_due")
  CAF_ADD_ATOM(tandem, tandem::atom, bus_link, "bus_link")

  // -- atoms of the cluster: connections on other nodes --------------------------
  // (vocabulary/user_interface.hpp, actors/connection_directory.hpp)
  CAF_ADD_ATOM(tandem, tandem::atom, register_connection, "conn_reg")
  CAF_ADD_ATOM(tandem, tandem::atom, close_connection, "conn_close")
  CAF_ADD_ATOM(tandem, tandem::atom, connection_lost, "conn_lost")
  CAF_ADD_ATOM(tandem, tandem::atom, node_gone, "node_gone")

  // -- atoms of e-mail delivery ---------------------------------------------------
  // the e-mail outbox (actors/email_outbox.hpp, persistence/smtp.hpp)
  CAF_ADD_ATOM(tandem, tandem::atom, claim_emails, "em_claim")
  CAF_ADD_ATOM(tandem, tandem::atom, settle_email, "em_settle")
  CAF_ADD_ATOM(tandem, tandem::atom, send_email, "em_send")

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
  CAF_ADD_TYPE_ID(tandem, (tandem::social_snapshot))
  CAF_ADD_TYPE_ID(tandem, (tandem::list_window))
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
  // -- message types of the cluster: membership and placement --------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::node_identity))
  CAF_ADD_TYPE_ID(tandem, (tandem::cluster_node))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::cluster_node>))
  CAF_ADD_TYPE_ID(tandem, (tandem::lease_renewal))

  // -- message types of the cluster: ownership (claims, epochs, fencing) ----------
  CAF_ADD_TYPE_ID(tandem, (tandem::fenced_batch))
  CAF_ADD_TYPE_ID(tandem, (tandem::write_fence))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::write_fence>))

  // -- message types of the cluster: the bus between nodes ------------------------

  // -- message types of the cluster: connections on other nodes -------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::connection_ref))

  // -- message types of e-mail delivery ---------------------------------------------
  CAF_ADD_TYPE_ID(tandem, (tandem::outbox_email))
  CAF_ADD_TYPE_ID(tandem, (std::vector<tandem::outbox_email>))
  CAF_ADD_TYPE_ID(tandem, (tandem::smtp_verdict))
  CAF_ADD_TYPE_ID(tandem, (tandem::email_settlement))

CAF_END_TYPE_ID_BLOCK(tandem)

namespace tandem {

/// Registers the project's message types and error renderer with a config.
void add_message_types(caf::actor_system_config& cfg);

} // namespace tandem
