import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// A small plan and the exact diagnostics it must produce, all of them at once.
struct DiagnosticExample: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    /// `plan.yaml:line:col: severity: message`, sorted by source position.
    var expected: [String]
    var testDescription: String { name }
}

@Suite("Plan diagnostics: every kind, exact position, all at once") struct PlanDiagnosticsTests {
    static let examples: [DiagnosticExample] = [
        DiagnosticExample(
            name: "unknown keys, with and without a suggestion",
            yaml: """
                release: 4.3.0-rc6
                titel: Fixture plan
                guests:
                  small:
                    type: pv
                    memroy: 256M
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: small
                    stpes:
                      - create:
                    frobnicate: yes
                  - id: two
                    title: Two
                    area: lifecycle
                    guest: small
                    steps:
                      - create:
                        expct: fails
                      - destroy:
                """,
            expected: [
                "plan.yaml:1:1: error: the plan is missing required key 'title'",
                "plan.yaml:2:1: error: unknown key 'titel' in the plan; did you mean 'title'?",
                "plan.yaml:6:5: error: unknown key 'memroy' in guest 'small'; did you mean 'memory'?",
                "plan.yaml:8:5: error: a case is missing required key 'steps'",
                "plan.yaml:12:5: error: unknown key 'stpes' in a case; did you mean 'steps'?",
                "plan.yaml:14:5: error: unknown key 'frobnicate' in a case; expected one of: id, title, area, tags, "
                    + "description, requires, backends, guest, guests, for-each, steps, known-issue, host-log-lacks, timeout, "
                    + "exclusive", "plan.yaml:21:9: error: unknown key 'expct' in a step; did you mean 'expect'?",
            ]
        ),
        DiagnosticExample(
            name: "wrong types",
            yaml: """
                release: [4, 3]
                title: Fixture plan
                guests:
                  small:
                    type: pv
                    vcpus: two
                    passthrough: maybe
                    nics: 9
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    tags: {a: b}
                    steps: {create: }
                  - just a string
                """,
            expected: [
                "plan.yaml:1:10: error: release must be a string, not a list",
                "plan.yaml:6:12: error: vcpus must be a whole number, not 'two'",
                "plan.yaml:7:18: error: passthrough must be true or false, not 'maybe'",
                "plan.yaml:8:11: error: nics must be between 0 and 8, not 9",
                "plan.yaml:13:11: error: tags must be a list, not a mapping",
                "plan.yaml:14:12: error: steps must be a list, not a mapping",
                "plan.yaml:15:5: error: a case must be a mapping (key: value), not 'just a string'",
            ]
        ),
        DiagnosticExample(
            name: "missing required keys",
            yaml: """
                release: 4.3.0-rc6
                cases:
                  - id: one
                    steps:
                      - pci-assignable-list:
                guests:
                  small:
                    memory: 256M
                """,
            expected: [
                "plan.yaml:1:1: error: the plan is missing required key 'title'",
                "plan.yaml:3:5: error: a case is missing required key 'area'",
                "plan.yaml:3:5: error: a case is missing required key 'title'",
                "plan.yaml:8:5: error: guest 'small' is missing required key 'type'",
            ]
        ),
        DiagnosticExample(
            name: "duplicate case id in one file, the duplicate's own errors too",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    steps:
                      - pci-assignable-list:
                  - id: two
                    title: Two
                    area: lifecycle
                    steps:
                      - pci-assignable-list:
                  - id: one
                    title: One again
                    area: Life
                    steps:
                      - pci-assignable-list:
                """,
            expected: [
                "plan.yaml:14:5: error: duplicate case id 'one'; first defined at plan.yaml:4:5",
                "plan.yaml:16:11: error: area 'Life' is not a valid name: use lowercase letters, digits and '-', "
                    + "starting with a letter",
            ]
        ),
        DiagnosticExample(
            name: "duplicate guest in one mapping",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                  small:
                    type: hvm
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    steps:
                      - pci-assignable-list:
                """,
            expected: ["plan.yaml:6:3: error: duplicate key 'small' in the same mapping; first at plan.yaml:4:3"]
        ),
        DiagnosticExample(
            name: "unknown guest references",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                  large:
                    type: hvm
                cases:
                  - id: typo
                    title: Typo
                    area: lifecycle
                    guest: smal
                    steps:
                      - create:
                  - id: unrelated
                    title: Unrelated
                    area: lifecycle
                    guest: windows-server
                    steps:
                      - create:
                """,
            expected: [
                "plan.yaml:12:12: error: unknown guest 'smal'; did you mean 'small'?",
                "plan.yaml:18:12: error: unknown guest 'windows-server'; defined guests: large, small",
            ]
        ),
        DiagnosticExample(
            name: "an unknown guest does not hide the steps' own problems",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: nowhere
                    steps:
                      - crate:
                      - vcpu-set: 2
                      - create:
                      - create:
                """,
            expected: [
                "plan.yaml:7:12: error: unknown guest 'nowhere'; define it under 'guests:' or write the guest inline",
                "plan.yaml:9:9: error: a step needs an action: *",
                "plan.yaml:9:9: error: unknown key 'crate' in a step; did you mean 'create'?",
                "plan.yaml:10:9: error: step 'vcpu-set' acts on the guest before a 'create' step",
                "plan.yaml:12:9: error: the guest is already created; destroy or shut it down first",
            ]
        ),
        DiagnosticExample(
            name: "unknown guest when there are no guests at all",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: small
                    steps:
                      - create:
                """,
            expected: [
                "plan.yaml:7:12: error: unknown guest 'small'; define it under 'guests:' or write the guest inline"
            ]
        ),
        DiagnosticExample(
            name: "vcpus above maxvcpus, named and inline",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                    vcpus: 4
                    maxvcpus: 2
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: {type: hvm, vcpus: 3, maxvcpus: 1}
                    steps:
                      - create:
                """,
            expected: [
                "plan.yaml:6:12: error: vcpus (4) must not be more than maxvcpus (2)",
                "plan.yaml:12:31: error: vcpus (3) must not be more than maxvcpus (1)",
            ]
        ),
        DiagnosticExample(
            name: "vcpu-set above maxvcpus expecting success; expecting failure is fine",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                    maxvcpus: 2
                cases:
                  - id: one
                    title: One
                    area: cpu-hotplug
                    guest: small
                    steps:
                      - create:
                      - vcpu-set: 2
                      - vcpu-set: 3
                      - vcpu-set: 3
                        expect: fails
                      - vcpu-set: 5
                        expect: {fails-matching: 'exceeds maximum'}
                      - destroy:
                """,
            expected: [
                "plan.yaml:15:19: error: vcpu-set 3 is more than guest 'small' allows (maxvcpus 2); raise maxvcpus, "
                    + "or expect it to fail with 'expect: {fails-matching: ...}'"
            ]
        ),
        DiagnosticExample(
            name: "online-vcpus above maxvcpus",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                    maxvcpus: 2
                cases:
                  - id: one
                    title: One
                    area: cpu-hotplug
                    guest: small
                    steps:
                      - create:
                      - vcpu-list:
                        expect: {online-vcpus: 2}
                      - vcpu-list:
                        expect: {online-vcpus: 3}
                      - destroy:
                """,
            expected: ["plan.yaml:17:17: error: expecting 3 vCPUs online, but guest 'small' has maxvcpus 2"]
        ),
        DiagnosticExample(
            name: "pci-attach without passthrough; with passthrough or a pci list it is fine",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  plain:
                    type: pv
                  ready:
                    type: pv
                    passthrough: true
                  with-device:
                    type: pv
                    pci: [gpu]
                cases:
                  - id: plain
                    title: Plain
                    area: pci-passthrough
                    guest: plain
                    steps:
                      - create:
                      - pci-attach: nic
                      - destroy:
                  - id: ready
                    title: Ready
                    area: pci-passthrough
                    guest: ready
                    steps:
                      - create:
                      - pci-attach: nic
                      - destroy:
                  - id: with-device
                    title: With a device
                    area: pci-passthrough
                    guest: with-device
                    steps:
                      - create:
                      - pci-attach: nic
                      - destroy:
                """,
            expected: [
                "plan.yaml:19:21: error: pci-attach to guest 'plain' needs 'passthrough: true' in the guest "
                    + "(xl refuses hot-plug otherwise)"
            ]
        ),
        DiagnosticExample(
            name: "steps before create, after destroy, create twice, guest steps without a guest",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: small
                    steps:
                      - list:
                        expect: {state: gone}
                      - vcpu-list:
                      - create:
                      - create:
                      - shutdown:
                      - pause:
                      - create: paused
                      - unpause:
                      - destroy:
                  - id: two
                    title: Two
                    area: lifecycle
                    steps:
                      - pci-assignable-list:
                      - create:
                """,
            expected: [
                "plan.yaml:14:9: error: step 'vcpu-list' acts on the guest before a 'create' step",
                "plan.yaml:16:9: error: the guest is already created; destroy or shut it down first",
                "plan.yaml:18:9: error: step 'pause' acts on the guest after the guest was destroyed or shut down",
                "plan.yaml:27:9: error: step 'create' acts on a guest, but case 'two' has no 'guest'",
            ]
        ),
        DiagnosticExample(
            name: "network-detach without a network-attach before it",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  net:
                    type: pv
                    nics: 1
                cases:
                  - id: one
                    title: One
                    area: network
                    guest: net
                    steps:
                      - create:
                      - network-attach:
                      - network-detach:
                      - network-detach:
                      - destroy:
                """,
            expected: [
                "plan.yaml:16:9: error: network-detach detaches the interface the last network-attach added, and none "
                    + "was added before it"
            ]
        ),
        DiagnosticExample(
            name: "bad durations",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    timeout: 25h
                    steps:
                      - pci-assignable-list:
                        timeout: 10
                      - pci-assignable-list:
                        retry-for: 0s
                      - pci-assignable-list:
                        timeout: 1.5s
                      - pci-assignable-list:
                        timeout: -5s
                      - pci-assignable-list:
                        retry-for: 2d
                """,
            expected: [
                "plan.yaml:7:14: error: timeout: '25h' is longer than a day",
                "plan.yaml:10:18: error: timeout: '10' is not a duration; write a number and a unit: 500ms, 30s, 2m, 1h",
                "plan.yaml:12:20: error: retry-for: '0s' must be longer than zero",
                "plan.yaml:14:18: error: timeout: '1.5s' is not a duration; write a number and a unit: 500ms, 30s, 2m, 1h",
                "plan.yaml:16:18: error: timeout: '-5s' is not a duration; write a number and a unit: 500ms, 30s, 2m, 1h",
                "plan.yaml:18:20: error: retry-for: '2d' is not a duration; write a number and a unit: 500ms, 30s, 2m, 1h",
            ]
        ),
        DiagnosticExample(
            name: "bad memory sizes",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  no-unit:
                    type: pv
                    memory: 256
                  too-big:
                    type: pv
                    memory: 16385G
                  bytes:
                    type: pv
                    memory: 256MB
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    requires:
                      - min-free-memory: 0M
                    steps:
                      - pci-assignable-list:
                """,
            expected: [
                "plan.yaml:6:13: error: memory: '256' is not a memory size; write a number and M or G, such as 256M or 1G",
                "plan.yaml:9:13: error: memory: '16385G' is more than 16 TiB",
                "plan.yaml:12:13: error: memory: '256MB' is not a memory size; write a number and M or G, such as 256M or 1G",
                "plan.yaml:18:26: error: min-free-memory: '0M' is not a memory size; write a number and M or G, such as "
                    + "256M or 1G",
            ]
        ),
        DiagnosticExample(
            name: "bad version ranges",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    requires:
                      - xen: '4.3'
                    known-issue:
                      - summary: Broken before 4.x
                        xen: '>= 4.x'
                      - summary: Broken somewhere
                        xen: '>= 4.3, =< 4.5'
                    steps:
                      - pci-assignable-list:
                """,
            expected: [
                "plan.yaml:8:14: error: xen: '4.3' must start with <, <=, >, >= or ==",
                "plan.yaml:11:14: error: xen: '4.x' is not a version such as 4.3 or 4.17.2",
                "plan.yaml:13:14: error: xen: '=< 4.5' must start with <, <=, >, >= or ==",
            ]
        ),
        DiagnosticExample(
            name: "bad regular expressions",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: small
                    steps:
                      - create:
                      - vcpu-set: 1
                        expect: {fails-matching: '(unclosed'}
                      - guest-exec: uname
                        expect: {exit-status: 0, output-matches: '[a-'}
                      - destroy:
                    known-issue: {summary: flaky, failure-matches: 'step (2'}
                """,
            expected: [
                "plan.yaml:14:34: error: '(unclosed' is not a valid regular expression: *",
                "plan.yaml:16:50: error: '[a-' is not a valid regular expression: *",
                "plan.yaml:18:52: error: 'step (2' is not a valid regular expression: *",
            ]
        ),
        DiagnosticExample(
            name: "unknown action, and a step without one",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: small
                    steps:
                      - crate:
                      - reboot-now:
                      - note: only a note
                """,
            expected: [
                "plan.yaml:12:9: error: a step needs an action: one of create, destroy, shutdown, pause, unpause, list, "
                    + "vcpu-set, vcpu-list, vcpu-pin, pci-assignable-add, pci-assignable-remove, pci-assignable-list, pci-attach, "
                    + "pci-detach, pci-list, network-attach, network-detach, network-list, wait-for-state, wait-for-console, stay-up, guest-exec, "
                    + "ping, xenstore-read, save, restore, migrate, reboot, mem-set, mem-max, block-attach, block-detach, "
                    + "block-list, cd-insert, cd-eject",
                "plan.yaml:12:9: error: unknown key 'crate' in a step; did you mean 'create'?",
                "plan.yaml:13:9: error: a step needs an action: *",
                "plan.yaml:13:9: error: unknown key 'reboot-now' in a step; expected one of: *",
                "plan.yaml:14:9: error: a step needs an action: *",
            ]
        ),
        DiagnosticExample(
            name: "two actions in one step",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: small
                    steps:
                      - create:
                        destroy:
                """,
            expected: [
                "plan.yaml:13:9: error: a step has one action, this one has 2: create, destroy; split it into steps"
            ]
        ),
        DiagnosticExample(
            name: "expectations an action cannot have, and malformed expectations",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: small
                    steps:
                      - create:
                        expect: {state: running}
                      - list:
                        expect: {count: 1}
                      - list:
                        expect: succeed
                      - list:
                        expect: {state: running, fails-matching: x}
                      - list:
                        expect: {}
                      - network-list:
                        expect: {count: 65}
                      - list:
                        expect: {statte: running}
                      - destroy:
                """,
            expected: [
                "plan.yaml:13:18: error: 'create' cannot expect 'state'",
                "plan.yaml:15:18: error: 'list' cannot expect 'count'; 'list' can expect: fails-matching, state, memory",
                "plan.yaml:17:17: error: expect 'succeed' is not known: write 'succeeds', 'fails', or a mapping such as "
                    + "{fails-matching: REGEX}; did you mean 'succeeds'?",
                "plan.yaml:19:17: error: expect one thing per step; this one has: state, fails-matching",
                "plan.yaml:21:17: error: expect is empty",
                "plan.yaml:23:25: error: count must be between 0 and 64, not 65",
                "plan.yaml:25:18: error: unknown key 'statte' in expect; did you mean 'state'?",
            ]
        ),
        DiagnosticExample(
            name: "action values",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small:
                    type: pv
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    guest: small
                    steps:
                      - create: now
                      - wait-for-state: runing
                      - ping: dom0
                      - vcpu-set: 0
                      - xenstore-read: local/domain/{domid}
                      - xenstore-read: /local/domain/{id}/name
                      - pci-attach: NIC
                      - destroy: now
                """,
            expected: [
                "plan.yaml:12:17: error: 'create' takes no value, or 'paused'; not 'now'",
                "plan.yaml:13:25: error: state 'runing' is not one of: running, paused, shutoff, gone; did you mean "
                    + "'running'?",
                "plan.yaml:14:15: error: ping target 'dom0' is not 'guest', 'host' or a guest of the case (its guests: small)",
                "plan.yaml:15:19: error: vcpu-set must be between 1 and 512, not 0",
                "plan.yaml:16:24: error: xenstore path 'local/domain/{domid}' must be absolute, without spaces; "
                    + "'{domid}' is the only placeholder",
                "plan.yaml:17:24: error: xenstore path '/local/domain/{id}/name' must be absolute, without spaces; "
                    + "'{domid}' is the only placeholder",
                "plan.yaml:18:21: error: PCI role 'NIC' is not a valid name: use lowercase letters, digits and '-', "
                    + "starting with a letter", "plan.yaml:19:18: error: 'destroy' takes no value; write '- destroy:'",
            ]
        ),
        DiagnosticExample(
            name: "requirements and backends",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    backends: [xl, qemu]
                    requires: [iomu, min-free-memory, gpu-with-fan, {min-host-cpus: 2, xen: '>= 4.3'}]
                    steps:
                      - pci-assignable-list:
                  - id: two
                    title: Two
                    area: lifecycle
                    backends: []
                    steps:
                      - pci-assignable-list:
                """,
            expected: [
                "plan.yaml:7:20: error: backend 'qemu' is not one of: xl, libvirt",
                "plan.yaml:8:16: error: unknown requirement 'iomu'; did you mean 'iommu'?",
                "plan.yaml:8:22: error: requirement 'min-free-memory' needs a value: write 'min-free-memory: VALUE'",
                "plan.yaml:8:39: error: unknown requirement 'gpu-with-fan'; known: iommu, hvm, pvh, bridge, test-guest, "
                    + "shadow-paging, min-free-memory, min-host-cpus, xen, pci-device, large-bar-device, disk-format, host-guest, "
                    + "host-guest-address", "plan.yaml:8:53: error: write one requirement per list item",
                "plan.yaml:14:15: error: backends must name at least one of xl, libvirt",
            ]
        ),
        DiagnosticExample(
            name: "known issues",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    known-issue:
                      summary: Fails on old hardware
                      link: lists.xen.org/archives/html/xen-devel/2013-06/msg00001.html
                    steps:
                      - pci-assignable-list:
                  - id: two
                    title: Two
                    area: lifecycle
                    known-issue:
                      - sumary: Typo
                        backends: [xen]
                    steps:
                      - pci-assignable-list:
                """,
            expected: [
                "plan.yaml:9:13: error: link must be an http(s) URL, not "
                    + "'lists.xen.org/archives/html/xen-devel/2013-06/msg00001.html'",
                "plan.yaml:16:9: error: known-issue is missing required key 'summary'",
                "plan.yaml:16:9: error: unknown key 'sumary' in known-issue; did you mean 'summary'?",
                "plan.yaml:17:20: error: backend 'xen' is not one of: xl, libvirt; did you mean 'xl'?",
            ]
        ),
        DiagnosticExample(
            name: "unknown drivers in a known issue, with and without a suggestion",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    known-issue: {summary: Broken, drivers: [qemu, xem]}
                    steps:
                      - pci-assignable-list:
                  - id: two
                    title: Two
                    area: lifecycle
                    known-issue:
                      summary: Broken
                      drivers: kvm-or-whatever
                    steps:
                      - pci-assignable-list:
                """,
            expected: [
                "plan.yaml:7:52: error: unknown driver 'xem'; did you mean 'xen'? (drivers: xen, qemu, test)",
                "plan.yaml:15:16: error: unknown driver 'kvm-or-whatever' (drivers: xen, qemu, test)",
            ]
        ),
        DiagnosticExample(
            name: "names must be lowercase",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  Big:
                    type: pv
                  small:
                    type: pv
                    pci: [NIC]
                cases:
                  - id: Lifecycle-One
                    title: One
                    area: life_cycle
                    tags: [fast, Slow]
                    steps:
                      - pci-assignable-list:
                  - id: 2fast
                    title: Two
                    area: lifecycle
                    steps:
                      - pci-assignable-list:
                """,
            expected: [
                "plan.yaml:4:3: error: guest name 'Big' is not a valid name",
                "plan.yaml:8:11: error: each of pci 'NIC' is not a valid name: use lowercase letters, digits and '-', "
                    + "starting with a letter",
                "plan.yaml:10:9: error: case id 'Lifecycle-One' is not a valid name: use lowercase letters, digits and "
                    + "'-', starting with a letter",
                "plan.yaml:12:11: error: area 'life_cycle' is not a valid name: use lowercase letters, digits and '-', "
                    + "starting with a letter",
                "plan.yaml:13:18: error: each of tags 'Slow' is not a valid name: use lowercase letters, digits and '-', "
                    + "starting with a letter",
                "plan.yaml:16:9: error: case id '2fast' is not a valid name: use lowercase letters, digits and '-', "
                    + "starting with a letter",
            ]
        ),
        DiagnosticExample(
            name: "a plan that is only a comment is empty",
            yaml: "# nothing here yet\n",
            expected: ["plan.yaml: error: the plan is empty; it needs at least 'release', 'title' and 'cases'"]
        ),
        DiagnosticExample(
            name: "a plan without cases",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                """,
            expected: ["plan.yaml:1:1: error: the plan has no cases; add a 'cases:' list"]
        ),
        DiagnosticExample(
            name: "a plan with an empty case list",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases: []
                """,
            expected: ["plan.yaml:1:1: error: the plan has no cases; add a 'cases:' list"]
        ),
        DiagnosticExample(
            name: "a case with an empty step list",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    steps: []
                """,
            expected: ["plan.yaml:7:12: error: case 'one' has no steps"]
        ),
        DiagnosticExample(
            name: "a plan that is not a mapping",
            yaml: """
                - release: 4.3.0-rc6
                - title: Fixture plan
                """,
            expected: ["plan.yaml:1:1: error: the plan must be a mapping (key: value), not a list"]
        ),
        DiagnosticExample(
            name: "YAML syntax error: bad indentation",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                cases:
                  - id: one
                   title: One
                """,
            expected: ["plan.yaml:5:*: error: invalid YAML: *"]
        ),
        DiagnosticExample(
            name: "YAML syntax error: unterminated quote",
            yaml: """
                release: 4.3.0-rc6
                title: "Fixture plan
                cases: []
                """,
            expected: ["plan.yaml:*: error: invalid YAML: *quoted scalar*"]
        ),
        DiagnosticExample(
            name: "YAML syntax error: a tab for indentation",
            yaml: "release: 4.3.0-rc6\ntitle: Fixture plan\ncases:\n\t- id: one\n",
            expected: [
                "plan.yaml:4:1: error: invalid YAML: a tab indents this line; YAML indents with spaces only, so "
                    + "replace the tab with spaces"
            ]
        ),
        DiagnosticExample(
            name: "save, restore, migrate and memory steps out of order or mistyped",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  small: {type: pv}
                cases:
                  - id: one
                    title: One
                    area: general
                    guest: small
                    steps:
                      - restore:
                      - create:
                      - save:
                      - pause:
                      - create:
                      - restore:
                      - migrate: elsewhere
                      - migrate: {to: localhost, times: 0}
                      - migrate: {times: 2}
                      - mem-set: lots
                      - mem-max: 512M
                        expect: {memory: 512M}
                      - list:
                        expect: {memory: 2x}
                      - save: now
                """,
            expected: [
                "plan.yaml:11:9: error: 'restore' restores what a 'save' step saved, and no 'save' comes before it",
                "plan.yaml:14:9: error: step 'pause' acts on the guest while it is saved; 'restore' it first",
                "plan.yaml:15:9: error: the guest is saved; 'restore' it",
                "plan.yaml:17:18: error: migrate goes to 'localhost' (this host: a local migration, as OSSTest's); "
                    + "not 'elsewhere'", "plan.yaml:18:41: error: times must be between 1 and 100, not 0",
                "plan.yaml:19:18: error: migrate is missing required key 'to'",
                "plan.yaml:20:18: error: mem-set: 'lots' is not a memory size; write a number and M or G, such as 256M "
                    + "or 1G", "plan.yaml:22:18: error: 'mem-max' cannot expect 'memory'",
                "plan.yaml:24:26: error: memory: '2x' is not a memory size; write a number and M or G, such as 256M or "
                    + "1G", "plan.yaml:25:15: error: 'save' takes no value; write '- save:'",
            ]
        ),
        DiagnosticExample(
            name: "vcpu-pin and affinity: CPU sets, vCPUs the guest lacks",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  two: {type: pv, vcpus: 1, maxvcpus: 2}
                cases:
                  - id: one
                    title: One
                    area: general
                    guest: two
                    steps:
                      - create:
                      - vcpu-pin: {vcpu: 0, cpus: '^1'}
                      - vcpu-pin: {vcpu: 0, cpus: 3-1}
                      - vcpu-pin: {vcpu: 2, cpus: all}
                      - vcpu-pin: {vcpu: 2, cpus: all}
                        expect: fails
                      - vcpu-pin: {cpus: 1}
                      - vcpu-pin: 1
                      - vcpu-list:
                        expect: {affinity: {vcpu: 5, cpus: 1}}
                      - vcpu-list:
                        expect: {affinity: {vcpu: 0, cpu: 1}}
                """,
            expected: [
                "plan.yaml:12:35: error: cpus: '^1' is not a set of CPUs; write 'all', a CPU such as 1, a range such "
                    + "as 0-3, or a list such as 0,2-3", "plan.yaml:13:35: error: cpus: '3-1' is not a set of CPUs; *",
                "plan.yaml:14:19: error: guest 'two' has no vCPU 2: its vCPUs are 0 to 1 (maxvcpus 2); or expect it "
                    + "to fail with 'expect: {fails-matching: ...}'",
                "plan.yaml:17:19: error: vcpu-pin is missing required key 'vcpu'",
                "plan.yaml:18:19: error: vcpu-pin must be a mapping*",
                "plan.yaml:20:17: error: guest 'two' has no vCPU 5: its vCPUs are 0 to 1 (maxvcpus 2)",
                "plan.yaml:22:28: error: affinity is missing required key 'cpus'",
                "plan.yaml:22:38: error: unknown key 'cpu' in affinity*",
            ]
        ),
        DiagnosticExample(
            name: "disks: sizes, formats, too many, a detach with nothing attached",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                guests:
                  d: {type: pv, disks: [64, {size: 1G, format: vmdk}, {format: raw}]}
                  full: {type: pv, disks: [1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M, 1M]}
                cases:
                  - id: one
                    title: One
                    area: general
                    guest: full
                    steps:
                      - create:
                      - block-detach:
                      - block-attach: 1M
                      - block-attach: lots
                      - block-list: 2
                      - block-list:
                        expect: {count: 1}
                        retry-for: 5s
                """,
            expected: [
                "plan.yaml:4:25: error: disk size: '64' is not a memory size; write a number and M or G, such as 256M "
                    + "or 1G", "plan.yaml:4:48: error: disk format 'vmdk' is not one of: raw, qcow2",
                "plan.yaml:4:55: error: a disk is missing required key 'size'",
                "plan.yaml:13:9: error: block-detach detaches the disk the last block-attach added, and none was added "
                    + "before it",
                "plan.yaml:14:9: error: guest 'full' would have more than 16 disks with this block-attach",
                "plan.yaml:15:23: error: disk size: 'lots' is not a memory size*",
                "plan.yaml:16:21: error: 'block-list' takes no value; write '- block-list:'",
            ]
        ),
        DiagnosticExample(
            name: "for-each and host-health",
            yaml: """
                release: 4.3.0-rc6
                title: Fixture plan
                host-health:
                  benign-log: ['(unclosed']
                  ignored: []
                cases:
                  - id: one
                    title: One
                    area: general
                    for-each: {type: [pv]}
                    steps:
                      - pci-assignable-list:
                  - id: two
                    title: Two
                    area: general
                    guest: {type: pv}
                    for-each: {type: [pv, pv, xen], kind: [a]}
                    steps:
                      - create:
                  - id: three
                    title: Three
                    area: general
                    guest: {type: pv}
                    for-each: {type: []}
                    steps:
                      - create:
                """,
            expected: [
                "plan.yaml:4:16: error: '(unclosed' is not a valid regular expression: *",
                "plan.yaml:5:3: error: unknown key 'ignored' in host-health; did you mean 'ignore'?",
                "plan.yaml:10:15: error: for-each varies the case's guest, and case 'one' has no 'guest'",
                "plan.yaml:17:27: error: guest type 'pv' is listed twice in for-each",
                "plan.yaml:17:31: error: guest type 'xen' is not one of: pv, pvh, hvm",
                "plan.yaml:17:37: error: unknown key 'kind' in for-each; expected one of: type",
                "plan.yaml:24:22: error: for-each type lists no guest types; write for example [pv, pvh, hvm]",
            ]
        ),
    ]

