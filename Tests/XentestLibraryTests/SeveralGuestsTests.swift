import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestPlan
@testable import XentestRun
@testable import XentestSupport

/// Cases with several guests (`guests: [a, b]`, steps `on: b`, `ping: b`): the plan language, each guest's address
/// and the run on libvirt's test driver.
@Suite("Several guests in one case") struct SeveralGuestsTests {
    static let guests = """
        release: test
        title: two guests
        guests:
          a: {type: pv, nics: 1}
          b: {type: hvm, memory: 128M, nics: 1}
        """

    @Test("guests: the steps act on the first unless they say 'on:'; for-each types every guest")
    func stepsNameTheirGuest() throws {
        let outcome = try loadPlanText(
            Self.guests + """

                cases:
                  - id: pair
                    title: Pair
                    area: network
                    guests: [a, b]
                    for-each: {type: [pv, hvm]}
                    steps:
                      - create:
                      - create:
                        on: b
                      - ping: b
                      - ping: a
                        on: b
                      - destroy:
                        on: b
                      - destroy:
                """
        )
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        #expect(plan.cases.map(\.id) == ["pair.pv", "pair.hvm"])
        #expect(plan.cases.map { $0.guests.map(\.type) } == [[.pv, .pv], [.hvm, .hvm]])
        let steps = plan.cases[0].steps
        #expect(steps.map(\.guest) == [nil, "b", nil, "b", "b", nil])
        #expect(steps[2].action == .pingGuest("b"))
        #expect(steps[2].action.label == "ping b")
        #expect(plan.cases[0].requirements == [.bridge, .testGuest])
        #expect(plan.cases[1].requirements == [.hvm, .bridge, .testGuest])
    }

    @Test("each guest's steps are in order on their own, and every name a step gives is a guest of the case")
    func everyMistakeAtOnce() throws {
        let outcome = try loadPlanText(
            Self.guests + """

                cases:
                  - id: pair
                    title: Pair
                    area: network
                    guests: [a, b]
                    steps:
                      - create:
                      - pause:
                        on: b
                      - ping: b
                      - ping: a
                      - create:
                        on: c
                      - ping: bb
                  - id: both
                    title: Both
                    area: network
                    guest: a
                    guests: [a, b]
                    steps:
                      - create:
                  - id: one
                    title: One
                    area: network
                    guests: [a, a]
                    steps:
                      - create:
                  - id: inline
                    title: Inline
                    area: network
                    guests: [{type: pv}]
                    steps:
                      - create:
                """
        )
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == [
                "plan.yaml:13:9: error: step 'pause' acts on guest 'b' before a 'create' step",
                "plan.yaml:15:9: error: ping b: guest 'b' is not running here; 'create' it before",
                "plan.yaml:16:15: error: ping a: a guest pings another guest of the case, not itself",
                "plan.yaml:18:13: error: on: the case has no guest 'c'; did you mean 'a'? (its guests: a, b)",
                "plan.yaml:19:15: error: ping target 'bb' is not 'guest', 'host' or a guest of the case; did you mean "
                    + "'b'? (its guests: a, b)",
                "plan.yaml:24:13: error: a case has either 'guest' or 'guests'; this one has both",
                "plan.yaml:30:17: error: guest 'a' is listed twice in guests",
                "plan.yaml:36:14: error: guests lists guests defined under 'guests:' by name; write an inline guest "
                    + "with 'guest:'",
            ],
            "\(outcome.lines)"
        )
    }

    @Test("the second guest takes the next address, on its command line too; the first keeps the host file's")
    func eachGuestHasItsAddress() {
        let host = HostConfig(
            pciDevices: [:],
            guestAddress: "10.0.0.2",
            guestCommandLine: "xentest.ip=10.0.0.2/24 quiet",
            source: "test"
        )
        #expect(host.forGuest(0).guestAddress == "10.0.0.2")
        #expect(host.forGuest(1).guestAddress == "10.0.0.3")
        #expect(host.forGuest(1).guestCommandLine == "xentest.ip=10.0.0.3/24 quiet")
        #expect(host.forGuest(2).guestCommandLine == "xentest.ip=10.0.0.4/24 quiet")
        var high = host
        high.guestAddress = "10.0.0.254"
        #expect(high.forGuest(1).guestAddress == "10.0.0.254", "no address past .254: left as it is")
        var six = host
        six.guestAddress = "fd00::2"
        #expect(six.forGuest(1).guestAddress == "fd00::2")
    }

    @Test("on the test driver: two domains named after the case, each step on its guest, both gone after the run")
    func twoDomains() async throws {
        let plan = try inlinePlan(
            Self.guests + """

                cases:
                  - id: pair
                    title: Pair
                    area: lifecycle
                    guests: [a, b]
                    steps:
                      - create:
                      - create:
                        on: b
                      - pause:
                        on: b
                      - list:
                        expect: {state: running}
                      - list:
                        on: b
                        expect: {state: paused}
                      - destroy:
                  - id: left
                    title: Left running
                    area: lifecycle
                    guests: [a, b]
                    steps:
                      - create:
                        on: b
                      - create:
                      - list:
                        on: b
                        expect: {state: shutoff}
                """
        )
        let host = HostConfig.testDriverDefault
        let run = try await TestDriverRun.run(plan, host: host)
        #expect(run.status("pair") == .pass, "\(run.reason("pair"))")
        let pair = try #require(run.result.cases.first { $0.id == "pair" })
        let named = { (label: String) in
            pair.steps.filter { $0.label == label }.compactMap(\.evidence.last?.arguments.first)
        }
        let first = try #require(named("create").first)
        #expect(named("create") == [first, first + "-b"])
        #expect(named("pause") == [first + "-b"])
        // Teardown undoes what the steps left, of both guests, the last created first.
        #expect(pair.teardown.map(\.label) == ["teardown: domain \(first)-b"])
        #expect(run.status("left") == .fail)
        let left = try #require(run.result.cases.first { $0.id == "left" })
        #expect(left.teardown.map(\.label).count == 2)
        #expect(left.teardown.first?.label.hasSuffix("-left") == true, "the first guest, created last, goes first")
        #expect(try run.leftoverDomains().isEmpty)
    }
}
