// A bounded pool of workers behind one facade actor: the one mechanism under both the
// database and the Redis facades (docs/operations.md, Limits and budgets).
//
// The facade (an event-based actor) owns a `worker_pool` in its state. A handler
// submits a job and returns its response promise; the pool hands the job to an idle
// worker or queues it (FIFO, bounded). The worker runs the job on its own thread and
// replies a `completion`, a closure that the facade then runs to deliver the promise:
// promises are only ever delivered from the facade's own context.
#pragma once

#include "common/histogram.hpp"
#include "common/published.hpp"
#include "config/log.hpp"
#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tandem::persistence {

// -- jobs and workers ---------------------------------------------------------

/// Delivers a job's outcome to its caller. Built by a worker, run by the facade.
struct completion {
  std::function<void()> deliver;
};

/// One unit of work for a worker that owns a `Session` (a database connection, a
/// Redis context). Local only: it carries closures.
template <class Session>
struct pool_job {
  /// Names the operation in logs and errors; never carries its parameters.
  std::string name;
  /// Runs on the worker's thread; may throw (the session maps what it throws).
  std::function<completion(Session&)> run;
  /// Builds the completion that reports `err` to the caller instead.
  std::function<completion(caf::error)> fail;
};

/// A worker runs one job at a time and replies the job's completion.
template <class Session>
using pool_worker = caf::typed_actor<
  typename caf::replies_to<atom::run, pool_job<Session>>::template with<completion>>;

/// Spawns one worker; the pool calls it at start and to replace a worker that died.
template <class Session>
using worker_factory = std::function<pool_worker<Session>(caf::actor_system&)>;

/// A real worker's state: its session, built when the worker starts.
template <class Session>
struct pool_worker_state {
  std::optional<Session> session;
  static inline const char* name = "tandem.pool_worker";
};

/// The behavior of a real worker: owns one `Session` built from `args` and runs each
/// job through `completion Session::execute(const pool_job<Session>&)`, which must
/// not throw. Spawn it `caf::detached` when the session blocks its thread.
template <class Session, class... Args>
typename pool_worker<Session>::behavior_type pool_worker_impl(
  typename pool_worker<Session>::template stateful_pointer<pool_worker_state<Session>> self,
  Args... args) {
  self->state.session.emplace(std::move(args)...);
  return {
    [self](atom::run, const pool_job<Session>& job) -> completion {
      return self->state.session->execute(job);
    },
  };
}

// -- the pool -----------------------------------------------------------------

/// A snapshot of a pool's load, for metrics.
struct pool_stats {
  uint32_t workers = 0;     ///< Workers able to take a job.
  uint32_t busy = 0;        ///< Jobs running on a worker.
  uint64_t queued = 0;      ///< Jobs waiting for a worker.
  uint64_t queue_limit = 0; ///< Most jobs that may wait.
  uint64_t completed = 0;   ///< Jobs a worker answered since start.
  uint64_t rejected = 0;    ///< Jobs refused with errc::overloaded since start.
  uint64_t restarts = 0;    ///< Workers replaced after they died.
  uint64_t expired = 0;     ///< Jobs dropped unrun: they waited past the deadline.
  uint64_t limited = 0;     ///< Jobs refused past the per-owner bound.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_stats& x) {
  return f(caf::meta::type_name("pool_stats"), x.workers, x.busy, x.queued, x.queue_limit,
           x.completed, x.rejected, x.restarts, x.expired, x.limited);
}

/// What a pool shows on /metrics: its stats as its facade last published them (after every
/// change), and how long each job that ran waited for a worker (0 when one was idle).
struct pool_gauges {
  published<pool_stats> stats;
  histogram waits{histogram::latency_bounds_us()}; ///< microseconds
};

