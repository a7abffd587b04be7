// The worker pool under CAF's deterministic scheduler. Real workers are detached and
// would bypass the test scheduler, so these tests inject event-based fake workers.
#include "persistence/worker_pool.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/sim_fixture.hpp" // last: defines expect, _ and friends

using namespace tandem;
using namespace tandem::persistence;
using namespace std::chrono_literals;

namespace {

// -- fake workers -------------------------------------------------------------

/// What a fake worker "owns": its number, so that replies show who ran a job.
struct fake_session {
  int id;
};

/// The workers' shared log, owned by the test (the scheduler runs one thread).
struct fake_backend {
  std::vector<std::string> started; ///< Job names in the order workers got them.
};

struct fake_worker_state {
  /// Jobs named "hold..." with their promises, kept until `atom::command`.
  std::vector<std::pair<pool_job<fake_session>, caf::typed_response_promise<completion>>> held;
  static inline const char* name = "fake_worker";
};

/// A pool worker that tests can also tell to finish the jobs it holds.
using fake_worker_actor = pool_worker<fake_session>::extend<caf::reacts_to<atom::command>>;

/// Acts on the job's name: "hold..." waits for `atom::command`, "die" terminates
/// without replying, "throw" throws, "fail..." fails with errc::db_timeout, and
/// anything else runs at once.
fake_worker_actor::behavior_type
fake_worker(fake_worker_actor::stateful_pointer<fake_worker_state> self, fake_backend* backend,
            int id) {
  return {
    [=](atom::run, pool_job<fake_session>& job) -> caf::result<completion> {
      backend->started.push_back(job.name);
      fake_session session{id};
      if (job.name.rfind("hold", 0) == 0) {
        auto rp = self->make_response_promise<completion>();
        self->state.held.emplace_back(std::move(job), rp);
        return rp;
      }
      if (job.name == "die") {
        auto never_delivered = self->make_response_promise<completion>();
        self->quit(caf::exit_reason::user_shutdown);
        return never_delivered;
      }
      if (job.name == "throw")
        throw std::runtime_error("fake worker bug");
      if (job.name.rfind("fail", 0) == 0)
        return job.fail(caf::make_error(errc::db_timeout));
      return job.run(session);
    },
    [=](atom::command) {
      fake_session session{id};
      for (auto& [job, rp] : self->state.held)
        rp.deliver(job.run(session));
      self->state.held.clear();
    },
  };
}

// -- a facade over fake workers ---------------------------------------------------

/// Answers `(run, name)` with "name@worker", or errc::not_found for "missing". A name
/// "job/owner" submits the job for that owner.
using test_facade = caf::typed_actor<caf::replies_to<atom::run, std::string>::with<std::string>,
                                     caf::replies_to<atom::stats>::with<pool_stats>>;

struct facade_state {
  std::optional<worker_pool<fake_session, test_facade::base>> pool;
  static inline const char* name = "test_facade";
};

test_facade::behavior_type facade_impl(test_facade::stateful_pointer<facade_state> self,
                                       pool_settings settings,
                                       worker_factory<fake_session> factory) {
  self->state.pool.emplace(self, std::move(settings), std::move(factory));
  return {
    [=](atom::run, const std::string& name) {
      auto slash = name.find('/');
      auto owner = slash == std::string::npos ? std::string{} : name.substr(slash + 1);
      return self->state.pool->submit(
        name,
        [name](fake_session& s) -> caf::expected<std::string> {
          if (name == "missing")
            return caf::make_error(errc::not_found);
          return name + "@" + std::to_string(s.id);
        },
        owner);
    },
    [=](atom::stats) { return self->state.pool->stats(); },
  };
}

// -- fixture ----------------------------------------------------------------------

/// What one caller received.
struct outcome {
  std::optional<std::string> value;
  std::optional<caf::error> error;

  bool done() const {
    return value || error;
  }

  errc code() const {
    return error ? code_of(*error) : errc::none;
  }
};

struct pool_fixture : tandem_test::sim_fixture {
  fake_backend backend;
  std::vector<fake_worker_actor> workers; ///< Every worker spawned, replacements included.
  test_facade facade;
  std::deque<outcome> outcomes;  ///< One per caller; a deque keeps references valid.
  std::vector<std::string> arrivals; ///< Job names in the order their replies arrived.

