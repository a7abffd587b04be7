#include "config/app_config.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unistd.h>

using namespace tandem::config;

namespace {

using env_map = std::map<std::string, std::string>;

/// A config file in the temp dir, removed at scope exit.
struct temp_file {
  explicit temp_file(const std::string& text) {
    char name[] = "/tmp/tandem_cfg_XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    path = name;
    std::ofstream{path} << text;
  }
  ~temp_file() { std::remove(path.c_str()); }
  std::string path;
};

} // namespace

TEST_CASE("defaults apply when nothing is given", "[config]") {
  auto cmd = parse_command_line({}, {});
  CHECK(cmd.command == "serve");
  CHECK(cmd.config.http.port == 8080);
  CHECK(cmd.config.ws.frame_limit == 16 * 1024);
  CHECK(cmd.config.scheduler.policy == "sharing");
  CHECK(cmd.config.http.cors_origins == std::vector<std::string>{"*"});
}

TEST_CASE("file, environment and command line override in that order", "[config]") {
  temp_file file{"# comment\n[http]\nport = 9001\nio_threads = 3\n[db]\npool_size = 7\n"
                 "dsn = \"host=db port=1\"\n"};
  env_map env = {{"TANDEM_HTTP_PORT", "9002"}, {"TANDEM_DB_POOL_SIZE", "5"}};
  auto cmd = parse_command_line({"migrate", "--config", file.path, "--http.port=9003"}, env);
  CHECK(cmd.command == "migrate");
  CHECK(cmd.config.http.port == 9003);        // command line beats environment
  CHECK(cmd.config.db.pool_size == 5);        // environment beats file
  CHECK(cmd.config.http.io_threads == 3);     // file beats default
  CHECK(cmd.config.db.dsn == "host=db port=1");
  CHECK(cmd.config.redis.port == 6379);       // default
}

TEST_CASE("the config file may also be named by TANDEM_CONFIG", "[config]") {
  temp_file file{"[log]\nlevel = debug\n"};
  auto cmd = parse_command_line({}, {{"TANDEM_CONFIG", file.path}});
  CHECK(cmd.config.log.level == "debug");
}

TEST_CASE("a value may follow its key as the next argument", "[config]") {
  auto cmd = parse_command_line({"--redis.port", "7000", "--http.cors_origins",
                                 "chrome-extension://abc, https://x.example"},
                                {});
  CHECK(cmd.config.redis.port == 7000);
  CHECK(cmd.config.http.cors_origins
        == std::vector<std::string>{"chrome-extension://abc", "https://x.example"});
}

TEST_CASE("unknown keys are errors wherever they come from", "[config]") {
  temp_file file{"[http]\nprot = 1\n"};
  CHECK_THROWS_WITH(parse_command_line({"--config", file.path}, {}),
                    Catch::Contains("unknown configuration key 'http.prot'")
                      && Catch::Contains(":2"));
  CHECK_THROWS_WITH(parse_command_line({"--http.prot=1"}, {}),
                    Catch::Contains("unknown configuration key 'http.prot'"));
  CHECK_THROWS_WITH(parse_command_line({}, {{"TANDEM_HTTP_PROT", "1"}}),
                    Catch::Contains("TANDEM_HTTP_PROT"));
  CHECK_THROWS_WITH(parse_command_line({"bogus"}, {}), Catch::Contains("unexpected argument"));
}

TEST_CASE("variables outside the config sections are left alone", "[config]") {
  CHECK_NOTHROW(parse_command_line({}, {{"TANDEM_TEST_PG_DSN", "x"}, {"TANDEM_STATE_DIR", "y"}}));
}

TEST_CASE("bad values are errors that name the key", "[config]") {
  CHECK_THROWS_WITH(parse_command_line({"--http.port=70000"}, {}),
                    Catch::Contains("http.port") && Catch::Contains("outside 0..65535"));
  CHECK_THROWS_WITH(parse_command_line({"--http.port=80x"}, {}),
                    Catch::Contains("not an integer"));
  CHECK_THROWS_WITH(parse_command_line({}, {{"TANDEM_DB_POOL_SIZE", "0"}}),
                    Catch::Contains("TANDEM_DB_POOL_SIZE") && Catch::Contains("db.pool_size"));
  CHECK_THROWS_WITH(parse_command_line({"--scheduler.policy=fast"}, {}),
                    Catch::Contains("sharing, stealing"));
  CHECK_THROWS_WITH(parse_command_line({"--log.requests=maybe"}, {}),
                    Catch::Contains("not a boolean"));
  CHECK_THROWS_WITH(parse_command_line({"--db.dsn="}, {}), Catch::Contains("must not be empty"));
  CHECK_THROWS_WITH(parse_command_line({"--http.port"}, {}), Catch::Contains("needs a value"));
}

