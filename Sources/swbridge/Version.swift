// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The version `swbridge --version` prints: one semantic-version constant, bumped by hand in the
// commit that makes a release (and only here), since SwiftPM offers no build-time git
// describe without a build plugin.

/// swbridge's semantic version (MAJOR.MINOR.PATCH): bump it here when releasing.
let swbridgeVersion = "0.9.0"
