import XentestPlan
import XentestXLParsing
import XentestRun
import XentestSupport
/// Renders a plan as Markdown test instructions, with the commands a tester would type by hand: what the
/// TestDay wiki page of instructions used to be.
public enum PlanInstructionsRenderer {
    /// The instructions; `host` fills in devices, bridge and guest files where the tester has a host file.
    ///
    /// `runAs` is what the tester types to name the plan (`PlanLoader.commandLineName(of:)`: a path for a plan
    /// outside the plan folders); the plan's name when not given. `hostFile` is the host file as the tester named it
    /// (`--host-config`), for the command that runs the same plan with it.
    public static func render(
        _ plan: Plan,
        host: HostConfig = .empty(source: "none"),
        runAs: String? = nil,
        hostFile: String? = nil
    ) -> String {
        var out: [String] = []
        out.append("# \(plan.title)")
        out.append("")
        out.append(
            "Release under test: **\(plan.release)**. Plan `\(plan.name)`: \(plan.cases.count) cases in "
                + "\(plan.areas.count) areas (\(plan.areas.joined(separator: ", ")))."
        )
        if let summary = plan.summary { out += ["", summary.trimmingCharacters(in: .whitespacesAndNewlines)] }
        out += [
            "", "## Before you start", "",
            "- Run the commands as root in dom0. Every guest is named `xentest-CASE`; destroy it if a case stops "
                + "half-way (`xl destroy xentest-CASE`).",
            hostFile.map {
                "- The PCI device for each role, the bridge and the test guest's files are your host file's ("
                    + "`\($0)`)."
            }
                ?? ("- Values in CAPITALS come from your host file: the PCI device for each role, the bridge, the test "
                    + "guest's kernel and ramdisk (`xentest show \(runAs ?? plan.name) --host-config FILE` fills them in)."),
            "- Or let xentest do all of this: `xentest run \(runAs ?? plan.name)"
                + (hostFile.map { " --host-config \($0)" } ?? " --host-config FILE") + "`.",
        ]
        for area in plan.areas {
            out += ["", "## \(area)"]
            for testCase in plan.cases where testCase.area == area { out += [""] + renderCase(testCase, host: host) }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func renderCase(_ testCase: TestCase, host: HostConfig) -> [String] {
        var out = ["### \(testCase.title)", ""]
        var facts = ["id `\(testCase.id)`", "runs on " + testCase.backends.map(\.rawValue).joined(separator: " and ")]
        if !testCase.tags.isEmpty { facts.append("tags: " + testCase.tags.joined(separator: ", ")) }
        out.append(facts.joined(separator: "; ") + ".")
        if !testCase.requirements.isEmpty {
            out.append("Needs: " + testCase.requirements.map { "`\($0)`" }.joined(separator: ", ") + ".")
        }
        if let description = testCase.description {
            out += ["", description.trimmingCharacters(in: .whitespacesAndNewlines)]
        }
        for issue in testCase.knownIssues {
            var line = "> **Known issue**: \(issue.summary)"
            var scope: [String] = []
            if let xen = issue.xen { scope.append("Xen \(xen)") }
            if !issue.backends.isEmpty {
                scope.append("backend " + issue.backends.map(\.rawValue).joined(separator: ", "))
            }
            if !issue.drivers.isEmpty {
                scope.append("driver " + issue.drivers.map(\.rawValue).joined(separator: ", "))
            }
            if !scope.isEmpty { line += " (applies to \(scope.joined(separator: "; ")))" }
            if let link = issue.link { line += " [\(link)](\(link))" }
            let failure = issue.failureMatches.map { "A failure matching `\($0.source)`" } ?? "A failure here"
            out += ["", line + ". \(failure) is expected (xfail); a pass is news (xpass)."]
        }
        // Each guest as the run names it, without the run id: `xentest-CASE`, then `xentest-CASE-GUEST`.
        var contexts: [String: XLStepContext] = [:]
        for (index, spec) in testCase.guests.enumerated() {
            let domainName = "xentest-\(testCase.id)" + (index == 0 ? "" : "-" + spec.name)
            let guest = GuestInstance(domainName: domainName, spec: spec, host: host.forGuest(index))
            let configPath = "\(domainName).cfg"
            if let role = spec.fromHost {
                out += ["", ownGuestInstructions(role, domainName: domainName, configPath: configPath, host: host)]
                contexts[spec.name] = XLStepContext(
                    guest: guest,
                    host: guest.host,
                    configPath: configPath,
                    ignoreHostCPUCount: false
                )
                continue
            }
            var images = spec.disks.enumerated()
                .map { index, disk in
                    "`" + imageCommand(disk, at: guest.diskImagePath(index, disk.format, in: nil)) + "`"
                }
            if let size = spec.cdrom {
                images.append("`" + imageCommand(CDROMMedium.image(size), at: guest.cdMediumPath(0, in: nil)) + "`")
            }
            if !images.isEmpty {
                out += ["", "Make \(domainName)'s disk images: " + images.joined(separator: ", ") + "."]
            }
            let config = XLConfigRenderer.render(guest, imageDirectory: nil).trimmingSuffixNewline()
            out += ["", "Write `\(configPath)`:", "", "```", config, "```"]
            contexts[spec.name] = XLStepContext(
                guest: guest,
                host: guest.host,
                configPath: configPath,
                ignoreHostCPUCount: false
            )
        }
        let peers = contexts.compactMapValues(\.guest)
        let first = testCase.guest?.name ?? ""
        let hostOnly = XLStepContext(guest: nil, host: host, configPath: "GUEST.cfg", ignoreHostCPUCount: false)
        out += ["", "Steps:", ""]
        for (index, step) in testCase.steps.enumerated() {
            let name = step.guest ?? first
            var context = contexts[name] ?? hostOnly
            context.peers = peers
            var line =
                "\(index + 1). " + instruction(for: step, context: context) + " Expect: " + expectationText(step) + "."
            if let retry = step.retryFor { line += " (Allow up to \(retry).)" }
            if let note = step.note { line += " " + note }
            out.append(line)
            if case .networkAttach = step.action { context.attachedNICs += 1 }
            if case .networkDetach = step.action { context.attachedNICs -= 1 }
            if case .blockAttach(let disk) = step.action { context.attachedDisks.append(disk) }
            if case .blockDetach = step.action { _ = context.attachedDisks.popLast() }
            if case .cdInsert = step.action { context.insertedMedia += 1 }
            if contexts[name] != nil { contexts[name] = context }
        }
        return out
    }

    static func instruction(for step: Step, context: XLStepContext) -> String {
        let name = context.guest?.domainName ?? "GUEST"
        if let command = XLCommand.forAction(step.action, context: context, timeout: step.timeout) {
            let bootID = "`cat /proc/sys/kernel/random/boot_id` in the guest's console"
            switch step.action {
            case .save: return "Note \(bootID), then `\(command)`."
            case .restore: return "`\(command)`; then \(bootID) shows the id noted before the save."
            case .migrate(let times):
                let repeated = times == 1 ? "" : ", \(times) times over"
                return "Note \(bootID), then `\(command)`\(repeated); after each, the same id."
            case .reboot: return "Note \(bootID), then `\(command)`; the guest comes back with a new id."
            case .blockAttach(let disk):
                let path = context.imagePath(context.diskCount, disk.format)
                return "`\(imageCommand(disk, at: path))`, then `\(command)`."
            case .blockList: return "`\(command)`, and `ls /sys/block` in the guest's console (its `xvd` disks)."
            case .cdInsert(let size):
                let image = imageCommand(CDROMMedium.image(size), at: context.mediumPath(context.insertedMedia + 1))
                return "`\(image)`, then `\(command)`; in the guest's console `\(CDROMMedium.probe)` shows "
                    + "`size=\(size.mebibytes * 2048)`."
            case .cdEject:
                return "`\(command)`; in the guest's console `\(CDROMMedium.probe)` says `No medium found` and "
                    + "`size=0`."
            default: return "`\(command)`."
            }
        }
        switch step.action {
        case .waitForState(let state): return "Watch `xl list \(name)` until the guest is \(state.rawValue)."
        case .waitForConsole(let pattern):
            return "Watch `xl console \(name)` (press Enter now and then; leave with Ctrl-]) until a line matches "
                + "`\(pattern.source)`."
        case .stayUp(let duration):
            return "Watch `xl list \(name)` for \(duration): the guest stays running (`r` or `b`) all along."
        case .ping(.guest) where context.guest?.spec.fromHost != nil:
            let address = context.guest?.spec.fromHost.flatMap { context.host.guests[$0]?.address }
            return "`ping -c 3 \(address ?? "GUEST_ADDRESS")` from dom0."
        case .guestExec(let command):
            return "In the guest's console (`xl console \(name)`, leave with Ctrl-]) run `\(command)`."
        case .ping(.guest): return "`ping -c 3 \(context.host.guestAddress ?? "GUEST_ADDRESS")` from dom0."
        case .ping(.host):
            return "In the guest's console run `ping -c 3 \(context.host.hostAddress ?? "HOST_ADDRESS")`."
        case .pingGuest(let peer):
            let address = context.peers[peer]?.host.guestAddress ?? "\(peer.uppercased())_ADDRESS"
            return "In \(name)'s console (`xl console \(name)`) run `ping -c 3 \(address)` (guest \(peer))."
        case .xenstoreRead(let path):
            let concrete = path.replacingOccurrences(of: "{domid}", with: "$(xl domid \(name))")
            return "`xenstore-read \(concrete)`."
        default: return "`\(step.action.label)`."
        }
    }

    /// How to copy the tester's own guest for `role` by hand, as the run does.
    static func ownGuestInstructions(_ role: String, domainName: String, configPath: String, host: HostConfig) -> String
    {
        let original: String
        switch host.guests[role]?.source {
        case .xlConfig(let path): original = "`\(path)`"
        case .libvirtDomain(let name): original = "the libvirt domain `\(name)` (xl needs an xl config)"
        case nil: original = "your config for role '\(role)' (`guests: {\(role): {xl-config: PATH}}` in the host file)"
        }
        return "Copy \(original) to `\(configPath)`: name it `\(domainName)`, remove its `uuid`, give each `vif` a "
            + "new `mac=`, and for each writable image disk make an overlay (`qemu-img create -f qcow2 -F raw -b "
            + "IMAGE \(domainName)-ownN.qcow2`) and use it instead (`format=qcow2,vdev=xvdN,access=rw,target=...`); "
            + "never start the original. A block-device disk cannot be overlaid: skip the case."
    }

    /// The command that makes a disk's empty image, as a tester types it.
    static func imageCommand(_ disk: DiskSpec, at path: String) -> String {
        DiskImages.makeCommand(disk, at: path).map(shellQuoted).joined(separator: " ")
    }

    static func expectationText(_ step: Step) -> String {
        switch (step.action, step.expectation) {
        case (.waitForState(let state), .succeeds): "it is \(state.rawValue) within \(step.timeout)"
        case (.ping, .succeeds): "replies come back"
        case (.blockList, .count(let count)): "\(count) disk\(count == 1 ? "" : "s"), in both"
        case (_, .state(.gone)): "the guest is no longer listed"
        default: step.expectation.description
        }
    }
}

extension String { func trimmingSuffixNewline() -> String { hasSuffix("\n") ? String(dropLast()) : self } }