TEST_CASE("a missing or malformed config file is an error", "[config]") {
  CHECK_THROWS_WITH(parse_command_line({"--config", "/nonexistent/tandem.ini"}, {}),
                    Catch::Contains("cannot read config file"));
  temp_file file{"[http\n"};
  CHECK_THROWS_WITH(parse_command_line({"--config", file.path}, {}),
                    Catch::Contains("malformed section header"));
  temp_file no_equals{"[http]\nport\n"};
  CHECK_THROWS_WITH(parse_command_line({"--config", no_equals.path}, {}),
                    Catch::Contains("expected 'key = value'"));
}

TEST_CASE("the key description lists every key with its environment name", "[config]") {
  auto text = describe_keys(app_config{});
  CHECK_THAT(text, Catch::Contains("--http.port (TANDEM_HTTP_PORT) = 8080"));
  CHECK_THAT(text, Catch::Contains("--db.statement_timeout_ms (TANDEM_DB_STATEMENT_TIMEOUT_MS)"));
}

TEST_CASE("the key description never shows secrets", "[config]") {
  app_config cfg;
  cfg.auth.jwt_key = "super-secret-value";
  auto text = describe_keys(cfg);
  CHECK_THAT(text, !Catch::Contains("super-secret-value"));
  CHECK_THAT(text, Catch::Contains("--auth.jwt_key (TANDEM_AUTH_JWT_KEY) = (set, not shown)"));
}

TEST_CASE("the example config in deploy/ lists every key with its default", "[config]") {
  auto path = std::string{TANDEM_SOURCE_DIR} + "/deploy/tandem.example.ini";
  auto from_example = parse_command_line({"--config", path}, {});
  // Same values as the built-in defaults, and every key present in the file.
  CHECK(describe_keys(from_example.config) == describe_keys(app_config{}));
  std::ifstream in{path};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  std::istringstream keys{describe_keys(app_config{})};
  for (std::string line; std::getline(keys, line);) {
    if (line.rfind("  --", 0) != 0)
      continue;
    auto name = line.substr(4, line.find(' ', 4) - 4);
    auto key = name.substr(name.find('.') + 1);
    INFO("key " << name);
    CHECK_THAT(text, Catch::Contains("\n" + key + " ="));
  }
}

TEST_CASE("smtp keys: url scheme, a bare sender with the url, the password hidden", "[config]") {
  CHECK(parse_command_line({}, {}).config.smtp.url.empty());
  CHECK_THROWS_AS(parse_command_line({"--smtp.url=http://mail:25"}, {}), config_error);
  CHECK_THROWS_AS(parse_command_line({"--smtp.url=smtp://mail:587"}, {}), config_error);
  CHECK_THROWS_AS(parse_command_line({"--smtp.url=smtp://mail:587", "--smtp.from=Tandem <a@b.c>"},
                                     {}),
                  config_error);
  CHECK_THROWS_AS(parse_command_line({"--smtp.from=a@b.c\r\nRCPT TO:<x@y.z>"}, {}), config_error);
  auto ok = parse_command_line({"--smtp.url=smtps://mail:465", "--smtp.from=a@b.c"},
                               {{"TANDEM_SMTP_PASSWORD", "hunter2"}});
  CHECK(ok.config.smtp.password == "hunter2");
  CHECK_THROWS_AS(parse_command_line({"--smtp.starttls=maybe"}, {}), config_error);
  CHECK(parse_command_line({"--smtp.max_attempts=1"}, {}).config.smtp.max_attempts == 1);
  CHECK_THROWS_AS(parse_command_line({"--smtp.max_attempts=0"}, {}), config_error);
  CHECK(parse_command_line({"--smtp.batch=10000"}, {}).config.smtp.batch == 10000);
  CHECK_THROWS_AS(parse_command_line({"--smtp.batch=10001"}, {}), config_error);
  auto text = describe_keys(ok.config);
  CHECK_THAT(text, !Catch::Contains("hunter2"));
  CHECK_THAT(text, Catch::Contains("--smtp.password (TANDEM_SMTP_PASSWORD) = (set, not shown)"));
}
