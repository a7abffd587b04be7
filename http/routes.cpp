#include "http/routes.hpp"

#include "http/actor_bridge.hpp"
#include "http/openapi.hpp"
#include "http/web_client.hpp"
#include "persistence/migrations.hpp"

#include <chrono>
#include <memory>

namespace tandem::http {

namespace {

/// Collects the readiness checks (PostgreSQL, migrations, Redis, and on a cluster the
/// lease); answers once all have reported.
struct readiness {
  json checks = json::object();
  bool ready = true;
  int pending = 3;
};

void readyz(const services& svc, responder respond) {
  if (svc.shutting_down && svc.shutting_down->load(std::memory_order_relaxed)) {
    respond(json_response(503, {{"checks", {{"node", "shutting down"}}}, {"detail", "Not ready"}}));
    return;
  }
  auto timeout = std::chrono::milliseconds(svc.cfg.http.request_timeout_ms);
  auto db = svc.db;
  auto redis = svc.redis;
  auto cluster = svc.cluster;
  // A one-shot actor makes the requests, so no io thread ever waits for them.
  svc.sys.spawn([=](caf::event_based_actor* self) {
    auto state = std::make_shared<readiness>();
    if (cluster)
      ++state->pending;
    auto report = [state, respond](const char* check, bool ok, std::string what) {
      state->checks[check] = std::move(what);
      state->ready = state->ready && ok;
      if (--state->pending > 0)
        return;
      json body = {{"checks", state->checks}};
      if (!state->ready)
        body["detail"] = "Not ready";
      respond(json_response(state->ready ? 200 : 503, body));
    };
    auto failed = [report](const char* check) {
      return [report, check](caf::error& err) { report(check, false, describe(err)); };
    };
    self->request(db, timeout, atom::ping_v)
      .then([report](bool) { report("postgres", true, "ok"); }, failed("postgres"));
    self->request(db, timeout, atom::migrations_v)
      .then(
        [report](int applied) {
          auto latest = persistence::latest_migration_version();
          if (applied >= latest)
            report("migrations", true, "ok");
          else
            report("migrations", false,
                   "pending: " + std::to_string(applied) + " of " + std::to_string(latest)
                     + " applied");
        },
        failed("migrations"));
    self->request(redis, timeout, atom::ping_v)
      .then([report](bool) { report("redis", true, "ok"); }, failed("redis"));
    if (cluster) {
      // By the lease's deadline, not only the last view: a node that resumes after a
      // pause past it is out before its fence timer has run.
      auto serving = cluster->serving(self->clock().now());
      report("cluster", serving, serving ? "ok" : "fenced: lease not renewed");
    }
  });
}

} // namespace

router make_routes(const services& svc) {
  router r;
  r.add("GET", "/ping", [](request&, responder respond) {
    respond(json_response(200, "pong"));
  });
  r.add("GET", "/healthz", [](request&, responder respond) {
    respond(json_response(200, {{"status", "ok"}}));
  });
  r.add("GET", "/readyz", [svc](request&, responder respond) { readyz(svc, std::move(respond)); });
  r.add("GET", "/metrics", [stats = &svc.stats](request&, responder respond) {
    response res;
    res.content_type = "text/plain; version=0.0.4";
    res.body = stats->render();
    respond(std::move(res));
  });
  r.add("GET", "/openapi.json", [](request&, responder respond) {
    response res;
    res.body = std::string{openapi_document()};
    // The document changes only with the binary: caches may keep it for a while.
    res.headers.emplace_back("Cache-Control", "public, max-age=3600");
    respond(std::move(res));
  });
  add_auth_routes(r, svc);
  add_user_routes(r, svc);
  add_media_routes(r, svc);
  add_social_routes(r, svc);
  add_presence_routes(r, svc);
  add_chat_routes(r, svc);
  add_web_client_routes(r);
  return r;
}

} // namespace tandem::http
