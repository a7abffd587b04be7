#include "http/node_metrics.hpp"

namespace tandem::http {

namespace {

/// Microseconds, as Prometheus wants durations: seconds.
constexpr double microseconds_per_second = 1e6;

/// The samples of a registry of keyed actors (`kind` "user" or "conversation").
std::string registry_samples(const std::string& kind, const registry_counters& c) {
  auto sample = [&](const char* type, const std::string& name, const std::string& help,
                    uint64_t value) {
    return metrics::sample(type, ("tandem_" + kind + name).c_str(), help.c_str(), value);
  };
  return sample("gauge", "_actors", "Live " + kind + " actors.", c.live)
         + sample("counter", "_actors_spawned_total", "Started " + kind + " actors.", c.spawned)
         + sample("counter", "_actors_passivated_total",
                  "Passivated " + kind + " actors: stopped after their idle time.", c.passivated)
         + sample("counter", "_actors_died_total",
                  "Crashed " + kind + " actors: terminated on their own.", c.died)
         + sample("counter", "_registry_routed_total",
                  "Messages the " + kind + " registry handed to its actors.", c.routed)
         + sample("counter", "_keys_swept_total",
                  "Keys of " + kind + "s this node owned with no actor here, released by its "
                  "sweep.", c.swept);
}

/// tandem_pool_*{pool=...}: each pool's published stats, and how long its jobs waited.
std::string pool_samples(const node_figures& f) {
  using persistence::pool_stats;
  struct column {
    const char* type;
    const char* name;
    const char* help;
    uint64_t (*value)(const pool_stats&);
  };
  static const column columns[] = {
    {"gauge", "tandem_pool_workers", "Workers able to take a job.",
     [](const pool_stats& s) -> uint64_t { return s.workers; }},
    {"gauge", "tandem_pool_busy", "Jobs running on a worker.",
     [](const pool_stats& s) -> uint64_t { return s.busy; }},
    {"gauge", "tandem_pool_queued", "Jobs waiting for a worker.",
     [](const pool_stats& s) { return s.queued; }},
    {"gauge", "tandem_pool_queue_limit", "Most jobs that may wait.",
     [](const pool_stats& s) { return s.queue_limit; }},
    {"counter", "tandem_pool_jobs_total", "Jobs a worker answered.",
     [](const pool_stats& s) { return s.completed; }},
    {"counter", "tandem_pool_rejected_total", "Jobs refused: the queue was full (503).",
     [](const pool_stats& s) { return s.rejected; }},
    {"counter", "tandem_pool_expired_total", "Jobs dropped unrun past their deadline.",
     [](const pool_stats& s) { return s.expired; }},
    {"counter", "tandem_pool_limited_total", "Jobs refused past the bound of their owner.",
     [](const pool_stats& s) { return s.limited; }},
    {"counter", "tandem_pool_restarts_total", "Workers replaced after they died.",
     [](const pool_stats& s) { return s.restarts; }},
  };
  std::vector<std::pair<std::string, pool_stats>> now;
  std::vector<std::pair<std::string, histogram::snapshot>> waits;
  for (const auto& [pool, gauges] : f.pools) {
    auto labels = "pool=\"" + pool + "\"";
    now.emplace_back(labels, gauges->stats.load());
    waits.emplace_back(labels, gauges->waits.load());
  }
  std::string out;
  for (const auto& c : columns) {
    std::vector<metrics::series> samples;
    for (const auto& [labels, st] : now)
      samples.emplace_back(labels, c.value(st));
    out += metrics::family(c.type, c.name, c.help, samples);
  }
  return out + metrics::histogram_family(
                 "tandem_pool_wait_seconds",
                 "Time a job waited for a worker (0 when one was idle); jobs refused or "
                 "expired are not in it.",
                 waits, microseconds_per_second);
}

std::string writer_samples(const persistence::message_writer_counters& c) {
  return metrics::sample("counter", "tandem_chat_batches_total",
                         "Group commits of chat messages.", c.batches)
         + metrics::sample("counter", "tandem_chat_messages_committed_total",
                           "Chat messages committed.", c.messages)
         + metrics::sample("counter", "tandem_chat_failed_batches_total",
                           "Group commits that failed.", c.failed_batches)
         + metrics::sample("gauge", "tandem_chat_largest_batch",
                           "Most messages committed in one transaction.", c.largest_batch)
         + metrics::sample("gauge", "tandem_chat_messages_waiting",
                           "Chat messages waiting for the next group commit.", c.waiting)
         + metrics::sample("counter", "tandem_chat_messages_refused_total",
                           "Chat messages refused: chat.writer_queue_limit were waiting.",
                           c.refused)
         + metrics::histogram_family("tandem_chat_batch_size",
                                     "Messages per committed group-commit transaction.",
                                     {{"", c.batch_sizes.load()}})
         + metrics::histogram_family(
           "tandem_chat_commit_seconds",
           "Time from a chat message's arrival at the writer to its answer after the commit "
           "(or the failure).",
           {{"", c.latency.load()}}, microseconds_per_second);
}

/// tandem_mailbox_depth{actor=...}: the node-wide actors every request passes through.
std::string mailbox_samples(const node_figures& f) {
  return metrics::family(
    "gauge", "tandem_mailbox_depth",
    "Messages waiting in the mailbox of a node-wide actor, as it last saw while handling one.",
    {{"actor=\"user_registry\"", f.users->mailbox.load()},
     {"actor=\"conversation_registry\"", f.conversations->mailbox.load()},
     {"actor=\"message_writer\"", f.writer->mailbox.load()}});
}

std::string gateway_samples(const gateway_counters& c) {
  return metrics::sample("counter", "tandem_presence_updates_received_total",
                         "update-presence frames that reached their user's actor.",
                         c.presence_received)
         + metrics::sample("counter", "tandem_presence_published_total",
                           "Presence pages published to a user's friends and own sockets.",
                           c.presence_published)
         + metrics::sample("counter", "tandem_presence_offline_total",
                           "Users gone offline: presence-timeout sent to their friends.",
                           c.presence_offline)
         + metrics::family("counter", "tandem_ws_pushes_total",
                           "Pushed frames a WebSocket connection queued for its socket, by "
                           "event kind.",
                           {{"kind=\"presence\"", c.pushed_presence.load()},
                            {"kind=\"social\"", c.pushed_social.load()},
                            {"kind=\"chat\"", c.pushed_chat.load()}})
         + metrics::sample(
           "counter", "tandem_ws_presence_coalesced_total",
           "update-presence replaced by a later one within the user's presence budget.",
           c.presence_coalesced)
         + metrics::sample("counter", "tandem_ws_typing_shed_total",
                           "typing frames shed past the user's typing budget.", c.typing_shed)
         + metrics::sample("counter", "tandem_ws_receipts_shed_total",
                           "read-messages shed past the user's receipts budget.",
                           c.receipts_shed)
         + metrics::sample("counter", "tandem_ws_fanout_shed_total",
                           "typing fan-outs shed while the user registry was past "
                           "ws.fanout_backlog.",
                           c.fanout_shed)
         + metrics::sample("counter", "tandem_ws_offline_skipped_total",
                           "recipients of pushes skipped: no live connection for the kind.",
                           c.offline_skipped);
}

std::string bus_samples(const cluster::bus_counters& c) {
  return metrics::sample("counter", "tandem_bus_published_total",
                         "Envelopes published to other nodes.", c.published)
         + metrics::sample("counter", "tandem_bus_flushes_total",
                           "Round trips to Redis that published them (pipelined).", c.flushes)
         + metrics::sample("counter", "tandem_bus_received_total",
                           "Envelopes received from other nodes.", c.received)
         + metrics::sample("counter", "tandem_bus_refused_size_total",
                           "Envelopes over cluster.bus_message_limit.", c.refused_size)
         + metrics::sample("counter", "tandem_bus_refused_queue_total",
                           "Envelopes over cluster.bus_queue_limit.", c.refused_queue)
         + metrics::sample("counter", "tandem_bus_refused_values_total",
                           "Messages refused for actor handles or unregistered types.",
                           c.refused_values)
         + metrics::sample("counter", "tandem_bus_timeouts_total",
                           "Requests unanswered within cluster.request_timeout_ms.", c.timeouts)
         + metrics::sample("counter", "tandem_bus_unavailable_total",
                           "Requests failed at once: bus down or nobody listening.",
                           c.unavailable)
         + metrics::sample("counter", "tandem_bus_decode_errors_total",
                           "Garbled or foreign envelopes dropped.", c.decode_errors)
         + metrics::sample("gauge", "tandem_bus_subscribed",
                           "1 while this node listens on its channel.", c.subscribed ? 1 : 0);
}

std::string directory_samples(const connection_directory_counters& c) {
  return metrics::sample("gauge", "tandem_ws_directory_connections",
                         "Connection actors registered with this node's directory.",
                         c.registered)
         + metrics::sample("counter", "tandem_ws_directory_delivered_total",
                           "Messages for a connection_ref delivered here.", c.delivered)
         + metrics::sample("counter", "tandem_ws_directory_forwarded_total",
                           "Messages for a connection_ref sent on to another node.", c.forwarded)
         + metrics::sample("counter", "tandem_ws_directory_dropped_total",
                           "Messages for an ended connection or an old run of this node.",
                           c.dropped);
}

std::string outbox_samples(const email_outbox_counters& c) {
  return metrics::sample("counter", "tandem_emails_sent_total",
                         "Invitation e-mails the SMTP server accepted.", c.sent)
         + metrics::sample("counter", "tandem_emails_retried_total",
                           "Invitation e-mail sends refused for now, due again later.", c.retried)
         + metrics::sample("counter", "tandem_emails_failed_total",
                           "Invitation e-mails given up on.", c.failed);
}

} // namespace

void add_node_collectors(metrics& stats, caf::actor_system& sys, node_figures figures) {
  auto f = std::make_shared<const node_figures>(std::move(figures));
  stats.add_collector([f, &sys] {
    auto out = pool_samples(*f)
               + metrics::sample("gauge", "tandem_actors_running", "Actors running.",
                                 sys.registry().running())
               + registry_samples("user", *f->users)
               + registry_samples("conversation", *f->conversations) + mailbox_samples(*f)
               + writer_samples(*f->writer) + gateway_samples(*f->gateway)
               + metrics::sample("counter", "tandem_friend_requests_expired_total",
                                 "Expired friend requests deleted.", f->purge->purged)
               + outbox_samples(*f->outbox);
    if (f->bus)
      out += bus_samples(*f->bus);
    if (f->directory)
      out += directory_samples(*f->directory);
    return out;
  });
}

} // namespace tandem::http
