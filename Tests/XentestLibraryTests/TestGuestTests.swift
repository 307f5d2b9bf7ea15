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

/// Whether a program is on PATH.
func programExists(_ name: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
}

@Suite("Test guest: its init and initramfs") struct TestGuestTests {
    @Test("init: drivers, eth0 from xentest.ip, silent vCPU onlining, a restarted shell on the kernel's console")
    func initScript() {
        let script = TestGuestBuilder.initScript
        #expect(script.hasPrefix("#!/bin/busybox sh\n"))
        for module in ["xen-netfront", "xen-pcifront", "xen-blkfront", "e1000", "virtio_net", "button", "evdev"] {
            #expect(script.contains(module))
            #expect(TestGuestBuilder.modules.contains(module), "\(module) is also put into the initramfs")
        }
        #expect(script.contains("acpid -d </dev/null >/dev/null 2>&1 &"), "QEMU's power button powers off, silently")
        #expect(script.contains("xentest.ip=*) address=${word#xentest.ip=}"))
        #expect(script.contains("console=*) console=${word#console=}"), "hvc0 for PV and PVH, ttyS0 for HVM")
        #expect(script.contains(#"echo 1 > "$online""#))
        #expect(script.contains("exec </dev/null >/dev/null 2>&1"), "the background loop never prints")
        #expect(script.contains("uevent /sbin/xentest-uevent </dev/null >/dev/null 2>&1 &"))
        #expect(script.contains("dmesg -n 1"), "kernel messages stay off the console")
        #expect(script.contains("export PS1= PS2= ENV=/etc/xentest/console.sh"))
        #expect(script.contains("while :; do\n  setsid -c sh -i <>\"/dev/$console\" >&0 2>&1\n  sleep 1\ndone"))
        #expect(TestGuestBuilder.consoleScript.hasPrefix("stty -echo\n"))
        #expect(TestGuestBuilder.consoleScript.contains("echo XENTEST_GUEST_READY\n"))
        #expect(TestGuestBuilder.readyMarker == "XENTEST_GUEST_READY")
        #expect(TestGuestBuilder.ueventScript.contains(#"[ "$ACTION" = add ] && [ "$SUBSYSTEM" = cpu ]"#))
    }

    @Test("the host-file lines of a built guest") func hostFileLines() {
        let result = TestGuestBuilder.Result(
            kernel: "/var/lib/xentest/vmlinuz",
            ramdisk: "/var/lib/xentest/initrd.gz",
            source: GuestKernel(image: "/boot/vmlinuz-6.1", version: "6.1", modulesDirectory: nil, origin: "/boot"),
            modules: [],
            builtin: [],
            absent: [],
            ramdiskBytes: 0,
            seconds: 0
        )
        #expect(
            result.hostFileLines() == """
                guest-kernel: /var/lib/xentest/vmlinuz
                guest-ramdisk: /var/lib/xentest/initrd.gz
                guest-cmdline: xentest.ip=10.0.0.2/24

                """
        )
    }

    @Test(
        "the initramfs: init, poweroff -f, busybox, the kernel's modules with modules.dep, all owned by root",
        .enabled(if: programExists("cpio") && programExists("gzip"), "needs cpio and gzip")
    ) func ramdisk() async throws {
        let directory = try ScratchDirectory()
        try directory.write("#!/bin/sh\n# stands in for busybox\n", to: "busybox/bin/busybox")
        let busybox = PackageTree(
            name: "busybox-static",
            file: "busybox-static_1_amd64.deb",
            root: directory.path + "/busybox"
        )
        let base = "kernel-tree/lib/modules/6.1.0-9-amd64"
        try directory.write("ko", to: base + "/kernel/drivers/net/xen-netfront.ko")
        try directory.write("ko", to: base + "/kernel/drivers/net/e1000.ko")
        try directory.write(
            "kernel/drivers/net/xen-netfront.ko:\nkernel/drivers/net/e1000.ko:\n",
            to: base + "/modules.dep"
        )
        let kernel = GuestKernel(
            image: directory.path + "/kernel-tree/boot/vmlinuz-6.1.0-9-amd64",
            version: "6.1.0-9-amd64",
            modulesDirectory: directory.path + "/" + base,
            origin: "test"
        )
        let output = directory.path + "/out/initrd.gz"
        try FileManager.default.createDirectory(atPath: directory.path + "/out", withIntermediateDirectories: true)
        let built = try await TestGuestBuilder(packages: DebianPackageCache(root: directory.path + "/cache"))
            .buildRamdisk(kernel: kernel, busybox: busybox, staging: directory.path + "/staging", output: output)
        #expect(built.bytes > 0)
        #expect(built.modules.files == ["kernel/drivers/net/xen-netfront.ko", "kernel/drivers/net/e1000.ko"])
        #expect(built.modules.absent.contains("xen-pcifront"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/staging"), "the staging folder is removed")

        // Read it back as the kernel would: gunzip, then the cpio listing.
        let runner = LocalCommandRunner()
        let gunzip = try await runner.run(["gzip", "-d", "-k", output], timeout: .seconds(60))
        #expect(gunzip.succeeded)
        let listing = try await runner.run(
            ["cpio", "-itv", "--quiet", "-F", directory.path + "/out/initrd"],
            timeout: .seconds(60)
        )
        let lines = listing.stdout.split(separator: "\n")
        let names = Set(lines.compactMap { $0.split(separator: " ").last.map(String.init) })
        for name in [
            "init", "bin/busybox", "sbin/poweroff", "sbin/reboot", "etc/xentest/console.sh", "sbin/xentest-uevent",
            "etc/acpi/PWRF/00000080", "lib/modules/6.1.0-9-amd64/modules.dep",
            "lib/modules/6.1.0-9-amd64/kernel/drivers/net/e1000.ko",
        ] { #expect(names.contains(name), "\(name) in the initramfs") }
        #expect(lines.allSatisfy { $0.contains(" root ") }, "owned by root")
        #expect(lines.contains { $0.hasPrefix("-rwxr-xr-x") && $0.hasSuffix(" init") })

        try FileManager.default.createDirectory(atPath: directory.path + "/x", withIntermediateDirectories: true)
        let extract = try await runner.run(
            [
                "cpio", "-id", "--quiet", "-D", directory.path + "/x", "-F", directory.path + "/out/initrd",
                "sbin/poweroff",
            ],
            timeout: .seconds(60)
        )
        #expect(extract.succeeded)
        let poweroff = try String(contentsOfFile: directory.path + "/x/sbin/poweroff", encoding: .utf8)
        #expect(poweroff == "#!/bin/busybox sh\nexec /bin/busybox poweroff -f\n", "so that `xl shutdown -w` returns")
        #expect(
            lines.contains { $0.hasPrefix("-rwxr-xr-x") && $0.hasSuffix(" etc/acpi/PWRF/00000080") },
            "acpid runs it"
        )
    }
}
