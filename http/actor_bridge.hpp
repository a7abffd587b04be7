// The hand-off from an io thread to the actors: a handler that needs one answer from
// an actor makes the request from a short-lived actor, so no io thread ever waits
// (docs/architecture.md, Threads: an io thread never waits for an actor).
#pragma once

#include "http/routes.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <utility>

namespace tandem::http {

/// Sends `xs...` to `dest` as one request bounded by `http.request_timeout_ms` and
/// answers with `on_reply(Reply&) -> response` or `on_error(const caf::error&) ->
/// response`. The request is made by a one-shot actor that ends with the reply, so
/// `respond` runs once, on a scheduler thread (the server posts it back to the
/// connection's strand). `Reply` is the reply type of `dest` for `xs...`.
template <class Reply, class Handle, class OnReply, class OnError, class... Ts>
void ask_actor(const services& svc, responder respond, OnReply on_reply, OnError on_error,
               const Handle& dest, Ts... xs) {
  auto timeout = std::chrono::milliseconds(svc.cfg.http.request_timeout_ms);
  svc.sys.spawn([=, respond = std::move(respond)](caf::event_based_actor* self) {
    self->request(dest, timeout, xs...)
      .then([=](Reply& reply) { respond(on_reply(reply)); },
            [=](caf::error& err) { respond(on_error(err)); });
  });
}

} // namespace tandem::http
