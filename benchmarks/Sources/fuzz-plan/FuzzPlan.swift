import Foundation
import FuzzDriver
import XentestPlan

/// One input to the plan loader, given as the file's bytes; includes are reported, not read. Diagnostics are
/// ignored: only a crash, a trap or a hang is a finding.
@_cdecl("LLVMFuzzerTestOneInput") public func fuzzPlan(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    _ = try? PlanLoader().load(text: Data(FuzzDriver.bytes(start, count)), path: "/fuzz/plan.yaml")
    return 0
}

/// The executable's entry point (SwiftPM's `--defsym main=fuzz_plan_main`).
@_cdecl("fuzz_plan_main") public func fuzzPlanMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
) -> CInt { FuzzDriver.run(argc, argv, fuzzPlan) }