/// How a pool is sized (from db_config / redis_config).
struct pool_settings {
  std::string name;            ///< "db", "redis": names the pool in logs.
  std::size_t size = 1;        ///< Number of workers; at least one is started.
  std::size_t queue_limit = 0; ///< Jobs that may wait when every worker is busy.
  /// How long a caller waits for a job (its request deadline); zero for no deadline.
  /// A job that waited this long is dropped unrun (its caller has given up), and a job
  /// whose expected wait exceeds it is refused at once.
  caf::timespan deadline{0};
  /// Most jobs one owner may have waiting or running (`submit` with an owner); zero
  /// for no bound.
  std::size_t per_owner_limit = 0;
  /// What a job past `per_owner_limit` is refused with: `errc::rate_limited` (429) when
  /// an owner is one client, `errc::overloaded` (503) when it is a share of the pool.
  errc per_owner_refusal = errc::rate_limited;
  /// Where the pool publishes its stats after every change; none: nowhere.
  std::shared_ptr<pool_gauges> gauges{};
};

namespace detail {

template <class T>
struct unwrap_expected {
  using type = T;
};

template <class T>
struct unwrap_expected<caf::expected<T>> {
  using type = T;
};

/// What a job's caller receives when the job returns `R` (`T` or `caf::expected<T>`).
template <class R>
using reply_type_t = typename unwrap_expected<R>::type;

} // namespace detail

/// Dispatches jobs to a fixed number of workers for the facade actor `Self` that owns
/// the pool in its state (`Self` is e.g. `db_actor::base`). Idle workers get a job at
/// once; otherwise jobs wait in FIFO order, at most `queue_limit` of them, and beyond
/// that the caller gets `errc::overloaded` at once. With a deadline, a job is also
/// refused with `errc::overloaded` when the jobs ahead of it would take longer than the
/// deadline (queue length times the recent run time per worker), and a job that waited
/// past it is answered `errc::db_timeout` and never run. A worker that dies fails its
/// running job with `errc::internal` and is replaced. The pool installs the owner's
/// down handler and stops its workers when the owner terminates.
template <class Session, class Self>
class worker_pool {
public:
  using job_type = pool_job<Session>;
  using worker_type = pool_worker<Session>;

  /// Starts the workers; `self` is the owner, which must outlive the pool (keep the
  /// pool in the owner's state).
  worker_pool(Self* self, pool_settings settings, worker_factory<Session> factory)
      : self_(self), settings_(std::move(settings)), factory_(std::move(factory)) {
    slots_.resize(std::max<std::size_t>(settings_.size, 1));
    for (auto& s : slots_)
      start_worker(s);
    self_->set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
    publish();
  }

  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  ~worker_pool() {
    // The owner is terminating and will run no more completions: answer every
    // waiting and running job now rather than leave its caller to time out.
    auto gone = caf::make_error(caf::sec::request_receiver_down);
    for (auto& s : slots_) {
      if (s.job)
        s.job->fail(gone).deliver();
      if (s.worker)
        caf::anon_send_exit(s.worker, caf::exit_reason::user_shutdown);
    }
    for (auto& w : queue_)
      w.job.fail(gone).deliver();
  }

  /// Runs `fn(Session&)` on a worker and answers the request being handled with what
  /// it returns (`T` or `caf::expected<T>`). Exceptions thrown by `fn` are mapped to
  /// errors by the session. Call only from a message handler of the owner. A job with
  /// an `owner` (a user id, for expensive reads) counts against that owner's
  /// `per_owner_limit`; past it the caller gets `per_owner_refusal` at once.
  template <class F>
  auto submit(std::string name, F fn, std::string owner = {})
    -> caf::result<detail::reply_type_t<std::invoke_result_t<const F&, Session&>>> {
    using result_type = std::invoke_result_t<const F&, Session&>;
    using reply_type = detail::reply_type_t<result_type>;
    auto rp = self_->template make_response_promise<reply_type>();
    if (!owner.empty() && settings_.per_owner_limit != 0) {
      auto& held = owners_[owner];
      if (held >= settings_.per_owner_limit) {
        ++limited_;
        rp.deliver(caf::make_error(settings_.per_owner_refusal,
                                   "Too many expensive requests at once; try again shortly",
                                   int64_t{1}));
        publish();
        return rp;
      }
      ++held;
    } else {
      owner.clear();
    }
    // Exactly one of the two completions below is delivered: it frees the owner's slot.
    auto release = [this, owner] {
      if (owner.empty())
        return;
      if (auto i = owners_.find(owner); i != owners_.end() && --i->second == 0)
        owners_.erase(i);
    };
    job_type job;
    job.name = std::move(name);
    // May run twice: a database session retries once on a fresh connection.
    job.run = [rp, release, fn = std::move(fn)](Session& session) -> completion {
      auto res = fn(session);
      return {[rp, release, res = std::move(res)]() mutable {
        release();
        if constexpr (std::is_same_v<result_type, reply_type>) {
          rp.deliver(std::move(res));
        } else if (res) {
          rp.deliver(std::move(*res));
        } else {
          rp.deliver(std::move(res.error()));
        }
      }};
    };
    job.fail = [rp, release](caf::error err) -> completion {
      return {[rp, release, err = std::move(err)]() mutable {
        release();
        rp.deliver(std::move(err));
      }};
    };
    enqueue(std::move(job));
    publish();
    return rp;
  }

