import Foundation
import Testing
@testable import XentestPlan

/// What a new plan author got wrong in their first hour, and the one message that says what to write instead.
@Suite("Plan diagnostics: a plan author's first hour") struct FirstHourDiagnosticsTests {
    static let examples: [DiagnosticExample] = [
        DiagnosticExample(
            name: "a requirement without a value written as a key",
            yaml: """
                release: 4.17.0-rc1
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: general
                    requires: [{iommu: true}, {hvm: yes}, bridge, {min-free-memory: 1G}]
                    steps:
                      - pci-assignable-list:
                """,
            expected: [
                "plan.yaml:7:17: error: requirement 'iommu' takes no value: list it as a word, 'requires: [iommu]'",
                "plan.yaml:7:32: error: requirement 'hvm' takes no value: list it as a word, 'requires: [hvm]'",
            ]
        ),
        DiagnosticExample(
            name: "a host file given as a plan",
            yaml: """
                # my host
                pci-devices:
                  nic: 0000:03:00.0
                bridge: xenbr0
                guest-kernel: /var/lib/xentest/vmlinuz
                """,
            expected: [
                "plan.yaml:2:1: error: this is a host file (it has 'pci-devices', 'bridge', ...), not a plan: give it "
                    + "with --host-config, as in 'xentest run PLAN --host-config *plan.yaml'"
            ]
        ),
        DiagnosticExample(
            name: "a duplicate key in a flow mapping, at the repeat",
            yaml: """
                release: 4.17.0-rc1
                title: Fixture plan
                guests:
                  small: {type: pv, memory: 256M, type: hvm}
                cases: []
                """,
            expected: ["plan.yaml:4:35: error: duplicate key 'type' in the same mapping; first at plan.yaml:4:11"]
        ),
        DiagnosticExample(
            name: "a duplicate key after a comment and a blank line, at the repeat",
            yaml: """
                release: 4.17.0-rc1
                title: Fixture plan
                cases:
                  - id: one
                    title: One

                    # the area
                    area: general
                    "title": Two
                    steps:
                      - pci-assignable-list:
                """,
            expected: ["plan.yaml:9:5: error: duplicate key 'title' in the same mapping; first at plan.yaml:5:5"]
        ),
        DiagnosticExample(
            name: "includes that are all missing: each said, and no 'no cases' besides",
            yaml: "release: 4.17.0-rc1\ntitle: Fixture plan\ninclude:\n  - missing-a.yaml\n  - missing-b.yaml\n",
            expected: [
                "plan.yaml:4:5: error: included file 'missing-a.yaml' does not exist (looked for *missing-a.yaml)",
                "plan.yaml:5:5: error: included file 'missing-b.yaml' does not exist (looked for *missing-b.yaml)",
            ]
        ),
        DiagnosticExample(
            name: "a tab after spaces in the indentation",
            yaml: "release: 4.17.0-rc1\ntitle: Fixture plan\ncases:\n  - id: one\n    title: One\n  \t  area: x\n",
            expected: [
                "plan.yaml:6:3: error: invalid YAML: a tab indents this line; YAML indents with spaces only, so "
                    + "replace the tab with spaces"
            ]
        ),
    ]

    @Test(arguments: examples) func reportsExactly(_ example: DiagnosticExample) throws {
        let outcome = try loadPlanText(example.yaml)
        #expect(outcome.plan == nil, "a plan with errors must not load")
        expectLines(outcome.lines, example.expected)
    }

