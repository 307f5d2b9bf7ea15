import Foundation
import Synchronization
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// A command runner that records each argv and answers from a handler, for code whose commands are checked by
/// their argv (nothing is run).
final class RecordingCommandRunner: CommandRunner {
    let calls = Mutex<[[String]]>([])
    let handler: @Sendable ([String]) -> CommandResult

    init(_ handler: @escaping @Sendable ([String]) -> CommandResult) { self.handler = handler }

    var description: String { "recording" }

    func run(_ argv: [String], timeout: PlanDuration, input: String?) async throws -> CommandResult {
        calls.withLock { $0.append(argv) }
        return handler(argv)
    }

    var argvs: [[String]] { calls.withLock { $0 } }

    static func result(_ argv: [String], status: Int32 = 0, stdout: String = "", stderr: String = "") -> CommandResult {
        CommandResult(argv: argv, status: status, stdout: stdout, stderr: stderr, durationSeconds: 0, timedOut: false)
    }
}

@Suite("Lab: the emulated machine, its host file and state") struct LabTests {
    let paths = LabPaths(root: "/var/tmp/xentest-lab-test")

    /// The value of the option after `flag` at each place it appears.
    func values(of flag: String, in argv: [String]) -> [String] {
        argv.indices.filter { argv[$0] == flag && $0 + 1 < argv.count }.map { argv[$0 + 1] }
    }

