// GoogleTest assertions for lakestream's Status and Result<T> (common/status.h), shared by every
// test binary: ASSERT_OK(expr) / EXPECT_OK(expr) print the expression and the error on failure.
#pragma once

#include <gtest/gtest.h>

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    auto _st = (expr);                                        \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (0)

#define EXPECT_OK(expr)                                       \
  do {                                                        \
    auto _st = (expr);                                        \
    EXPECT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (0)
