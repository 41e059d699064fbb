// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Privileged: the gate for tests that build network namespaces. Without root they are skipped
// with a clear message, unless SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1 makes them run (and fail).

import LabKit
import Testing

extension Trait where Self == ConditionTrait {
    /// Runs the test as root, or when SWBRIDGE_REQUIRE_PRIVILEGED_TESTS=1; skips it otherwise.
    static var privileged: Self {
        .enabled(if: Lab.shouldRunPrivilegedTests, Comment(rawValue: Lab.skipMessage))
    }
}
