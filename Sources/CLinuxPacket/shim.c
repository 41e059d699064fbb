// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// Intentionally empty: SwiftPM needs one source file for a C target; the shim is header-only.
#include "CLinuxPacket.h"
