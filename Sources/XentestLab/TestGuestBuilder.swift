import Foundation
import XentestBackends
import XentestPlan
import XentestRun
import XentestSupport

/// A kernel to boot a guest with, and the modules folder that belongs to it.
public struct GuestKernel: Sendable, Hashable {
    /// The kernel image on the host.
    public var image: String
    /// `6.1.0-27-amd64`.
    public var version: String
    /// `.../lib/modules/VERSION` on the host; nil when there is none (then only built-in drivers work).
    public var modulesDirectory: String?
    /// Where it came from, for messages: `/boot`, `--kernel`, or the Debian package.
    public var origin: String

    /// A kernel at `image`, of `version`, with its modules folder (if any) and where it came from.
    public init(image: String, version: String, modulesDirectory: String?, origin: String) {
        self.image = image
        self.version = version
        self.modulesDirectory = modulesDirectory
        self.origin = origin
    }
}

/// Builds the test guest that plans boot: a kernel plus a small busybox initramfs from Debian packages.
///
/// The guest's init (`initScript`) runs a shell on its console with echo off and no prompt, so that xentest can type
/// a command between markers and read back only its output; the shell prints `XENTEST_GUEST_READY` when it starts
/// reading (`consoleScript`). After that the console shows nothing by itself: kernel messages are kept off it, and
/// the background work (onlining hot-added vCPUs, configuring a late eth0) is silent.
public struct TestGuestBuilder: Sendable {
    /// Where busybox-static (and, without a host kernel, Debian's kernel) come from.
    public var packages: DebianPackageCache
    /// Runs cpio and gzip.
    public var runner: any CommandRunner
    /// Progress lines for a person (stderr in the CLI).
    public var progress: @Sendable (String) -> Void

    /// What the console shows when the guest is ready for commands.
    public static let readyMarker = "XENTEST_GUEST_READY"
    /// Where the files go when no folder is named.
    public static var defaultOutputDirectory: String { XentestCache.directory + "/guest" }
    /// The kernel command-line word that sets eth0's address (`xentest.ip=10.0.0.2/24`).
    public static let addressParameter = "xentest.ip"
    /// Drivers loaded at boot when the kernel has them as modules: Xen's paravirtual frontends, the emulated
    /// devices an HVM or QEMU guest may get (e1000 is also what a passed-through lab NIC needs; the IDE CD-ROM drive
    /// of `cdrom:` is `sr0` through ata_piix and sr_mod), and the ACPI power button with its input events, which is
    /// how QEMU (libvirt's virDomainShutdown) asks a guest to shut down.
    public static let modules = [
        "xen-netfront", "xen-blkfront", "xen-pcifront", "e1000", "virtio_pci", "virtio_net", "virtio_blk",
        "virtio_balloon", "ata_piix", "sr_mod", "button", "evdev",
    ]

    /// A builder that downloads from `packages` and runs its commands on this machine unless `runner` says otherwise.
    public init(
        packages: DebianPackageCache = DebianPackageCache(),
        runner: any CommandRunner = LocalCommandRunner(),
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.packages = packages
        self.runner = runner
        self.progress = progress
    }

    /// What a build made.
    public struct Result: Sendable, Hashable {
        /// The kernel, copied next to the ramdisk.
        public var kernel: String
        /// The initramfs (gzipped cpio).
        public var ramdisk: String
        /// Where the kernel came from.
        public var source: GuestKernel
        /// Module files in the initramfs.
        public var modules: [String]
        /// Requested drivers this kernel builds in.
        public var builtin: [String]
        /// Requested drivers this kernel has neither as a module nor built in.
        public var absent: [String]
        /// The size of the initramfs in bytes (gzipped).
        public var ramdiskBytes: Int
        /// How long the build took, in seconds.
        public var seconds: Double

        /// The host-file lines that point a plan at this guest.
        public func hostFileLines(address: String = "10.0.0.2/24") -> String {
            """
            guest-kernel: \(kernel)
            guest-ramdisk: \(ramdisk)
            guest-cmdline: \(TestGuestBuilder.addressParameter)=\(address)

            """
        }
    }

