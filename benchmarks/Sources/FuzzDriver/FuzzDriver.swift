/// libFuzzer's entry point, called by a fuzz target's `main` (benchmarks/fuzz.sh).
///
/// SwiftPM links an executable with `--defsym main=<module>_main`, so each target defines that function and
/// hands libFuzzer its arguments here; the script links with `--allow-multiple-definition` because libFuzzer
/// brings a `main` of its own, which does the same.
public enum FuzzDriver {
    /// One input's bytes; the return value is libFuzzer's (0: keep going).
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Runs libFuzzer with the process's arguments (`CORPUS... -max_total_time=N`) and returns its exit status.
    public static func run(
        _ argc: CInt,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
        _ testOneInput: TestOneInput
    ) -> CInt {
        var argc = argc
        var argv = argv
        return runDriver(&argc, &argv, testOneInput)
    }

    /// The input as bytes; libFuzzer passes a null pointer for the empty input.
    public static func bytes(_ start: UnsafePointer<UInt8>?, _ count: Int) -> [UInt8] {
        guard let start, count > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: start, count: count))
    }
}

@_silgen_name("LLVMFuzzerRunDriver") private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ testOneInput: FuzzDriver.TestOneInput
) -> CInt