  /// The current load.
  pool_stats stats() const {
    pool_stats st;
    for (auto& s : slots_) {
      st.workers += s.worker ? 1 : 0;
      st.busy += s.job ? 1 : 0;
    }
    st.queued = queue_.size();
    st.queue_limit = settings_.queue_limit;
    st.completed = completed_;
    st.rejected = rejected_;
    st.restarts = restarts_;
    st.expired = expired_;
    st.limited = limited_;
    return st;
  }

private:
  /// A job a worker is running, kept to fail it if the worker dies.
  struct in_flight {
    uint64_t ticket;
    std::string name;
    std::function<completion(caf::error)> fail;
    caf::actor_clock::time_point started;
  };

  /// A job waiting for a worker, with the time it arrived.
  struct waiting {
    job_type job;
    caf::actor_clock::time_point arrived;
  };

  struct slot {
    worker_type worker; ///< Empty while a failed worker waits to be replaced.
    caf::actor_addr addr;
    std::optional<in_flight> job;
  };

  void start_worker(slot& s) {
    s.worker = factory_(self_->system());
    s.addr = s.worker.address();
    self_->monitor(s.worker);
  }

  void enqueue(job_type job) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].worker && !slots_[i].job) {
        dispatch(i, std::move(job), now());
        return;
      }
    }
    if (queue_.size() < settings_.queue_limit && !wait_exceeds_deadline()) {
      queue_.push_back(waiting{std::move(job), now()});
      return;
    }
    ++rejected_;
    // Logged once per busy spell, not once per refused job: the counter is in stats.
    if (!saturated_) {
      saturated_ = true;
      log::warn("pool queue full, refusing jobs",
                {{"pool", settings_.name}, {"queue_limit", settings_.queue_limit}});
    }
    job.fail(caf::make_error(errc::overloaded, "The queue is full", int64_t{retry_after_s()})).deliver();
  }

  caf::actor_clock::time_point now() const {
    return self_->clock().now();
  }

  /// Whether a job queued now would wait past the deadline: the jobs ahead of it, one
  /// recent run time each, shared by the workers.
  bool wait_exceeds_deadline() const {
    if (settings_.deadline.count() <= 0)
      return false;
    return expected_wait(queue_.size() + 1) > settings_.deadline;
  }

  caf::timespan expected_wait(std::size_t jobs) const {
    return recent_run_ * static_cast<int64_t>(jobs) / static_cast<int64_t>(slots_.size());
  }

  /// Seconds until the queue as it stands has drained (at least one), for Retry-After.
  int64_t retry_after_s() const {
    auto wait = std::chrono::duration_cast<std::chrono::seconds>(expected_wait(queue_.size()));
    return std::max<int64_t>(1, wait.count() + 1);
  }

  /// Runs `job` on the idle worker in `index`; it arrived at `arrived`.
  void dispatch(std::size_t index, job_type job, caf::actor_clock::time_point arrived) {
    auto& s = slots_[index];
    auto ticket = ++tickets_;
    s.job = in_flight{ticket, job.name, job.fail, now()};
    if (settings_.gauges)
      settings_.gauges->waits.observe(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now() - arrived).count()));
    // No timeout here: statement and command timeouts bound the work in the worker,
    // and each caller bounds its own wait with its request timeout.
    self_->request(s.worker, caf::infinite, atom::run_v, std::move(job))
      .then([this, index, ticket](completion& done) { on_done(index, ticket, done); },
            [this, index, ticket](caf::error& err) { on_worker_error(index, ticket, err); });
  }

  /// The job in `index` unless `ticket` is stale (its worker died meanwhile and the
  /// job was failed already).
  in_flight* current(std::size_t index, uint64_t ticket) {
    auto& job = slots_[index].job;
    return job && job->ticket == ticket ? &*job : nullptr;
  }

  void on_done(std::size_t index, uint64_t ticket, completion& done) {
    auto* job = current(index, ticket);
    if (job == nullptr)
      return;
    // A moving average of run times (weight 1/8), the basis of the expected wait.
    recent_run_ += (caf::timespan{now() - job->started} - recent_run_) / 8;
    ++completed_;
    if (!done.deliver) {
      log::error("pool worker replied no completion",
                 {{"pool", settings_.name}, {"job", job->name}});
      done = job->fail(caf::make_error(errc::internal));
    }
    slots_[index].job.reset();
    next(index);
    // Stats first: a caller that reads the gauges once answered must count its own job.
    publish();
    done.deliver();
  }

  /// A worker that answers with an error instead of a completion failed (it threw or
  /// terminated): fail its job, stop it, and let the down handler replace it.
  void on_worker_error(std::size_t index, uint64_t ticket, const caf::error& err) {
    auto* job = current(index, ticket);
    if (job == nullptr)
      return;
    auto& s = slots_[index];
    log::error("pool worker failed", {{"pool", settings_.name}, {"job", job->name},
                                      {"error", describe(err)}});
    job->fail(caf::make_error(errc::internal)).deliver();
    s.job.reset();
    self_->send_exit(s.worker, caf::exit_reason::kill);
    s.worker = worker_type{};
    publish();
  }

  void on_down(const caf::down_msg& msg) {
    auto i = std::find_if(slots_.begin(), slots_.end(),
                          [&](const slot& s) { return s.addr == msg.source; });
    if (i == slots_.end())
      return;
    nlohmann::json fields = {{"pool", settings_.name}, {"reason", describe(msg.reason)}};
    if (i->job) {
      fields["job"] = i->job->name;
      i->job->fail(caf::make_error(errc::internal)).deliver();
      i->job.reset();
    }
    log::error("pool worker died, replacing it", std::move(fields));
    ++restarts_;
    start_worker(*i);
    next(static_cast<std::size_t>(i - slots_.begin()));
    publish();
  }

  /// Stores the current stats in the gauges, if any: the last step of everything that
  /// changes the pool (construction, submit, a worker's reply or death).
  void publish() const {
    if (settings_.gauges)
      settings_.gauges->stats.store(stats());
  }

  /// Gives the idle worker in `index` the oldest waiting job that its caller still
  /// waits for; those that waited past the deadline are answered and dropped unrun.
  void next(std::size_t index) {
    while (!queue_.empty()) {
      auto w = std::move(queue_.front());
      queue_.pop_front();
      if (settings_.deadline.count() > 0 && now() - w.arrived >= settings_.deadline) {
        ++expired_;
        w.job.fail(caf::make_error(errc::db_timeout)).deliver();
        continue;
      }
      return dispatch(index, std::move(w.job), w.arrived);
    }
    saturated_ = false;
  }

  Self* self_;
  pool_settings settings_;
  worker_factory<Session> factory_;
  std::vector<slot> slots_;
  std::deque<waiting> queue_;
  std::unordered_map<std::string, std::size_t> owners_; ///< Jobs held per owner.
  caf::timespan recent_run_{0};
  uint64_t tickets_ = 0;
  uint64_t completed_ = 0;
  uint64_t rejected_ = 0;
  uint64_t restarts_ = 0;
  uint64_t expired_ = 0;
  uint64_t limited_ = 0;
  bool saturated_ = false;
};

} // namespace tandem::persistence

namespace caf {

// Jobs and completions carry closures and never leave the process.
template <class Session>
struct allowed_unsafe_message_type<tandem::persistence::pool_job<Session>> : std::true_type {};

} // namespace caf

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tandem::persistence::completion)
