// Allocation failures name what could not be allocated and how big.

#include "alloc.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <new>
#include <string>

#include "timelog/engine.h"

namespace timelog {
namespace {

// More elements than size_t bytes can hold: new[] throws before allocating
// (std::bad_array_new_length), under every sanitizer and allocator.
constexpr size_t kTooMany = std::numeric_limits<size_t>::max() / 4;

TEST(AllocTest, FailureNamesStructureRowsAndBytes) {
  try {
    auto a = NewArray<int64_t>(kTooMany, "the test column");
    // Streaming the pointer uses it: clang -O3 elides an unused new[] (and
    // with it the length check that throws).
    FAIL() << "an impossible allocation succeeded: " << a.get();
  } catch (const AllocationError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("could not allocate the test column"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find(std::to_string(kTooMany) + " rows x 8 bytes"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("EiB"), std::string::npos) << what;
  }
}

TEST(AllocTest, IsABadAllocAndCopiesKeepTheMessage) {
  try {
    ThrowAllocationError("the memtable", 1024, 16);
  } catch (const std::bad_alloc& e) {
    const AllocationError* ae = dynamic_cast<const AllocationError*>(&e);
    ASSERT_NE(ae, nullptr);
    AllocationError copy = *ae;
    EXPECT_STREQ(copy.what(), e.what());
    EXPECT_STREQ(
        e.what(),
        "could not allocate the memtable: 1024 rows x 16 bytes = 16.0 KiB");
  }
}

TEST(AllocTest, SmallArraysAllocate) {
  auto a = NewArray<uint64_t>(3, "three");
  a[2] = 7;
  EXPECT_EQ(a[2], 7u);
}

}  // namespace
}  // namespace timelog
