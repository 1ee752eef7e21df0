#include "tests/support/lists.h"

#include "absl/status/statusor.h"
#include "crdt/list_id.h"
#include "gtest/gtest.h"

namespace shoplist::testing {

std::string ListId() {
  absl::StatusOr<std::string> id = crdt::NewListId();
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? *id : std::string("aaaaaaaaaaaaaaaaaaaaaaaaaa");
}

int64_t WantedOf(const crdt::ListState& state, const std::string& name) {
  auto it = state.items().find(name);
  return it == state.items().end() ? -1 : it->second.Wanted();
}

}  // namespace shoplist::testing
