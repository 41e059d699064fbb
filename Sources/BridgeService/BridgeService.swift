// BridgeService: the running bridge.