    @Test("QEMU: software emulation, q35 with an emulated IOMMU, and a CPU with HAP but without SMAP and RDTSCP")
    func machine() {
        let argv = LabMachine(paths: paths, sshPort: 42022).argv
        #expect(argv.first == "qemu-system-x86_64")
        #expect(values(of: "-accel", in: argv) == ["tcg"])
        #expect(values(of: "-M", in: argv) == ["q35"])
        #expect(values(of: "-device", in: argv).contains("intel-iommu,intremap=on,caching-mode=on"))
        #expect(values(of: "-cpu", in: argv) == ["max,-smap,-rdtscp,-avx,-avx2,-fma,-f16c,-vaes,-vpclmulqdq"])
        #expect(argv.contains("-daemonize"))
        #expect(values(of: "-pidfile", in: argv) == [paths.pidFile])
        #expect(values(of: "-serial", in: argv) == ["file:" + paths.serialLog])
        #expect(values(of: "-kernel", in: argv) == [paths.xen])
        #expect(
            values(of: "-initrd", in: argv) == [
                "\(paths.kernel) console=hvc0 earlyprintk=xen loglevel=6,\(paths.dom0Ramdisk)"
            ]
        )
        let xen = values(of: "-append", in: argv).first ?? ""
        #expect(xen.contains("iommu=1") && xen.contains("dom0_mem=768M,max:768M") && xen.contains("console=com1"))
        // 2 CPUs running, 4 possible: libvirt's libxl driver allows no more live vCPUs than the possible ones (rc6
        // hot-adds up to 4), and more running CPUs than this machine's cores slow everything down.
        #expect(values(of: "-smp", in: argv) == ["2,maxcpus=4"] && xen.contains("dom0_max_vcpus=2 "))
        #expect(argv.contains("-nodefaults"), "no default NIC or VGA: every device is one listed here")
    }

    @Test("QEMU networks: SSH forwarded from 127.0.0.1 only, restrict=on, the spare NIC on an internal hub")
    func networks() throws {
        let argv = LabMachine(paths: paths, sshPort: 42022).argv
        let netdevs = values(of: "-netdev", in: argv)
        #expect(netdevs.count == 3)
        // The only user-mode network: restricted, one forward, from the host's loopback to dom0's SSH.
        let user = netdevs.filter { $0.hasPrefix("user,") }
        #expect(user == ["user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:42022-:22"])
        // Everything else is a port of hub 1, which has no uplink: no tap, bridge, socket or second user network.
        let others = netdevs.filter { !$0.hasPrefix("user,") }
        #expect(others == ["hubport,id=spare,hubid=1", "hubport,id=dom0hub,hubid=1"])
        let hostForwards = argv.joined(separator: " ").components(separatedBy: "hostfwd=").count - 1
        #expect(hostForwards == 1)
        #expect(!argv.contains { $0.contains("guestfwd") || $0.contains("0.0.0.0") || $0.hasPrefix("tap") })
        let devices = values(of: "-device", in: argv)
        #expect(devices.contains { $0.hasPrefix("e1000,netdev=spare,addr=04.0,") }, "the passthrough NIC is 00:04.0")
        #expect(devices.contains { $0.hasPrefix("e1000,netdev=dom0hub,addr=05.0,") })
        #expect(devices.contains { $0.hasPrefix("e1000,netdev=mgmt,addr=02.0,") })
        #expect(LabLayout.passthroughDevice == "0000:00:04.0")
    }

    @Test("QEMU starts through start-stop-daemon, which closes inherited descriptors; the argv is otherwise the same")
    func launch() {
        var machine = LabMachine(paths: paths, sshPort: 42022)
        machine.qemu = "/usr/bin/qemu-system-x86_64"
        let launch = machine.launchArgv
        #expect(Array(launch.prefix(3)) == ["start-stop-daemon", "--start", "--quiet"])
        #expect(launch.contains("--background") && !launch.contains("--no-close") && !launch.contains("-C"))
        #expect(values(of: "--exec", in: launch) == ["/usr/bin/qemu-system-x86_64"])
        #expect(values(of: "--pidfile", in: launch) == [paths.pidFile])
        #expect(values(of: "--output", in: launch) == [paths.qemuLog])
        let separator = try! #require(launch.firstIndex(of: "--"))
        #expect(Array(launch[(separator + 1)...]) == Array(machine.argv.dropFirst()))
    }

    @Test("a lab folder with a comma or space is refused (QEMU's -initrd splits on them)") func unusableFolder() {
        #expect(LabMachine.unusableLabDirectory(LabPaths(root: "/tmp/a b")) != nil)
        #expect(LabMachine.unusableLabDirectory(LabPaths(root: "/tmp/a,b")) != nil)
        #expect(LabMachine.unusableLabDirectory(LabPaths(root: "/tmp/lab")) == nil)
        #expect(LabPaths(root: "/tmp/lab/").root == "/tmp/lab")
        #expect(LabPaths(root: "relative").root.hasPrefix("/"))
    }

    @Test("a free port on 127.0.0.1 is one that can be bound") func freePort() throws {
        let port = try LabMachine.freeLoopbackPort()
        #expect((1024...65535).contains(port))
    }

    @Test("the host file it writes validates, with the rc6 plan, and names what the lab offers") func hostFile() throws
    {
        let directory = try ScratchDirectory()
        let lab = Lab(paths: LabPaths(root: directory.path))
        try lab.writeHostFile()
        let host = try HostConfig.load(path: lab.paths.hostFile)
        #expect(host.pciDevices["nic"]?.address.description == "0000:00:04.0")
        #expect(host.pciDevices.count == 1)
        #expect(host.bridge == "xenbr0")
        #expect(host.hostAddress == "10.0.0.1" && host.guestAddress == "10.0.0.2")
        #expect(host.guestKernel == "/var/lib/xentest/guest/vmlinuz")
        #expect(host.guestRamdisk == "/var/lib/xentest/guest/initrd.gz")
        #expect(host.guestCommandLine == "xentest.ip=10.0.0.2/24")
        // What `xentest validate rc6 --host-config` checks: the plan loads and the host file has no problems.
        _ = try PlanLoader().load(path: Fixtures.realPlan("rc6"))
    }

    @Test("state file round trip") func stateRoundTrip() throws {
        let directory = try ScratchDirectory()
        let lab = LabPaths(root: directory.path)
        let state = LabState(
            pid: 4242,
            sshPort: 40123,
            startedAt: Date(timeIntervalSince1970: 1_790_000_000),
            bootSeconds: 9.5,
            labDirectory: lab.root,
            qemuArgv: LabMachine(paths: lab, sshPort: 40123).argv
        )
        try state.save(path: lab.stateFile)
        #expect(LabState.load(path: lab.stateFile) == state)
        #expect(LabState.load(path: lab.root + "/nothing.json") == nil)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: lab.stateFile))
        #expect(LabState.load(path: lab.stateFile) == nil)
        if case .stopped(let note) = Lab(paths: lab).status() {
            #expect(note?.contains("cannot be read") == true)
        } else {
            Issue.record("an unreadable state file is not a running lab")
        }
    }

    @Test("a pid counts as the lab's QEMU only with a qemu-system program and this lab's pidfile") func ownership()
        throws
    {
        let proc = try ScratchDirectory()
        let lab = LabPaths(root: "/tmp/xentest-lab-one")
        func process(_ pid: Int32, _ argv: [String], state: String = "S (sleeping)") throws {
            try proc.write(argv.joined(separator: "\u{0}") + "\u{0}", to: "\(pid)/cmdline")
            try proc.write("Name:\tx\nState:\t\(state)\n", to: "\(pid)/status")
        }
        try process(100, ["/usr/bin/qemu-system-x86_64", "-name", "xentest-lab", "-pidfile", lab.pidFile])
        try process(101, ["/usr/bin/qemu-system-x86_64", "-pidfile", "/tmp/xentest-lab-two/run/qemu.pid"])
        try process(102, ["/usr/bin/sleep", lab.pidFile])
        try process(103, ["qemu-system-x86_64", "-pidfile", lab.pidFile], state: "Z (zombie)")
        #expect(LabProcess.ownership(pid: 100, paths: lab, procRoot: proc.path) == .ours)
        #expect(LabProcess.ownership(pid: 101, paths: lab, procRoot: proc.path) != .ours, "another lab's QEMU")
        #expect(LabProcess.ownership(pid: 102, paths: lab, procRoot: proc.path) != .ours, "not QEMU")
        #expect(LabProcess.ownership(pid: 103, paths: lab, procRoot: proc.path) == .gone)
        #expect(LabProcess.ownership(pid: 999, paths: lab, procRoot: proc.path) == .gone)
        #expect(LabProcess.ownership(pid: 0, paths: lab, procRoot: proc.path) == .gone)
    }

    @Test("status and down refuse a live pid that is not the lab's QEMU, and down leaves it running")
    func refusesForeignProcess() async throws {
        let directory = try ScratchDirectory()
        let lab = Lab(paths: LabPaths(root: directory.path))
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        // Off the test's output, and killed with SIGKILL: a child started from a Dispatch thread inherits its
        // blocked signals, so SIGTERM would not end it and it would hold swift-test's output for a minute.
        sleeper.standardOutput = FileHandle.nullDevice
        sleeper.standardError = FileHandle.nullDevice
        try sleeper.run()
        defer {
            kill(sleeper.processIdentifier, SIGKILL)
            sleeper.waitUntilExit()
        }
        let pid = sleeper.processIdentifier
        // A state file whose pid is now some other process (a recycled pid, say).
        try LabState(pid: pid, sshPort: 1, startedAt: Date(), labDirectory: lab.paths.root, qemuArgv: [])
            .save(path: lab.paths.stateFile)
        guard case .stopped(let note) = lab.status() else {
            Issue.record("status called a sleep process the lab's QEMU")
            return
        }
        #expect(note?.contains("no longer this lab's QEMU") == true, "pid \(pid): \(note ?? "no note")")
        #expect(lab.describe(lab.status()).hasPrefix("stopped"))
        let report = try await lab.down()
        guard case .notRunning(let downNote) = report else {
            Issue.record("down claims to have stopped pid \(pid): \(report)")
            return
        }
        #expect(downNote?.contains("left alone") == true, "pid \(pid): \(downNote ?? "no note")")
        #expect(sleeper.isRunning && kill(pid, 0) == 0, "the process is untouched")
        #expect(!FileManager.default.fileExists(atPath: lab.paths.run), "the stale state is removed")
    }

    @Test("down with nothing running says so; status of a fresh folder is stopped") func downWhenStopped() async throws
    {
        let directory = try ScratchDirectory()
        let lab = Lab(paths: LabPaths(root: directory.path))
        #expect(lab.status() == .stopped(note: nil))
        #expect(try await lab.down() == .notRunning(note: nil))
    }

    @Test("status of a running lab says how to reach it") func describeRunning() {
        let lab = Lab(paths: paths)
        let started = Date(timeIntervalSince1970: 1_790_000_000)
        let state = LabState(
            pid: 77,
            sshPort: 40123,
            startedAt: started,
            bootSeconds: 9.84,
            labDirectory: paths.root,
            qemuArgv: []
        )
        let text = lab.describe(.running(state), now: started.addingTimeInterval(125))
        #expect(text.hasPrefix("running: QEMU pid 77, SSH on 127.0.0.1:40123, up 2m 5s, booted in 9.8 s\n"))
        #expect(
            text.contains("ssh -i \(paths.clientKey) -o UserKnownHostsFile=\(paths.knownHosts) -p 40123 root@127.0.0.1")
        )
        let ssh = lab.sshRunner(port: 40123)
        #expect(ssh.port == 40123 && ssh.host == "127.0.0.1" && ssh.user == "root")
        #expect(ssh.identityFile == paths.clientKey && ssh.knownHostsFile == paths.knownHosts)
    }

    @Test("the lab's known_hosts names dom0's host key for 127.0.0.1 at the lab's port") func knownHosts() throws {
        let directory = try ScratchDirectory()
        let lab = Lab(paths: LabPaths(root: directory.path))
        try directory.write(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiG0vGBxoA9pkHPP60Wx630zasr86y639n8p4 xentest-lab-dom0\n",
            to: "ssh/host_ed25519.pub"
        )
        try lab.writeKnownHosts(port: 40123)
        let text = try String(contentsOfFile: lab.paths.knownHosts, encoding: .utf8)
        #expect(
            text == "[127.0.0.1]:40123 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiG0vGBxoA9pkHPP60Wx630zasr86y639n8p4\n"
        )
    }

    @Test("errors say what to do: QEMU missing, packages not downloadable, a boot timeout shows 30 lines") func errors()
    {
        #expect(
            LabError.qemuMissing("qemu-system-x86_64").message
                .contains("apt-get install -y --no-install-recommends qemu-system-x86")
        )
        let apt = LabError.packagesNotDownloadable(
            ["xen-utils-4.17"],
            detail: "E: Unable to locate package xen-utils-4.17"
        )
        #expect(apt.message.contains("xen-utils-4.17") && apt.message.contains("apt-get update"))
        let log = (1...100).map { "line \($0)" }.joined(separator: "\r\n") + "\r\n"
        let tail = Lab.tail(log)
        #expect(tail.split(separator: "\n").count == 30)
        #expect(tail.hasPrefix("line 71") && tail.hasSuffix("line 100") && !tail.contains("\r"))
    }

    @Test("the image recipe changes when a script changes, so cached images are rebuilt") func recipe() {
        #expect(LabImages.recipe == LabImages.recipe)
        #expect(LabImages.recipe.count >= 8)
        #expect(LabImages.dom0Init.contains("xenconsoled --pid-file=/run/xenconsoled.pid --log=guest"))
        #expect(LabImages.dom0Init.contains(LabLayout.dom0ReadyMarker))
        #expect(LabImages.dom0Init.contains("10.0.0.1/24 dev xenbr0"))
        #expect(LabImages.dom0Init.contains("ln -sf /proc/self/fd/0 /dev/stdin"), "hotplug locking needs /dev/stdin")
        #expect(!LabImages.dom0Init.contains("default via"), "no default route out of dom0")
    }
}

