import Foundation
import FuzzDriver
import XentestPlan

/// One input to the host-file loader, given as the file's bytes. Diagnostics are ignored: only a crash, a trap or
/// a hang is a finding.
@_cdecl("LLVMFuzzerTestOneInput") public func fuzzHost(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    _ = try? HostConfig.load(text: Data(FuzzDriver.bytes(start, count)), path: "/fuzz/host.yaml")
    return 0
}

/// The executable's entry point (SwiftPM's `--defsym main=fuzz_host_main`).
@_cdecl("fuzz_host_main") public func fuzzHostMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
) -> CInt { FuzzDriver.run(argc, argv, fuzzHost) }
