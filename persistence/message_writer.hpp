// The group commit of chat messages (docs/architecture.md, Durability): one writer gathers the
// inserts of every conversation for up to `commit_delay` or `commit_batch` rows and
// commits them in one transaction, answering each sender after the commit. While a
// batch commits the next one gathers, so batches grow with the load. A row the database
// refuses fails alone: a batch failed by a row error is tried again in halves (and so on
// down), while an unreachable or slow database fails the whole batch, which no retry
// would help.
#pragma once

#include "common/histogram.hpp"
#include "vocabulary/messages.hpp"
#include "persistence/chat_db.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tandem::persistence {

/// Replies true once `chat_message` is committed, false when it was skipped because
/// its sender's tempMessageId is stored already; errors of `insert_messages` otherwise,
/// `errc::invalid_request` for text that is not UTF-8 without NUL (never batched), or
/// `errc::overloaded` when `queue_limit` messages wait.
using message_writer_actor = caf::typed_actor<
  caf::replies_to<atom::write_message, chat_message>::with<bool>,
  /// The same in a cluster, fenced by the epoch its conversation was claimed with
  /// (docs/cluster.md, Ownership): `errc::moved` when the claim has moved on, and then
  /// nothing of the message was stored. Batches are fenced or not as a whole.
  caf::replies_to<atom::write_message, chat_message, int64_t>::with<bool>,
  /// The writer's own timer: commit what waits.
  caf::reacts_to<atom::flush>>;

struct message_writer_settings {
  caf::timespan commit_delay = std::chrono::milliseconds(2);
  std::size_t commit_batch = 256;
  std::size_t queue_limit = 8192;
  caf::timespan request_timeout = std::chrono::seconds(5);
};

/// Counters for /metrics and the benchmark (batch sizes seen).
struct message_writer_counters {
  std::atomic<uint64_t> batches{0};         ///< transactions committed (halves count apart)
  std::atomic<uint64_t> messages{0};        ///< messages of those transactions
  /// Transactions whose messages were answered with the error: a batch the database
  /// could not take, or one row it refused; a batch split in halves is not counted.
  std::atomic<uint64_t> failed_batches{0};
  std::atomic<uint64_t> largest_batch{0};   ///< most messages committed in one transaction
  std::atomic<uint64_t> waiting{0};         ///< messages waiting for the next transaction
  std::atomic<uint64_t> refused{0};         ///< messages refused: `queue_limit` were waiting
  /// Messages in the writer's mailbox, as it last saw taking a write or answering a batch.
  std::atomic<uint64_t> mailbox{0};
  /// Microseconds from a write's arrival to its answer after the commit (or its failure).
  histogram latency{histogram::latency_bounds_us()};
  /// Messages per committed transaction.
  histogram batch_sizes{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}};
};

message_writer_actor spawn_message_writer(caf::actor_system& sys, chat_db db,
                                          message_writer_settings settings,
                                          std::shared_ptr<message_writer_counters> counters);

} // namespace tandem::persistence
