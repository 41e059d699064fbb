// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// The control socket's path as a public check, so a command line can reject a bad bridge name
// or an over-long path before it opens any port (ControlServer.init would only find out last).

extension ControlServer {
    /// The control socket path of bridge `name` in `runDirectory` (`<runDirectory>/<name>.sock`).
    /// Throws `ControlError.invalidBridgeName` unless `name` is a safe file name, and
    /// `ControlError.socketPathTooLong` when the path does not fit a Unix socket address.
    /// Touches nothing: no file, no socket.
    public static func socketPath(bridge name: String, runDirectory: String = defaultRunDirectory) throws(ControlError)
        -> String
    {
        try ControlSocket.validate(bridge: name)
        let path = ControlSocket.path(bridge: name, runDirectory: runDirectory)
        _ = try ControlSocket.address(path)
        return path
    }
}
