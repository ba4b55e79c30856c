// A GoogleTest check the runtime's unit tests share: a call throws
// resa::Error with a message that says what it should.
#pragma once

#include "resa/kernels/Tensor.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace resa::test {

// Runs fn and checks it throws resa::Error whose message contains `needle`.
inline ::testing::AssertionResult throwsWith(const std::function<void()> &fn, const std::string &needle) {
  try {
    fn();
  } catch (const resa::Error &e) {
    if (std::string(e.what()).find(needle) != std::string::npos)
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message \"" << e.what() << "\" lacks \"" << needle
                                         << "\"";
  }
  return ::testing::AssertionFailure() << "no resa::Error thrown (wanted \"" << needle << "\")";
}

} // namespace resa::test