    @Test(arguments: examples) func reportsExactly(_ example: DiagnosticExample) throws {
        let outcome = try loadPlanText(example.yaml)
        #expect(outcome.plan == nil, "a plan with errors must not load")
        expectLines(outcome.lines, example.expected)
    }

    /// Every problem of a larger broken file is reported in one load, in source order.
    @Test func reportsEveryProblemOfAFileAtOnce() throws {
        let outcome = try loadFixturePlan("invalid/many-problems.yaml")
        #expect(outcome.plan == nil)
        let file = "invalid/many-problems.yaml"
        let expected = [
            "\(file):4:1: error: unknown key 'sumary' in the plan; did you mean 'summary'?",
            "\(file):8:12: error: vcpus (4) must not be more than maxvcpus (2)",
            "\(file):12:13: error: memory: '256' is not a memory size; write a number and M or G, such as 256M or 1G",
            "\(file):16:9: error: case id 'Create-Destroy' is not a valid name: use lowercase letters, digits and '-', "
                + "starting with a letter", "\(file):19:12: error: unknown guest 'smal'; did you mean 'small'?",
            "\(file):25:11: error: area 'cpu hotplug' is not a valid name: use lowercase letters, digits and '-', "
                + "starting with a letter", "\(file):28:9: error: a step needs an action: one of create, *, cd-eject",
            "\(file):28:9: error: unknown key 'crate' in a step; did you mean 'create'?",
            "\(file):29:9: error: step 'vcpu-set' acts on the guest before a 'create' step",
            "\(file):31:19: error: vcpu-set 9 is more than guest 'small' allows (maxvcpus 1); raise maxvcpus, or "
                + "expect it to fail with 'expect: {fails-matching: ...}'",
            "\(file):33:9: error: step 'pause' acts on the guest after the guest was destroyed or shut down",
            "\(file):35:18: error: 'list' cannot expect 'count'; 'list' can expect: fails-matching, state, memory",
            "\(file):38:13: error: link must be an http(s) URL, not 'xen-devel, June 2013'",
            "\(file):42:14: error: timeout: '30' is not a duration; write a number and a unit: 500ms, 30s, 2m, 1h",
            "\(file):45:5: error: duplicate case id 'cpu-hotplug-add'; first defined at \(file):23:5",
        ]
        expectLines(outcome.lines, expected)
    }

