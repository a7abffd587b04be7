#include "persistence/redis_session.hpp"

#include "config/log.hpp"

#include <hiredis/hiredis.h>

#include <csignal>
#include <pthread.h>
#include <sys/time.h>

namespace tandem::persistence {

namespace {

struct reply_deleter {
  void operator()(redisReply* reply) const {
    freeReplyObject(reply);
  }
};

timeval to_timeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

void append_items(const redisReply& r, std::vector<std::string>& out) {
  switch (r.type) {
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < r.elements; ++i)
        append_items(*r.element[i], out);
      break;
    case REDIS_REPLY_INTEGER:
      out.push_back(std::to_string(r.integer));
      break;
    case REDIS_REPLY_NIL:
      out.emplace_back();
      break;
    default: // string, status, error
      out.emplace_back(r.str, r.len);
  }
}

redis_reply flatten(const redisReply& r) {
  redis_reply out;
  switch (r.type) {
    case REDIS_REPLY_STATUS:
      out.kind = redis_reply::status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STRING:
      out.kind = redis_reply::string;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.kind = redis_reply::error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = redis_reply::integer;
      out.integer_value = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = redis_reply::array;
      append_items(r, out.items);
      break;
    default:
      out.kind = redis_reply::nil;
  }
  return out;
}

} // namespace

void block_sigpipe_in_this_thread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void redis_session::context_deleter::operator()(redisContext* ctx) const {
  redisFree(ctx);
}

redis_session::redis_session(config::redis_config cfg) : cfg_(std::move(cfg)) {
  // nop
}

caf::error redis_session::ensure_connected() {
  if (ctx_)
    return {};
  auto now = reconnect_backoff::clock::now();
  if (!backoff_.may_attempt(now))
    return caf::make_error(errc::redis_unavailable, "waiting to reconnect");
  block_sigpipe_in_this_thread();
  auto timeout = to_timeval(cfg_.timeout_ms);
  std::unique_ptr<redisContext, context_deleter> ctx{
    redisConnectWithTimeout(cfg_.host.c_str(), cfg_.port, timeout)};
  if (ctx && ctx->err == 0 && redisSetTimeout(ctx.get(), timeout) == REDIS_OK) {
    ctx_ = std::move(ctx);
    backoff_.succeeded();
    log::info("redis connected", {{"host", cfg_.host}, {"port", cfg_.port}});
    return {};
  }
  auto wait = backoff_.failed(now);
  log::warn("redis connection failed",
            {{"host", cfg_.host},
             {"port", cfg_.port},
             {"error", ctx ? ctx->errstr : "cannot allocate a context"},
             {"retry_in_ms", std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()}});
  return caf::make_error(errc::redis_unavailable, "cannot connect");
}

caf::expected<redis_reply> redis_session::command(const std::vector<std::string>& args) {
  if (args.empty())
    return caf::make_error(errc::invalid_request, "empty redis command");
  if (!ctx_)
    return caf::make_error(errc::redis_unavailable, "not connected");
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  std::unique_ptr<redisReply, reply_deleter> reply{static_cast<redisReply*>(
    redisCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(), lengths.data()))};
  if (!reply) {
    // After an I/O error or a timeout the context is unusable (hiredis keeps err
    // set): drop it, and the next job reconnects.
    log::warn("redis command failed", {{"command", args.front()}, {"error", ctx_->errstr}});
    ctx_.reset();
    return caf::make_error(errc::redis_unavailable, "connection lost");
  }
  if (reply->type == REDIS_REPLY_ERROR)
    return caf::make_error(errc::redis_error, std::string{reply->str, reply->len});
  return flatten(*reply);
}

caf::expected<std::vector<redis_reply>>
redis_session::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (!ctx_)
    return caf::make_error(errc::redis_unavailable, "not connected");
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& args : commands) {
    if (args.empty())
      return caf::make_error(errc::invalid_request, "empty redis command");
    argv.clear();
    lengths.clear();
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    // Appending only fills hiredis's output buffer; the first read below writes it.
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(),
                               lengths.data())
        != REDIS_OK) {
      log::warn("redis pipeline failed", {{"command", args.front()}, {"error", ctx_->errstr}});
      ctx_.reset();
      return caf::make_error(errc::redis_unavailable, "connection lost");
    }
  }
  std::vector<redis_reply> out;
  out.reserve(commands.size());
  for (const auto& args : commands) {
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
      log::warn("redis pipeline failed", {{"command", args.front()}, {"error", ctx_->errstr}});
      ctx_.reset();
      return caf::make_error(errc::redis_unavailable, "connection lost");
    }
    std::unique_ptr<redisReply, reply_deleter> reply{static_cast<redisReply*>(raw)};
    out.push_back(flatten(*reply));
  }
  return out;
}

completion redis_session::execute(const pool_job<redis_session>& job) {
  if (auto err = ensure_connected())
    return job.fail(std::move(err));
  try {
    return job.run(*this);
  } catch (const std::exception& e) {
    log::error("redis job failed", {{"operation", job.name}, {"detail", e.what()}});
    return job.fail(caf::make_error(errc::internal, job.name));
  }
}

worker_factory<redis_session> redis_worker_factory(config::redis_config cfg) {
  return [cfg = std::move(cfg)](caf::actor_system& sys) {
    return sys.spawn<caf::detached>(pool_worker_impl<redis_session, config::redis_config>, cfg);
  };
}

} // namespace tandem::persistence
