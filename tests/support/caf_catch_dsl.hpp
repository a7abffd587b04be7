// Bridges CAF's deterministic test DSL onto Catch2: CAF's check macros become Catch2's,
// and Catch2's FAIL is the one CAF 0.17.6's dsl.hpp calls without defining it.
// Include it last: dsl.hpp defines the lowercase macros expect/allow/inject and `_`.
#pragma once

#include <catch2/catch.hpp>

#include "caf/test/unit_test.hpp"

#undef CAF_CHECK
#undef CAF_CHECK_EQUAL
#undef CAF_REQUIRE
#undef CAF_REQUIRE_EQUAL
#undef CAF_FAIL
#undef CAF_MESSAGE
#define CAF_CHECK(...) CHECK((__VA_ARGS__))
#define CAF_CHECK_EQUAL(x, y) CHECK((x) == (y))
#define CAF_REQUIRE(...) REQUIRE((__VA_ARGS__))
#define CAF_REQUIRE_EQUAL(x, y) REQUIRE((x) == (y))
#define CAF_FAIL(msg) FAIL(msg)
#define CAF_MESSAGE(msg) UNSCOPED_INFO(msg)

#include "caf/test/dsl.hpp"