    /// Builds `vmlinuz` and `initrd.gz` in `outputDirectory` from `kernel` (default: the newest `/boot/vmlinuz-*`
    /// with its modules, else Debian's current kernel package).
    public func build(kernel: String?, outputDirectory: String) async throws -> Result {
        let start = Date()
        let source = try await resolveKernel(kernel)
        progress("kernel \(source.version) from \(source.origin)")
        let busybox = try await packages.fetch(["busybox-static"], progress: progress)
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        let ramdisk = outputDirectory + "/initrd.gz"
        let built = try await buildRamdisk(
            kernel: source,
            busybox: busybox[0],
            staging: outputDirectory + "/.staging",
            output: ramdisk
        )
        let kernelCopy = outputDirectory + "/vmlinuz"
        try? FileManager.default.removeItem(atPath: kernelCopy)
        try FileManager.default.copyItem(atPath: (source.image as NSString).resolvingSymlinksInPath, toPath: kernelCopy)
        return Result(
            kernel: kernelCopy,
            ramdisk: ramdisk,
            source: source,
            modules: built.modules.files,
            builtin: built.modules.builtin,
            absent: built.modules.absent,
            ramdiskBytes: built.bytes,
            seconds: Date().timeIntervalSince(start)
        )
    }

    /// The kernel to use: `path` (with the modules of its version, from its own tree or /lib/modules), else the
    /// host's newest `/boot/vmlinuz-*` that has modules, else Debian's `linux-image-amd64` (downloaded and
    /// unpacked, not installed).
    public func resolveKernel(_ path: String?) async throws -> GuestKernel {
        if let path {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw LabError("cannot read the kernel \(path): name a readable kernel image with --kernel")
            }
            let version = Self.kernelVersion(fromImage: path) ?? ""
            return GuestKernel(
                image: path,
                version: version.isEmpty ? "unknown" : version,
                modulesDirectory: version.isEmpty ? nil : Self.modulesDirectory(forImage: path, version: version),
                origin: "--kernel \(path)"
            )
        }
        if let host = Self.newestHostKernel() { return host }
        let name = try await packages.kernelPackageName()
        progress("no kernel with modules in /boot: using Debian's \(name) (downloaded, not installed)")
        let tree = try await packages.fetch([name], progress: progress)[0]
        return try Self.kernel(in: tree)
    }

    /// The kernel of an unpacked `linux-image-*` package.
    static func kernel(in tree: PackageTree) throws -> GuestKernel {
        let modulesRoot = tree.root + "/lib/modules"
        guard let version = (try? FileManager.default.contentsOfDirectory(atPath: modulesRoot))?.sorted().last,
            let image = tree.resolve("/boot/vmlinuz-\(version)")
        else {
            throw LabError(
                "\(tree.file) has no /boot/vmlinuz-VERSION with /lib/modules/VERSION: is it a kernel package?"
            )
        }
        return GuestKernel(
            image: image,
            version: version,
            modulesDirectory: modulesRoot + "/" + version,
            origin: "Debian package \(tree.file)"
        )
    }

    /// `6.1.0-27-amd64` from `.../vmlinuz-6.1.0-27-amd64`.
    static func kernelVersion(fromImage path: String) -> String? {
        let name = (path as NSString).lastPathComponent
        guard name.hasPrefix("vmlinuz-") else { return nil }
        return String(name.dropFirst("vmlinuz-".count))
    }

    /// The modules of `version`: beside the image in an unpacked tree (`X/boot/vmlinuz-V` -> `X/lib/modules/V`),
    /// else the host's `/lib/modules/V`.
    static func modulesDirectory(forImage path: String, version: String, hostRoot: String = "") -> String? {
        let boot = (path as NSString).deletingLastPathComponent
        let tree = (boot as NSString).deletingLastPathComponent
        for candidate in [tree + "/lib/modules/" + version, hostRoot + "/lib/modules/" + version]
        where FileManager.default.fileExists(atPath: candidate + "/kernel") { return candidate }
        return nil
    }

    /// The newest `/boot/vmlinuz-*` that has `/lib/modules/VERSION`.
    static func newestHostKernel(root: String = "") -> GuestKernel? {
        let images = (try? FileManager.default.contentsOfDirectory(atPath: root + "/boot")) ?? []
        let versions = images.compactMap { kernelVersion(fromImage: $0) }
            .filter { FileManager.default.fileExists(atPath: root + "/lib/modules/\($0)/kernel") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        guard let version = versions.last else { return nil }
        return GuestKernel(
            image: root + "/boot/vmlinuz-" + version,
            version: version,
            modulesDirectory: root + "/lib/modules/" + version,
            origin: "/boot"
        )
    }

    /// Builds the initramfs for `kernel` at `output` (staging in `staging`, removed afterwards).
    func buildRamdisk(kernel: GuestKernel, busybox: PackageTree, staging: String, output: String) async throws -> (
        bytes: Int, modules: KernelModules.Selection
    ) {
        var tree = try InitramfsTree(root: staging, packages: [busybox])
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try tree.makeDirectories([
            "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/proc", "/sys", "/dev", "/run", "/tmp", "/etc",
        ])
        try tree.makeDirectories(["/root"], mode: 0o700)
        try tree.installProgram("/bin/busybox")
        try tree.write(Self.initScript, to: "/init", mode: 0o755)
        // The kernel runs /sbin/poweroff for `xl shutdown`; busybox's own poweroff only signals init, which a
        // shell as PID 1 ignores, and `xl shutdown -w` would wait forever.
        try tree.write("#!/bin/busybox sh\nexec /bin/busybox poweroff -f\n", to: "/sbin/poweroff", mode: 0o755)
        try tree.write("#!/bin/busybox sh\nexec /bin/busybox reboot -f\n", to: "/sbin/reboot", mode: 0o755)
        try tree.write("#!/bin/busybox sh\nexec /bin/busybox halt -f\n", to: "/sbin/halt", mode: 0o755)
        try tree.write("root:x:0:0:root:/root:/bin/sh\n", to: "/etc/passwd")
        try tree.write("root:x:0:\n", to: "/etc/group")
        try tree.write(Self.consoleScript, to: "/etc/xentest/console.sh")
        try tree.write(Self.ueventScript, to: "/sbin/xentest-uevent", mode: 0o755)
        // busybox acpid runs /etc/acpi/PWRF/00000080 when the ACPI power button is pressed.
        try tree.write("#!/bin/busybox sh\nexec /sbin/poweroff\n", to: "/etc/acpi/PWRF/00000080", mode: 0o755)
        var selection = KernelModules.Selection(files: [], builtin: [], absent: Self.modules, modulesDep: "")
        if let directory = kernel.modulesDirectory {
            selection = try tree.installModules(Self.modules, from: KernelModules(directory: directory), optional: true)
        } else {
            progress("warning: no modules for kernel \(kernel.version): the guest has only the drivers built into it")
        }
        let bytes = try await tree.pack(to: output, runner: runner)
        return (bytes, selection)
    }

    /// Read by the console shell as it starts (`ENV`), after busybox's banner: echo off, and the ready marker the
    /// first time (a shell restarted after `exit` does not say it again).
    public static let consoleScript = """
        stty -echo
        if [ ! -e /run/xentest-ready ]; then
          : > /run/xentest-ready
          echo XENTEST_GUEST_READY
          # An HVM guest's shell is on its serial port; its Xen console (what xenconsoled logs) says it too.
          [ "$(tty)" != /dev/hvc0 ] && [ -c /dev/hvc0 ] && echo XENTEST_GUEST_READY > /dev/hvc0
        fi

        """

    /// Run by busybox's `uevent` for each kernel device event: brings a hot-added vCPU online as soon as the kernel
    /// adds it (retrying briefly: the event can come just before the vCPU is marked present).
    public static let ueventScript = #"""
        #!/bin/busybox sh
        [ "$ACTION" = add ] && [ "$SUBSYSTEM" = cpu ] && [ -n "$DEVPATH" ] || exit 0
        online="/sys$DEVPATH/online"
        for try in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
          if [ -e "$online" ]; then
            read state < "$online"
            [ "$state" = 1 ] && exit 0
            echo 1 > "$online" 2>/dev/null && exit 0
          fi
          usleep 50000
        done

        """#

    /// PID 1 of the test guest.
    public static let initScript = #"""
        #!/bin/busybox sh
        # PID 1 of the xentest test guest (written by `xentest guest build`): a shell on the console with echo off
        # and no prompt, for xentest to type commands into; it says XENTEST_GUEST_READY when it reads them, and from
        # then on the console shows only what those commands print.
        /bin/busybox --install -s
        export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=dumb
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        mkdir -p /dev/pts /dev/shm /tmp /run
        mount -t devpts devpts /dev/pts
        ln -sf /proc/self/fd /dev/fd
        ln -sf /proc/self/fd/0 /dev/stdin
        ln -sf /proc/self/fd/1 /dev/stdout
        ln -sf /proc/self/fd/2 /dev/stderr
        hostname xentest-guest

        # The console is the kernel's last console= (hvc0 for PV and PVH, ttyS0 for HVM); eth0's address is
        # xentest.ip=ADDRESS/PREFIX.
        console=hvc0
        address=
        for word in $(cat /proc/cmdline); do
          case "$word" in
            console=*) console=${word#console=}; console=${console%%,*} ;;
            xentest.ip=*) address=${word#xentest.ip=} ;;
          esac
        done
        [ -c "/dev/$console" ] || console=console

        # Drivers for Xen's paravirtual devices and, in HVM and QEMU guests, emulated ones (virtio's balloon for
        # mem-set under QEMU; Xen's balloon is built in), and the ACPI power button: those this kernel has as modules.
        for module in \#(modules.joined(separator: " ")); do
          modprobe -q "$module" 2>/dev/null
        done
        ip link set lo up
        # A power-button press (QEMU's shutdown request) powers off; Xen guests are asked through xenstore instead,
        # and have no input device for acpid to read, so it simply ends there.
        acpid -d </dev/null >/dev/null 2>&1 &

        # eth0 gets its address when it is there, and again after it is detached and attached (a new ifindex).
        configured=
        configure_eth0() {
          [ -n "$address" ] && [ -e /sys/class/net/eth0/ifindex ] || return 1
          read index < /sys/class/net/eth0/ifindex
          [ "$index" = "$configured" ] && return 0
          ip link set eth0 up && ip addr add "$address" dev eth0 && configured=$index
        }
        tries=0
        while [ -n "$address" ] && ! configure_eth0 && [ $tries -lt 20 ]; do usleep 100000; tries=$((tries + 1)); done

        # Hot-added vCPUs are only marked present by the kernel; a udev rule onlines them on a full distribution.
        # Here busybox's uevent runs /sbin/xentest-uevent for each kernel event, which onlines them at once, and a
        # silent loop catches anything it missed (and configures a late eth0).
        uevent /sbin/xentest-uevent </dev/null >/dev/null 2>&1 &
        (
          exec </dev/null >/dev/null 2>&1
          while :; do
            for online in /sys/devices/system/cpu/cpu[0-9]*/online; do
              [ -e "$online" ] || continue
              read state < "$online"
              [ "$state" = 0 ] && echo 1 > "$online"
            done
            configure_eth0
            sleep 1
          done
        ) &

        # Kernel messages stay off the console from here on: only what xentest's commands print shows. The shell
        # prints busybox's banner as it starts, then reads /etc/xentest/console.sh (ENV), which turns echo off and
        # says XENTEST_GUEST_READY once: from then on, nothing but command output.
        dmesg -n 1
        export PS1= PS2= ENV=/etc/xentest/console.sh
        while :; do
          setsid -c sh -i <>"/dev/$console" >&0 2>&1
          sleep 1
        done

        """#
}