    /// The chain is shown from the file that is included again, as each include writes it.
    @Test func includeCycleShowsTheChain() throws {
        let outcome = try loadPlanText(
            "release: r\ntitle: t\ninclude: [b.yaml]\n",
            extraFiles: [
                "b.yaml": "include: [parts/c.yaml]\n", "parts/c.yaml": "include: [d.yaml]\n",
                "parts/d.yaml": "include: [../b.yaml]\n",
            ]
        )
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines.contains(
                "parts/d.yaml:1:11: error: include cycle: b.yaml includes parts/c.yaml, which includes d.yaml, "
                    + "which includes ../b.yaml"
            ),
            "\(outcome.lines)"
        )
    }

    /// A file included by two others is not a cycle: it is named as included twice, with where it was first.
    @Test func fileIncludedTwiceSaysWhereFirst() throws {
        let outcome = try loadPlanText(
            "release: r\ntitle: t\ninclude: [b.yaml, c.yaml]\n",
            extraFiles: [
                "b.yaml": "include: [shared.yaml]\n", "c.yaml": "include: [shared.yaml]\n",
                "shared.yaml":
                    "cases:\n  - id: one\n    title: One\n    area: general\n    steps:\n      - pci-assignable-list:\n",
            ]
        )
        #expect(
            outcome.lines == [
                "c.yaml:1:11: error: 'shared.yaml' is included more than once (first at b.yaml:1:11); include a "
                    + "file once"
            ]
        )
    }

    @Test("a failure-matches that cannot match a failure of its case is a warning; one alternative that can is fine")
    func unmatchableFailurePatternsWarn() throws {
        let outcome = try loadPlanText(
            #"""
            release: 4.17.0-rc1
            title: Fixture plan
            cases:
              - id: one
                title: One
                area: general
                known-issue:
                  summary: lists nothing
                  failure-matches: "step 1 (pci-assignable-list): expected"
                steps:
                  - pci-assignable-list:
              - id: two
                title: Two
                area: general
                known-issue:
                  - summary: a
                    failure-matches: 'step 3 \(pci-assignable-list\)'
                  - summary: b
                    failure-matches: 'step 1 \(vcpu-set\)'
                  - summary: c
                    failure-matches: 'step 1 \(vcpu-set\)|step 1 \(pci-assignable'
                  - summary: d
                    failure-matches: '(step 1 \(vcpu|other) failed'
                  - summary: e
                    failure-matches: 'Step 1 \(pci-assignable-list\): expected'
                steps:
                  - pci-assignable-list:
            """#
        )
        let plan = try #require(outcome.plan, "warnings do not stop a plan: \(outcome.lines)")
        #expect(plan.cases.count == 2)
        let said = "cannot match a failure of this case:"
        #expect(
            outcome.lines == [
                #"plan.yaml:9:24: warning: failure-matches 'step 1 (pci-assignable-list): expected' \#(said) '(' "#
                    + #"after 'step 1' starts a regex group, so it never matches the message's 'step 1 (...)'; "#
                    + #"write '\(' and '\)'"#,
                #"plan.yaml:17:26: warning: failure-matches 'step 3 \(pci-assignable-list\)' \#(said) it names "#
                    + "step 3, and the case has 1 step",
                #"plan.yaml:19:26: warning: failure-matches 'step 1 \(vcpu-set\)' \#(said) it names step 1 as "#
                    + "'vcpu-set', and step 1 is 'pci-assignable-list'",
            ]
        )
    }

    @Test("/dev/null is an empty plan, a directory is named as one: neither is 'You don't have permission'")
    func devicesAndDirectoriesAreNamedForWhatTheyAre() throws {
        let empty = LoadOutcome(path: "/dev/null", stripping: "/nothing-to-strip")
        #expect(
            empty.lines == ["/dev/null: error: the plan is empty; it needs at least 'release', 'title' and 'cases'"]
        )
        let directory = try ScratchDirectory()
        let folder = LoadOutcome(path: directory.path, stripping: "/nothing-to-strip")
        #expect(folder.lines == ["\(directory.path): error: cannot read file: it is a directory; name a YAML file"])
        let absent = LoadOutcome(path: directory.path + "/absent.yaml", stripping: directory.path)
        #expect(absent.lines == ["absent.yaml: error: cannot read file: No such file or directory"])
    }

    @Test("a plan given as the host file says so and how to run it, not every plan key as unknown")
    func planGivenAsHostFile() throws {
        let path = Fixtures.realPlan("smoke")
        #expect { try HostConfig.load(path: path) } throws: { error in
            let lines = (error as? DiagnosticsError)?.diagnostics.map(\.description) ?? []
            return lines == [
                "\(path):2:1: error: this is a plan (it has 'release', 'title', ...), not a host file: name it as "
                    + "the plan, as in 'xentest run \(path) --host-config HOST.yaml'"
            ]
        }
    }
}
