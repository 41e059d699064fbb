// libFuzzer entry point for the frame parser, the forwarding engine and the MAC table.
// Built by scripts/fuzz.sh together with Sources/BridgeCore/*.swift and the shared harness
// (Tests/IntegrationTests/Support/HardeningFuzzHarness.swift) as one module, with
// -sanitize=fuzzer,address. A broken invariant traps, which libFuzzer reports as a crash and
// saves as crash-<sha1> (replay: .build-fuzz/fuzz-engine crash-<sha1>).

@_cdecl("LLVMFuzzerTestOneInput")
public func swbridgeFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let failures = HardeningFuzzHarness.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    if !failures.isEmpty {
        fatalError("invariant broken: " + failures.prefix(5).joined(separator: "; "))
    }
    return 0
}
