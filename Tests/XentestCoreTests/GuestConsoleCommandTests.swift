import Testing

@testable import XentestCore

@Suite("The marker protocol every guest console shares")
struct GuestConsoleCommandTests {
    @Test("the typed line: begin marker, the command, the end marker with $?; nothing in it parses as output")
    func typedLine() {
        let line = GuestConsoleCommand("ls /sys/class/net", marker: "5eed")
        #expect(line.typed == "echo __XT_\"\"B_5eed__; ls /sys/class/net; echo __XT_\"\"E_5eed_$?__\n")
        #expect(line.endMarkerBRE == "/__XT_E_5eed_[0-9]*__/q")
        // A console that still echoes shows the typed line: it must not count as an answer.
        #expect(line.result(in: line.typed + line.typed) == nil)
        #expect(line.result(in: line.typed + "__XT_B_5eed__\r\neth0\r\nlo\r\n__XT_E_5eed_0__\r\n")! == (0, "eth0\nlo"))
    }

    @Test("each command gets its own marker, so a late answer to an earlier attempt is never taken")
    func freshMarkers() {
        let markers = Set((0..<50).map { _ in GuestConsoleCommand("true").marker })
        #expect(markers.count > 45)
        #expect(markers.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isHexDigit) })
        let late = "__XT_B_aaaa__\nold\n__XT_E_aaaa_0__\n"
        #expect(GuestConsoleCommand("true", marker: "bbbb").result(in: late) == nil)
    }

    @Test("a guest that was not reached is a failed step with the reason; one that answered gives its output")
    func outcomes() {
        let unreached = GuestConsoleOutcome(reached: false, status: -1, output: "", problem: "the console closed", evidence: [])
        let failed = unreached.actionOutcome()
        #expect(!failed.succeeded)
        #expect(failed.errorMessage == "the console closed")
        let answered = GuestConsoleOutcome(reached: true, status: 2, output: "no", problem: nil, evidence: [])
        #expect(answered.actionOutcome().observation == .commandOutput(exitStatus: 2, output: "no"))
    }
}