  ~pool_fixture() {
    caf::anon_send_exit(facade, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Where the pool publishes its stats and waits.
  std::shared_ptr<pool_gauges> gauges = std::make_shared<pool_gauges>();

  void start_pool(std::size_t size, std::size_t queue_limit, caf::timespan deadline = {},
                  std::size_t per_owner_limit = 0, errc per_owner_refusal = errc::rate_limited) {
    worker_factory<fake_session> factory = [this](caf::actor_system& s) {
      auto worker = s.spawn(fake_worker, &backend, static_cast<int>(workers.size()) + 1);
      workers.push_back(worker);
      return pool_worker<fake_session>{worker};
    };
    pool_settings settings{"test", size, queue_limit, deadline, per_owner_limit};
    settings.per_owner_refusal = per_owner_refusal;
    settings.gauges = gauges;
    facade = sys.spawn(facade_impl, std::move(settings), factory);
    sched.run();
  }

  /// Spawns a caller that requests job `name` and records what it gets; nothing
  /// runs until the scheduler does.
  caf::actor spawn_caller(const std::string& name, caf::duration timeout = caf::infinite) {
    auto* out = &outcomes.emplace_back();
    auto* order = &arrivals;
    auto target = facade;
    return sys.spawn([=](caf::event_based_actor* self) {
      self->request(target, timeout, atom::run_v, name)
        .then(
          [=](std::string& value) {
            out->value = std::move(value);
            order->push_back(name);
          },
          [=](caf::error& err) {
            out->error = std::move(err);
            order->push_back(name);
          });
    });
  }

  /// A caller's request, run until nothing is left to do.
  outcome& call(const std::string& name, caf::duration timeout = caf::infinite) {
    spawn_caller(name, timeout);
    sched.run();
    return outcomes.back();
  }

  /// Lets worker `index` (0-based, in spawn order) finish the jobs it holds.
  void release(std::size_t index) {
    caf::anon_send(workers.at(index), atom::command_v);
    sched.run();
  }

  pool_stats stats() {
    pool_stats result;
    bool answered = false;
    sys.spawn([=, &result, &answered](caf::event_based_actor* self) {
      self->request(facade, caf::infinite, atom::stats_v).then([&](pool_stats& st) {
        result = st;
        answered = true;
      });
    });
    sched.run();
    REQUIRE(answered);
    return result;
  }
};

} // namespace

TEST_CASE_METHOD(pool_fixture, "a pool with one busy worker runs the waiting jobs in arrival order",
                 "[pool]") {
  start_pool(1, 10);
  auto& first = call("hold-first");
  auto& b = call("b");
  auto& c = call("c");
  auto& d = call("d");
  CHECK(backend.started == std::vector<std::string>{"hold-first"});
  CHECK(stats().busy == 1);
  CHECK(stats().queued == 3);
  CHECK_FALSE(b.done());

  release(0);

  CHECK(backend.started == std::vector<std::string>{"hold-first", "b", "c", "d"});
  CHECK(arrivals == std::vector<std::string>{"hold-first", "b", "c", "d"});
  CHECK(first.value == "hold-first@1");
  CHECK(b.value == "b@1");
  CHECK(c.value == "c@1");
  CHECK(d.value == "d@1");
  CHECK(stats().queued == 0);
  CHECK(stats().busy == 0);
}

TEST_CASE_METHOD(pool_fixture,
                 "each job's wait for a worker is observed when it starts, and the stats are "
                 "published",
                 "[pool]") {
  start_pool(1, 10);
  call("hold-first");
  call("b");
  call("c");
  CHECK(gauges->stats.load().queued == 2);
  CHECK(gauges->waits.load().count == 1);  // the first job found the worker idle
  sched.clock().advance_time(3ms);
  release(0);
  // b and c waited 3 ms each for the worker (0.0025 < 3 ms <= 0.005 s); the first none.
  auto waits = gauges->waits.load();
  CHECK(waits.count == 3);
  CHECK(waits.sum == 6000);
  CHECK(waits.cumulative.front() == 1);  // at most 100 µs: the first job only
  CHECK(waits.cumulative.at(5) == 3);    // bound 5000 µs
  CHECK(waits.cumulative.at(4) == 1);    // bound 2500 µs
  auto published = gauges->stats.load();
  CHECK(published.queued == 0);
  CHECK(published.completed == 3);
}

TEST_CASE_METHOD(pool_fixture,
                 "idle workers get jobs at once and a freed worker takes the next one", "[pool]") {
  start_pool(2, 10);
  call("hold-a");
  call("hold-b");
  CHECK(backend.started == std::vector<std::string>{"hold-a", "hold-b"});
  CHECK(stats().busy == 2);
  auto& c = call("c");
  CHECK(stats().queued == 1);
  CHECK_FALSE(c.done());

  release(1);

  CHECK(c.value == "c@2");
  CHECK(arrivals == std::vector<std::string>{"hold-b", "c"});
}

TEST_CASE_METHOD(pool_fixture,
                 "at the queue limit the next caller gets overloaded at once and no queued job "
                 "is lost",
                 "[pool]") {
  start_pool(1, 2);
  auto& a = call("hold-a");
  auto& b = call("b");
  auto& c = call("c");
  CHECK(stats().queued == 2);

  // The refusal is the facade's immediate reply: no worker sees the job.
  auto caller = spawn_caller("d");
  sched.run_once(); // the caller starts and sends its request
  expect((atom::run, std::string), from(caller).to(facade).with(_, std::string{"d"}));
  expect((caf::error), from(facade).to(caller));
  auto& d = outcomes.back();
  CHECK(d.code() == errc::overloaded);
  CHECK_FALSE(a.done());
  CHECK_FALSE(b.done());
  CHECK_FALSE(c.done());
  CHECK(stats().rejected == 1);

  release(0);

  CHECK(a.value == "hold-a@1");
  CHECK(b.value == "b@1");
  CHECK(c.value == "c@1");
  CHECK(backend.started == std::vector<std::string>{"hold-a", "b", "c"});
  CHECK(arrivals == std::vector<std::string>{"d", "hold-a", "b", "c"});
}

TEST_CASE_METHOD(pool_fixture, "a job's error reaches its caller with its error code", "[pool]") {
  start_pool(1, 4);
  CHECK(call("fail").code() == errc::db_timeout);
  CHECK(call("missing").code() == errc::not_found);
  CHECK(call("ok").value == "ok@1");
  CHECK(stats().restarts == 0);
}

TEST_CASE_METHOD(pool_fixture,
                 "a worker that dies silently fails its job with internal and is replaced",
                 "[pool]") {
  start_pool(1, 4);
  spawn_caller("die");
  spawn_caller("queued"); // waits in the pool's queue behind "die"
  sched.run();
  auto& dying = outcomes.at(0);
  auto& queued = outcomes.at(1);

  CHECK(dying.code() == errc::internal);
  CHECK(queued.value == "queued@2");
  CHECK(workers.size() == 2);
  auto st = stats();
  CHECK(st.restarts == 1);
  CHECK(st.workers == 1);
  CHECK(st.busy == 0);
}

TEST_CASE_METHOD(pool_fixture, "a worker that throws fails its job with internal and is replaced",
                 "[pool]") {
  start_pool(1, 4);
  CHECK(call("throw").code() == errc::internal);
  CHECK(call("after").value == "after@2");
  CHECK(stats().restarts == 1);
}

TEST_CASE_METHOD(pool_fixture,
                 "a caller's request times out in virtual time while the worker never answers",
                 "[pool]") {
  start_pool(1, 4);
  auto& hung = call("hold-forever", caf::duration{2s});
  CHECK(backend.started == std::vector<std::string>{"hold-forever"});

  sched.clock().advance_time(1s);
  sched.run();
  CHECK_FALSE(hung.done());

  sched.clock().advance_time(1s);
  sched.run();
  REQUIRE(hung.error);
  CHECK(*hung.error == caf::sec::request_timeout);
  // The worker still holds the job: its slot stays busy until it answers.
  CHECK(stats().busy == 1);
}

TEST_CASE_METHOD(pool_fixture,
                 "when the facade terminates its running and waiting callers are answered",
                 "[pool]") {
  start_pool(1, 4);
  auto& running = call("hold-a");
  auto& waiting = call("b");
  caf::anon_send_exit(facade, caf::exit_reason::user_shutdown);
  sched.run();
  REQUIRE(running.error);
  CHECK(*running.error == caf::sec::request_receiver_down);
  REQUIRE(waiting.error);
  CHECK(*waiting.error == caf::sec::request_receiver_down);
}

TEST_CASE_METHOD(pool_fixture,
                 "a job that waited past the deadline is answered db_timeout and never run",
                 "[pool]") {
  start_pool(1, 10, 5s);
  auto& running = call("hold-a");
  auto& early = call("early");
  sched.clock().advance_time(1s);
  auto& late = call("late");
  // "early" has waited its whole deadline when the worker frees, "late" 4 s of it.
  sched.clock().advance_time(4s);

  release(0);

  CHECK(running.value == "hold-a@1");
  CHECK(early.code() == errc::db_timeout);
  CHECK(late.value == "late@1");
  CHECK(backend.started == std::vector<std::string>{"hold-a", "late"});
  auto st = stats();
  CHECK(st.expired == 1);
  CHECK(st.queued == 0);
  CHECK(st.busy == 0);
}

TEST_CASE_METHOD(pool_fixture,
                 "a job whose expected wait exceeds the deadline is refused at once with a "
                 "retry time",
                 "[pool]") {
  start_pool(1, 100, 5s);
  // One job of 8 s teaches the pool a recent run time of 1 s (a moving average, 1/8).
  call("hold-slow");
  sched.clock().advance_time(8s);
  release(0);
  call("hold-running");
  // Five waiting jobs take 5 s on the one worker: each of them fits the deadline.
  for (int i = 0; i < 5; ++i)
    spawn_caller("queued");
  sched.run();
  CHECK(stats().queued == 5);

  auto& refused = call("sixth");

  CHECK(refused.code() == errc::overloaded);
  REQUIRE(refused.error->context().match_element<int64_t>(1));
  CHECK(refused.error->context().get_as<int64_t>(1) == 6); // Retry-After: 5 s queued, + 1
  auto st = stats();
  CHECK(st.rejected == 1);
  CHECK(st.queued == 5);
  CHECK(std::count(backend.started.begin(), backend.started.end(), "sixth") == 0);
}

TEST_CASE_METHOD(pool_fixture,
                 "an owner past its bound of jobs is refused rate_limited and others are not",
                 "[pool]") {
  start_pool(1, 10, {}, 2);
  auto& a = call("hold-a/ann");
  auto& b = call("b/ann");
  auto& c = call("c/ann");
  auto& d = call("d/bob");
  CHECK(c.code() == errc::rate_limited);
  CHECK_FALSE(a.done());
  CHECK_FALSE(b.done());
  CHECK_FALSE(d.done());

  release(0);

  CHECK(a.value == "hold-a/ann@1");
  CHECK(b.value == "b/ann@1");
  CHECK(d.value == "d/bob@1");
  // Answered jobs free their owner's slots, failed ones included.
  CHECK(call("fail/ann").code() == errc::db_timeout);
  CHECK(call("e/ann").value == "e/ann@1");
  CHECK(call("hold-f/ann").done() == false);
  CHECK(call("g/ann").done() == false);
  CHECK(call("h/ann").code() == errc::rate_limited);
  CHECK(stats().limited == 2);
}

TEST_CASE_METHOD(pool_fixture,
                 "an owner that is a share of the pool leaves the other workers and queue "
                 "slots to jobs without an owner, refusing its excess as overloaded",
                 "[pool]") {
  // Two workers, two queue slots; registrations (one owner) may hold one job.
  start_pool(2, 2, {}, 1, errc::overloaded);
  auto& first = call("hold-a/registration");
  auto& second = call("b/registration");
  CHECK_FALSE(first.done());
  CHECK(second.code() == errc::overloaded);
  // Jobs without an owner still find the second worker and the whole queue.
  auto& login = call("hold-login");
  auto& queued = call("queued-login");
  auto& queued_too = call("queued-login-2");
  CHECK_FALSE(login.done());
  CHECK_FALSE(queued.done());
  CHECK_FALSE(queued_too.done());
  CHECK(stats().limited == 1);
  CHECK(stats().rejected == 0);
}