@Suite("Lab: Debian packages, ELF files, kernel modules, initramfs trees") struct LabImageBuildingTests {
    @Test("apt-cache depends: first alternatives, providers of virtual packages, no duplicates") func depends() {
        let text = """
            xen-utils-common
             |Depends: sysvinit-utils
              Depends: lsb-base
                sysvinit-utils
              Depends: libc6
              Depends: <python3:any>
                python3
              Depends: libxenstore4
              Depends: libc6
            iproute2
             |Depends: debconf
              Depends: <debconf-2.0>
                cdebconf
                debconf
              PreDepends: libbpf1
              Recommends: libatm1
            busybox-static
            """
        let parsed = DebianPackageCache.parseDepends(text)
        #expect(parsed["xen-utils-common"] == ["sysvinit-utils", "libc6", "python3", "libxenstore4"])
        #expect(parsed["iproute2"] == ["debconf", "libbpf1"])
        #expect(parsed["busybox-static"] == [])
        #expect(DebianPackageCache.isLibraryPackage("libxenstore4") && DebianPackageCache.isLibraryPackage("zlib1g"))
        #expect(
            !DebianPackageCache.isLibraryPackage("libaudit-common") && !DebianPackageCache.isLibraryPackage("python3")
        )
    }

    @Test("packages: downloaded with apt-get download in the cache, unpacked with dpkg-deb -x, each once") func fetch()
        async throws
    {
        let cache = try ScratchDirectory()
        let runner = RecordingCommandRunner { argv in
            if argv.starts(with: ["env", "-C"]), let debs = argv.dropFirst(2).first {
                for name in argv.drop(while: { $0 != "APT::Sandbox::User=root" }).dropFirst() {
                    _ = FileManager.default.createFile(
                        atPath: "\(debs)/\(name)_1.0-1_amd64.deb",
                        contents: Data("deb".utf8)
                    )
                }
            }
            if argv.first == "dpkg-deb", let root = argv.last {
                try? FileManager.default.createDirectory(atPath: root + "/usr/bin", withIntermediateDirectories: true)
            }
            return RecordingCommandRunner.result(argv)
        }
        let packages = DebianPackageCache(root: cache.path, runner: runner)
        let trees = try await packages.fetch(["bash", "sed"])
        #expect(trees.map(\.name) == ["bash", "sed"])
        #expect(trees.map(\.file) == ["bash_1.0-1_amd64.deb", "sed_1.0-1_amd64.deb"])
        #expect(trees[0].root == cache.path + "/unpacked/bash_1.0-1_amd64")
        #expect(
            runner.argvs == [
                [
                    "env", "-C", cache.path + "/debs", "apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
                    "bash", "sed",
                ], ["dpkg-deb", "-x", cache.path + "/debs/bash_1.0-1_amd64.deb", trees[0].root],
                ["dpkg-deb", "-x", cache.path + "/debs/sed_1.0-1_amd64.deb", trees[1].root],
            ]
        )
        _ = try await packages.fetch(["bash", "sed"])
        #expect(runner.argvs.count == 3, "cached: nothing downloaded or unpacked again")
    }

    @Test("a package apt cannot download is an error naming it and what to do") func notDownloadable() async throws {
        let cache = try ScratchDirectory()
        let runner = RecordingCommandRunner { argv in
            RecordingCommandRunner.result(argv, status: 100, stderr: "E: Unable to locate package xen-utils-9.99\n")
        }
        let packages = DebianPackageCache(root: cache.path, runner: runner)
        await #expect { _ = try await packages.fetch(["xen-utils-9.99"]) } throws: { error in
            let message = (error as? LabError)?.message ?? ""
            return message.contains("xen-utils-9.99") && message.contains("E: Unable to locate package")
                && message.contains("apt-get update")
        }
    }

    @Test("library closure follows lib* dependencies only, through apt-cache depends") func libraryClosure()
        async throws
    {
        let runner = RecordingCommandRunner { argv in
            let answers = [
                "xen-utils-4.17":
                    "  Depends: libc6\n  Depends: libxenstore4\n  Depends: python3\n  Depends: xen-utils-common\n",
                "libxenstore4": "  Depends: libc6\n", "libc6": "  Depends: libgcc-s1\n",
                "libgcc-s1": "  Depends: gcc-12-base\n",
            ]
            let text = argv.filter { answers[$0] != nil }.map { $0 + "\n" + answers[$0]! }.joined()
            return RecordingCommandRunner.result(argv, stdout: text)
        }
        let packages = DebianPackageCache(root: "/nonexistent", runner: runner)
        let all = try await packages.withLibraryDependencies(["xen-utils-4.17"])
        #expect(all == ["libc6", "libgcc-s1", "libxenstore4", "xen-utils-4.17"])
        #expect(runner.argvs.allSatisfy { $0.starts(with: ["apt-cache", "depends", "--no-recommends"]) })
    }

    @Test("a package tree resolves absolute links inside itself, never on the host") func packageTreeLinks() throws {
        let directory = try ScratchDirectory()
        try directory.write("real", to: "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        try FileManager.default.createDirectory(atPath: directory.path + "/lib64", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/lib64/ld-linux-x86-64.so.2",
            withDestinationPath: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        )
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/etc-passwd",
            withDestinationPath: "/etc/passwd"
        )
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/relative",
            withDestinationPath: "lib64/../lib"
        )
        let tree = PackageTree(name: "libc6", file: "libc6.deb", root: directory.path)
        #expect(
            tree.resolve("/lib64/ld-linux-x86-64.so.2") == directory.path + "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        )
        #expect(
            tree.resolve("/etc-passwd") == nil,
            "an absolute link points into the tree, where there is no /etc/passwd"
        )
        #expect(tree.resolve("/relative/x86_64-linux-gnu") == directory.path + "/lib/x86_64-linux-gnu")
        #expect(!tree.contains("/missing"))
    }

    #if arch(x86_64) && os(Linux)
    @Test("ELF: a dynamic program's interpreter and libraries, read from the file") func elfProgram() throws {
        let elf = try #require(try ELFFile.read(path: "/usr/bin/env"))
        #expect(elf.interpreter == "/lib64/ld-linux-x86-64.so.2")
        #expect(elf.needed.contains("libc.so.6"))
        #expect(try ELFFile.read(path: "/etc/passwd") == nil, "not ELF")
    }
    #endif

    @Test("ELF: a truncated file is an error, not a crash") func elfTruncated() {
        var bytes = [UInt8](repeating: 0, count: 80)
        bytes.replaceSubrange(0..<6, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1])
        bytes[0x20] = 0xFF  // program headers far past the end
        bytes[0x38] = 1
        #expect(throws: ELFFile.Unreadable.self) { try ELFFile.parse(Data(bytes)) }
        #expect(throws: ELFFile.Unreadable.self) {
            try ELFFile.parse(Data([0x7F, 0x45, 0x4C, 0x46, 1, 1] + [UInt8](repeating: 0, count: 60)))
        }
    }

    /// A fake `lib/modules/VERSION` folder with an installed kernel's modules.dep.
    func fakeModules(in directory: ScratchDirectory) throws -> KernelModules {
        let base = "lib/modules/6.1.0-9-amd64"
        for file in [
            "kernel/net/bridge/bridge.ko", "kernel/net/802/stp.ko", "kernel/net/llc/llc.ko",
            "kernel/drivers/net/e1000.ko",
        ] { try directory.write("ko", to: base + "/" + file) }
        try directory.write(
            """
            kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
            kernel/net/802/stp.ko: kernel/net/llc/llc.ko
            kernel/net/llc/llc.ko:
            kernel/drivers/net/e1000.ko:

            """,
            to: base + "/modules.dep"
        )
        try directory.write("kernel/drivers/net/xen-netfront.ko\n", to: base + "/modules.builtin")
        return try KernelModules(directory: directory.path + "/" + base)
    }

    @Test("modules: dependencies first, depmod's modules.dep, built-in and absent ones told apart") func modules()
        throws
    {
        let directory = try ScratchDirectory()
        let modules = try fakeModules(in: directory)
        let selection = try modules.select(["bridge", "xen-netfront", "e1000", "virtio_net"], optional: true)
        #expect(
            selection.files == [
                "kernel/net/llc/llc.ko", "kernel/net/802/stp.ko", "kernel/net/bridge/bridge.ko",
                "kernel/drivers/net/e1000.ko",
            ]
        )
        #expect(selection.builtin == ["xen-netfront"])
        #expect(selection.absent == ["virtio_net"])
        #expect(
            selection.modulesDep == """
                kernel/net/llc/llc.ko:
                kernel/net/802/stp.ko: kernel/net/llc/llc.ko
                kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
                kernel/drivers/net/e1000.ko:

                """
        )
        #expect(throws: LabError.self) { try modules.select(["virtio_net"], optional: false) }
    }

    @Test("kernels: version from the image name; modules beside an unpacked tree's image; the newest in /boot")
    func kernels() throws {
        #expect(TestGuestBuilder.kernelVersion(fromImage: "/boot/vmlinuz-6.1.0-27-amd64") == "6.1.0-27-amd64")
        #expect(TestGuestBuilder.kernelVersion(fromImage: "/srv/bzImage") == nil)
        let root = try ScratchDirectory()
        for version in ["6.1.0-9-amd64", "6.1.0-27-amd64", "6.1.0-30-amd64"] {
            try root.write("kernel", to: "boot/vmlinuz-\(version)")
        }
        for version in ["6.1.0-9-amd64", "6.1.0-27-amd64"] {
            try root.write("ko", to: "lib/modules/\(version)/kernel/x.ko")
        }
        let host = try #require(TestGuestBuilder.newestHostKernel(root: root.path))
        #expect(host.version == "6.1.0-27-amd64", "numeric order, and only a kernel that has modules")
        #expect(host.modulesDirectory == root.path + "/lib/modules/6.1.0-27-amd64")
        #expect(
            TestGuestBuilder.modulesDirectory(
                forImage: root.path + "/boot/vmlinuz-6.1.0-9-amd64",
                version: "6.1.0-9-amd64"
            ) == root.path + "/lib/modules/6.1.0-9-amd64"
        )
        #expect(TestGuestBuilder.newestHostKernel(root: root.path + "/nothing") == nil)
    }
}