    @Test func missingPlanFileIsADiagnostic() throws {
        let directory = try ScratchDirectory()
        let outcome = LoadOutcome(path: directory.path + "/absent.yaml", stripping: directory.path)
        #expect(outcome.plan == nil)
        #expect(outcome.lines.count == 1)
        #expect(outcome.lines.first?.hasPrefix("absent.yaml: error: cannot read file") == true, "\(outcome.lines)")
    }

    @Test func unknownPlanNameListsWhereItLooked() throws {
        #expect { try PlanLoader().load(nameOrPath: "no-such-plan-here") } throws: { error in
            guard let error = error as? DiagnosticsError, error.diagnostics.count == 1 else { return false }
            let message = error.diagnostics[0].description
            return message.hasPrefix("no-such-plan-here: error: no plan 'no-such-plan-here': give a path, or a name")
                && message.contains("testplans/") && message.contains("rc6")
        }
        #expect(PlanLoader.resolve("testplans/does-not-exist.yaml") == nil)
        #expect(PlanLoader.resolve(Fixtures.realPlan("rc6")) == Fixtures.realPlan("rc6"))
    }

    @Test func warningsDoNotStopAPlan() throws {
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Fixture plan
            guests:
              small:
                type: pv
            cases:
              - id: one
                title: One
                area: lifecycle
                guest: small
                timeout: 1m
                steps:
                  - create:
                  - destroy:
            """
        )
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        #expect(plan.cases.map(\.id) == ["one"])
        #expect(
            outcome.lines == ["plan.yaml:11:14: warning: the steps' timeouts add up to 150s, more than the case's 1m"]
        )
    }
}
