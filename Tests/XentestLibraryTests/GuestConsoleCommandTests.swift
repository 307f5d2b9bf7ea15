import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

@Suite("The marker protocol every guest console shares") struct GuestConsoleCommandTests {
    @Test("the typed line: begin marker, the command, the end marker with $?; nothing in it parses as output")
    func typedLine() {
        let line = GuestConsoleCommand("ls /sys/class/net", marker: "5eed")
        #expect(line.typed == "echo __XT_\\B_5eed__; (eval ls\\ /sys/class/net); echo __XT_\\E_5eed_$?__\n")
        #expect(line.endMarkerBRE == "/__XT_E_5eed_[0-9]*__/q")
        // A console that still echoes shows the typed line: it must not count as an answer.
        #expect(line.result(in: line.typed + line.typed) == nil)
        #expect(line.result(in: line.typed + "__XT_B_5eed__\r\neth0\r\nlo\r\n__XT_E_5eed_0__\r\n")! == (0, "eth0\nlo"))
    }

    @Test("a typed line that lost characters (a booting guest) leaves the shell able to answer the next one")
    func mangledLineRecovers() async throws {
        let first = GuestConsoleCommand("cat /proc/version", marker: "aaaa")
        let second = GuestConsoleCommand("echo hello", marker: "bbbb")
        // Whatever the first line lost from its start, a real interactive shell (as the guest's is: a syntax error
        // drops the line, not the shell) answers the second, which arrives later, as lines typed into a tty do.
        let feed = #"{ printf '%s' "$1"; sleep 0.1; printf '%s' "$2"; } | sh -i"#
        for lost in 0..<30 {
            let mangled = String(first.typed.dropFirst(lost))
            let shell = try await LocalCommandRunner()
                .run(["sh", "-c", feed, "feed", mangled, second.typed], timeout: .seconds(10))
            let answer = second.result(in: shell.stdout)
            #expect(
                answer?.status == 0 && answer?.output == "hello",
                "first line without its first \(lost) characters: \(shell)"
            )
        }
    }

    /// Commands that ended the typed line early or swallowed its end marker when typed as they are: one ending in
    /// `&` or `;` (a syntax error before the end marker), a comment (the end marker commented out), an open quote (the
    /// end marker inside a string): each now answers, in a real interactive shell, with its status and output; `exit`
    /// ends the command, not the console's shell.
    @Test(
        "whatever a command ends with or leaves open, the shell still prints the end marker after it",
        arguments: [
            ("sleep 0.1 &", 0, ""), ("echo one;", 0, "one"), ("echo two # a note", 0, "two"),
            (#"printf '%s|' "a  b" $HOME"#, 0, "a  b|/root|"), ("echo it's", 2, nil),
            ("exit_status() { return 3; }; exit_status", 3, ""), ("exit 4", 4, ""), ("", 0, ""),
        ] as [(String, Int, String?)]
    ) func awkwardCommands(_ command: String, _ status: Int, _ output: String?) async throws {
        let line = GuestConsoleCommand(command, marker: "c0de")
        let shell = try await LocalCommandRunner()
            .run(["sh", "-c", #"printf '%s' "$1" | HOME=/root sh -i"#, "feed", line.typed], timeout: .seconds(10))
        let answer = line.result(in: shell.stdout)
        #expect(answer?.status == status, "\(shell)")
        if let output { #expect(answer?.output == output, "\(shell)") }
    }

    @Test("each command gets its own marker, so a late answer to an earlier attempt is never taken") func freshMarkers()
    {
        let markers = Set((0..<50).map { _ in GuestConsoleCommand("true").marker })
        #expect(markers.count > 45)
        #expect(markers.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isHexDigit) })
        let late = "__XT_B_aaaa__\nold\n__XT_E_aaaa_0__\n"
        #expect(GuestConsoleCommand("true", marker: "bbbb").result(in: late) == nil)
    }

    @Test("a guest that was not reached is a failed step with the reason; one that answered gives its output")
    func outcomes() {
        let unreached = GuestConsoleOutcome(
            reached: false,
            status: -1,
            output: "",
            problem: "the console closed",
            evidence: []
        )
        let failed = unreached.actionOutcome()
        #expect(!failed.succeeded)
        #expect(failed.errorMessage == "the console closed")
        let answered = GuestConsoleOutcome(reached: true, status: 2, output: "no", problem: nil, evidence: [])
        #expect(answered.actionOutcome().observation == .commandOutput(exitStatus: 2, output: "no"))
    }
}
