#include "globals.hpp"

#include <doctest/doctest.h>

using namespace evi;

namespace {
config::GlobalParam param(std::string name, std::vector<config::Literal> values) {
    return {{"t.cfg", 1, 1}, std::move(name), std::move(values)};
}
} // namespace

TEST_CASE("mpath takes one or more directories") {
    Globals g;
    REQUIRE(apply_global(g, param("mpath", {std::string("/a"), std::string("/b")})));
    CHECK(g.mpath == std::vector<std::string>{"/a", "/b"});
}

TEST_CASE("log_level takes a number or a name") {
    Globals g;
    REQUIRE(apply_global(g, param("log_level", {int64_t{4}})));
    CHECK(g.log_level == 4);
    REQUIRE(apply_global(g, param("log_level", {std::string("warn")})));
    CHECK(g.log_level == 1);
    auto r = apply_global(g, param("log_level", {int64_t{9}}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("expected a log level") != std::string::npos);
}

TEST_CASE("an integer global outside its range says the range") {
    Globals g;
    auto r = apply_global(g, param("workers", {int64_t{-1}}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "global parameter 'workers': expected an integer from 0 to 256, got -1");
}

TEST_CASE("an unknown global is refused with the known names") {
    Globals g;
    auto r = apply_global(g, param("colour", {int64_t{1}}));
    REQUIRE_FALSE(r);
    CHECK(r.error().message.rfind("unknown global parameter 'colour' (known: ", 0) == 0);
}
