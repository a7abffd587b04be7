// CAF's deterministic test fixtures call caf::test::engine::argc()/argv(),
// defined in unit_test_impl.hpp; Catch2 owns main(), so keep CAF's out.
#define CAF_TEST_NO_MAIN
#include "caf/test/unit_test_impl.hpp"
