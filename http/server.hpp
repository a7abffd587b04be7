// The HTTP front: a Beast listener, keep-alive sessions and WebSocket sessions on
// their own io_context threads. Routes hand work to actors and answer through a
// responder; no io thread ever waits for an actor.
#pragma once

#include "config/app_config.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "http/ws_gateway.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace tandem::http {

class server {
public:
  /// Without a `gateway`, upgrade requests are routed like any other request.
  server(const config::http_config& cfg, const config::log_config& log, router routes,
         metrics& stats, std::shared_ptr<const ws_gateway> gateway = nullptr);
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds, starts accepting on `cfg.io_threads` threads and returns the bound
  /// port. Throws std::runtime_error when the address cannot be bound.
  uint16_t start();

  /// Stops accepting, lets in-flight requests finish for up to
  /// `cfg.shutdown_timeout_ms`, closes every connection and joins the threads.
  /// Returns the number of connections that had to be cut at the deadline.
  std::size_t shutdown();

  struct impl;  // Beast state, defined in server.cpp

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tandem::http
