import Foundation
import XentestBackends
import XentestPlan
import XentestRun
import XentestSupport

/// Where a lab keeps its files: images (cached), SSH keys, runtime state, the serial log and the host file.
public struct LabPaths: Sendable, Hashable {
    /// The lab folder (`--lab-dir`).
    public var root: String

    /// The paths of a lab in `root`, made absolute (from the current folder) and standardized, without a trailing
    /// slash.
    public init(root: String) {
        // Absolute and without a trailing slash: QEMU runs from `/` once daemonized, and status compares paths.
        var path = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        self.root = (path as NSString).standardizingPath
    }

    /// `$XDG_CACHE_HOME/xentest/lab`, or `~/.cache/xentest/lab`.
    public static var defaultRoot: String { XentestCache.directory + "/lab" }

    /// The folder of the cached images.
    public var images: String { root + "/images" }
    /// Xen, gunzipped: QEMU's multiboot loader takes an ELF file, not `xen.gz`.
    public var xen: String { images + "/xen" }
    /// The dom0 kernel, from Debian's kernel package; the test guest boots the same one.
    public var kernel: String { images + "/vmlinuz" }
    /// dom0's initramfs (gzipped cpio): the xl toolstack, libvirt, dropbear and the test guest's files.
    public var dom0Ramdisk: String { images + "/dom0-initrd.gz" }
    /// The test guest's initramfs (gzipped cpio), also copied into dom0's.
    public var guestRamdisk: String { images + "/guest-initrd.gz" }
    /// What the last build recorded (`LabImages.Manifest`); written last, so a build that was cut off has none.
    public var manifest: String { images + "/manifest.json" }
    var staging: String { root + "/staging" }

    /// The folder of the lab's SSH keys, known_hosts and the ssh for libvirt.
    public var ssh: String { root + "/ssh" }
    /// The key xentest logs in to dom0 with.
    public var clientKey: String { ssh + "/id_ed25519" }
    /// dom0's SSH host key (made on the host at build time, converted for dropbear inside dom0).
    public var hostKey: String { ssh + "/host_ed25519" }
    /// The lab's own known_hosts: dom0's host key for 127.0.0.1 at the lab's port.
    public var knownHosts: String { ssh + "/known_hosts" }
    /// The ssh that libvirt's `xen+ssh://` connection to dom0 runs (with the lab's known_hosts).
    public var libvirtSSHCommand: String { ssh + "/ssh-for-libvirt" }

    /// Runtime state, removed by `down`.
    public var run: String { root + "/run" }
    /// QEMU's pid, written by QEMU itself once daemonized.
    public var pidFile: String { run + "/qemu.pid" }
    /// The running lab's `LabState`, written by `up`.
    public var stateFile: String { run + "/state.json" }
    /// What QEMU itself printed (errors at start).
    public var qemuLog: String { run + "/qemu.log" }

    /// Xen's and dom0's console (the emulated serial port), kept after `down` for post-mortems.
    public var serialLog: String { root + "/serial.log" }
    /// The host file for plans run in the lab.
    public var hostFile: String { root + "/host.yaml" }
}

/// What is inside the lab's emulated machine, as plans see it (the host file says the same).
public enum LabLayout {
    /// The spare NIC offered for passthrough (role `nic`).
    public static let passthroughDevice = "0000:00:04.0"
    /// The management NIC (user-mode network, SSH forwarded from 127.0.0.1).
    public static let managementDevice = "0000:00:02.0"
    /// The NIC dom0 keeps on the QEMU-internal hub the spare NIC is also plugged into.
    public static let hubDevice = "0000:00:05.0"
    /// The bridge in dom0 that guests' interfaces join.
    public static let bridge = "xenbr0"
    /// dom0's address on `bridge`.
    public static let hostAddress = "10.0.0.1"
    /// The test guest's address on `bridge`.
    public static let guestAddress = "10.0.0.2"
    /// dom0's address on the hub link (the passed-through NIC's network, inside QEMU).
    public static let hubAddress = "10.0.1.1"
    /// dom0's address on QEMU's user-mode network (its default guest address).
    public static let managementAddress = "10.0.2.15"
    /// The test guest, inside dom0.
    public static let guestKernel = "/var/lib/xentest/guest/vmlinuz"
    /// The test guest's initramfs, inside dom0.
    public static let guestRamdisk = "/var/lib/xentest/guest/initrd.gz"
    /// The test guest's extra kernel command line: its address on `bridge` (`xentest.ip=10.0.0.2/24`).
    public static var guestCommandLine: String { "\(TestGuestBuilder.addressParameter)=\(guestAddress)/24" }
    /// What dom0 prints on the serial console when its daemons and SSH are started.
    public static let dom0ReadyMarker = "XENTEST_LAB_DOM0_READY"

    /// The host file `lab up` writes.
    public static var hostFile: String {
        """
        # The host file of xentest's lab (written by `xentest lab up`): Xen 4.17 and dom0 in QEMU, reached over SSH.
        # Paths are inside dom0. The spare NIC shares a QEMU-internal hub with dom0 only: nothing leaves the machine.
        pci-devices:
          nic: \(passthroughDevice)
        bridge: \(bridge)
        host-address: \(hostAddress)
        guest-address: \(guestAddress)
        guest-kernel: \(guestKernel)
        guest-ramdisk: \(guestRamdisk)
        guest-cmdline: \(guestCommandLine)

        """
    }
}

/// Builds (once, then cached) what the lab boots: Xen, the dom0 kernel, dom0's initramfs with the xl toolstack,
/// dropbear and the test guest, all from Debian packages downloaded and unpacked, never installed on the host.
public struct LabImages: Sendable {
    /// Where the images and keys go.
    public var paths: LabPaths
    /// Where the Debian packages are downloaded and unpacked.
    public var packages: DebianPackageCache
    /// Runs ssh-keygen, gzip and cpio for the build.
    public var runner: any CommandRunner
    /// Progress lines for a person (stderr in the CLI).
    public var progress: @Sendable (String) -> Void

    /// A builder of the images in `paths` from `packages`; commands run on this machine unless `runner` says otherwise.
    public init(
        paths: LabPaths,
        packages: DebianPackageCache,
        runner: any CommandRunner = LocalCommandRunner(),
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.paths = paths
        self.packages = packages
        self.runner = runner
        self.progress = progress
    }

    /// Packages whose programs go into dom0; their library dependencies come along.
    public static let programPackages = [
        "xen-utils-4.17", "xen-utils-common", "xenstore-utils", "busybox-static", "bash", "iproute2", "util-linux",
        "sed", "coreutils", "dropbear-bin", "qemu-system-xen", "qemu-utils", "libgcc-s1", "libvirt-daemon",
        "libvirt-daemon-driver-xen",
    ]
    /// Packages used for files only: the hypervisor, and firmware for HVM guests' device model.
    public static let dataPackages = ["xen-hypervisor-4.17-amd64", "seabios", "ipxe-qemu", "qemu-system-data"]
    /// dom0's kernel modules (their dependencies come along).
    public static let dom0Modules = [
        "xen-evtchn", "xenfs", "xen-gntdev", "xen-gntalloc", "xen-privcmd", "xen-netback", "xen-blkback", "xen-pciback",
        "bridge", "e1000", "tun", "loop", "virtio_pci", "virtio_rng",
    ]
    /// Programs of xen-utils-4.17 left out: Python scripts (no Python in dom0) and the OCaml xenstored.
    static let skippedXenTools: Set<String> = [
        "oxenstored", "pygrub", "xenpvnetboot", "convert-legacy-stream", "verify-stream-v2", "xendomains",
    ]
    /// /usr/share/qemu files for other architectures, which an x86 device model never reads.
    static func isForeignFirmware(_ name: String) -> Bool {
        [
            "openbios", "skiboot", "slof", "hppa", "s390", "opensbi", "palcode", "u-boot", "npcm", "edk2", "petalogix",
            "canyonlands", "bamboo", "QEMU,", "vof", "qemu_vga.ndrv", "firmware", "dtb", "bios-microvm",
        ]
        .contains { name.hasPrefix($0) || name.hasSuffix("." + $0) }
    }

    /// What a build recorded, to know whether the images can be reused.
    public struct Manifest: Codable, Sendable, Hashable {
        /// A digest of everything that shapes the images (scripts, package and module lists, layout).
        public var recipe: String
        /// The `.deb` files used, with their versions.
        public var packages: [String]
        /// The client's public key, baked into dom0 as authorized.
        public var clientKey: String
        /// dom0's public host key.
        public var hostKey: String
        /// When the build finished.
        public var builtAt: Date
        /// How long the build took, in seconds.
        public var seconds: Double
        /// The size of dom0's initramfs in bytes (gzipped).
        public var dom0RamdiskBytes: Int
        /// The size of the test guest's initramfs in bytes (gzipped).
        public var guestRamdiskBytes: Int
    }

    /// What `ensure` did.
    public struct Outcome: Sendable {
        /// The images' manifest: the cached one, or the new build's.
        public var manifest: Manifest
        /// False when the cached images were used.
        public var built: Bool
        /// How long `ensure` took, in seconds: the build, or only the look at the cache.
        public var seconds: Double
    }

    /// A digest of what shapes the images: a change to any of it makes `ensure` build again.
    static var recipe: String {
        let parts =
            [
                dom0Init, TestGuestBuilder.initScript, TestGuestBuilder.consoleScript, TestGuestBuilder.ueventScript,
                LabLayout.hostFile,
            ] + programPackages + dataPackages + dom0Modules + TestGuestBuilder.modules + ["format 2"]
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in parts.joined(separator: "\u{0}").utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }

    /// The cached images when they match the recipe and the keys, else a fresh build.
    public func ensure(rebuild: Bool) async throws -> Outcome {
        let start = Date()
        try await makeKeys()
        let clientKey = try String(contentsOfFile: paths.clientKey + ".pub", encoding: .utf8).trimmed
        let hostKey = try String(contentsOfFile: paths.hostKey + ".pub", encoding: .utf8).trimmed
        if !rebuild, let cached = cachedManifest(), cached.recipe == Self.recipe, cached.clientKey == clientKey,
            cached.hostKey == hostKey,
            [paths.xen, paths.kernel, paths.dom0Ramdisk].allSatisfy({ FileManager.default.fileExists(atPath: $0) })
        {
            return Outcome(manifest: cached, built: false, seconds: Date().timeIntervalSince(start))
        }
        let manifest = try await build(clientKey: clientKey, hostKey: hostKey, start: start)
        return Outcome(manifest: manifest, built: true, seconds: manifest.seconds)
    }

    /// The manifest of the last build, if any.
    public func cachedManifest() -> Manifest? {
        guard let data = FileManager.default.contents(atPath: paths.manifest) else { return nil }
        return try? LabState.decoder.decode(Manifest.self, from: data)
    }

    /// The client key and dom0's host key, made with ssh-keygen when missing.
    func makeKeys() async throws {
        try FileManager.default.createDirectory(
            atPath: paths.ssh,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        for (key, comment) in [(paths.clientKey, "xentest-lab-client"), (paths.hostKey, "xentest-lab-dom0")] {
            guard !FileManager.default.fileExists(atPath: key) || !FileManager.default.fileExists(atPath: key + ".pub")
            else { continue }
            try? FileManager.default.removeItem(atPath: key)
            try? FileManager.default.removeItem(atPath: key + ".pub")
            let argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key]
            let result: CommandResult
            do { result = try await runner.run(argv, timeout: .seconds(60)) } catch is CommandNotStarted {
                throw LabError.toolMissing("ssh-keygen", package: "openssh-client", for: "make the lab's SSH keys")
            }
            guard result.succeeded else {
                throw LabError.commandFailed(
                    result,
                    doing: "make an SSH key in \(paths.ssh)",
                    next: "Check that folder is writable."
                )
            }
        }
    }

    /// Downloads, unpacks and assembles everything; writes the manifest last, so a cut-off build is redone.
    func build(clientKey: String, hostKey: String, start: Date) async throws -> Manifest {
        try? FileManager.default.removeItem(atPath: paths.manifest)
        // dom0's initramfs holds its SSH host key: readable by this user only.
        try FileManager.default.createDirectory(
            atPath: paths.images,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        progress("building the lab's images from Debian packages (apt-get download, dpkg-deb -x; nothing is installed)")
        let kernelPackage = try await packages.kernelPackageName()
        let programs = try await packages.withLibraryDependencies(Self.programPackages)
        let names = programs + Self.dataPackages + [kernelPackage]
        let trees = try await packages.fetch(names, progress: progress)
        func tree(_ name: String) -> PackageTree { trees.first { $0.name == name }! }
        progress("unpacked \(trees.count) packages in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")

        // Xen and the dom0 kernel.
        let kernel = try TestGuestBuilder.kernel(in: tree(kernelPackage))
        try? FileManager.default.removeItem(atPath: paths.kernel)
        try FileManager.default.copyItem(atPath: kernel.image, toPath: paths.kernel)
        guard let xenGz = tree("xen-hypervisor-4.17-amd64").resolve("/boot/xen-4.17-amd64.gz") else {
            throw LabError("\(tree("xen-hypervisor-4.17-amd64").file) has no /boot/xen-4.17-amd64.gz")
        }
        try? FileManager.default.removeItem(atPath: paths.xen)
        try? FileManager.default.removeItem(atPath: paths.xen + ".gz")
        try FileManager.default.copyItem(atPath: xenGz, toPath: paths.xen + ".gz")
        let gunzip = try await runner.run(["gzip", "-d", "-f", paths.xen + ".gz"], timeout: .seconds(120))
        guard gunzip.succeeded else {
            throw LabError.commandFailed(gunzip, doing: "unpack Xen", next: "Is there room on that disk (df -h)?")
        }

        // The test guest, for the same kernel.
        let guest = TestGuestBuilder(packages: packages, runner: runner, progress: progress)
        let guestBuild = try await guest.buildRamdisk(
            kernel: kernel,
            busybox: tree("busybox-static"),
            staging: paths.staging + "-guest",
            output: paths.guestRamdisk
        )

        // dom0.
        let dom0Bytes = try await buildDom0(trees: trees, kernel: kernel, clientKey: clientKey)
        let manifest = Manifest(
            recipe: Self.recipe,
            packages: trees.map(\.file).sorted(),
            clientKey: clientKey,
            hostKey: hostKey,
            builtAt: Date(),
            seconds: Date().timeIntervalSince(start),
            dom0RamdiskBytes: dom0Bytes,
            guestRamdiskBytes: guestBuild.bytes
        )
        try LabState.encoder.encode(manifest).write(to: URL(fileURLWithPath: paths.manifest))
        return manifest
    }

    /// Assembles and packs dom0's initramfs; returns its size.
    func buildDom0(trees: [PackageTree], kernel: GuestKernel, clientKey: String) async throws -> Int {
        func tree(_ name: String) -> PackageTree { trees.first { $0.name == name }! }
        var image = try InitramfsTree(root: paths.staging, packages: trees)
        defer { try? FileManager.default.removeItem(atPath: paths.staging) }
        try image.makeDirectories([
            "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/proc", "/sys", "/dev", "/run", "/etc/dropbear", "/etc/xentest",
            "/var/lib/xen", "/var/lib/xenstored", "/var/log/xen/console", "/var/lib/xentest/guest",
            "/usr/lib/xen-4.17/bin",
        ])
        try image.makeDirectories(["/tmp"], mode: 0o1777)
        try image.makeDirectories(["/root/.ssh"], mode: 0o700)
        try image.symlink("/var/run", to: "/run")

        // Shells and tools: busybox for most; bash for Xen's hotplug scripts (#!/bin/bash); iproute2's ip; flock
        // (hotplug locking); GNU sed and timeout (the guest console reader runs `timeout N sed -u`).
        try image.installProgram("/bin/busybox")
        try image.installProgram("/bin/bash")
        try image.symlink("/bin/sh", to: "bash")
        try image.installProgram("/bin/ip")
        try image.symlink("/sbin/ip", to: "/bin/ip")
        try image.installProgram("/usr/bin/flock")
        try image.installProgram("/bin/sed")
        // busybox's timeout runs busybox's own applets (sed without -u), so `timeout N sed -u` needs GNU timeout.
        try image.installProgram("/usr/bin/timeout")
        // glibc loads libgcc_s for pthread_cancel; without it `xl create` aborts, leaving a half-made domain.
        try image.installFile("/lib/x86_64-linux-gnu/libgcc_s.so.1")

        // Xen's toolstack: every compiled program of xen-utils-4.17, reachable from /usr/sbin.
        let xenUtils = tree("xen-utils-4.17")
        let binDirectory = "/usr/lib/xen-4.17/bin"
        let tools = ((try? FileManager.default.contentsOfDirectory(atPath: xenUtils.root + binDirectory)) ?? [])
            .sorted()
        for tool in tools where !Self.skippedXenTools.contains(tool) {
            let path = binDirectory + "/" + tool
            guard try ELFFile.read(path: xenUtils.root + path) != nil else { continue }
            try image.installProgram(path)
            try image.symlink("/usr/sbin/" + tool, to: path)
        }
        try image.installFile("/usr/lib/xen-4.17/boot/hvmloader")
        try image.installProgram("/usr/bin/xenstore")
        for name in ["read", "write", "ls", "list", "rm", "exists", "chmod", "watch"] {
            try image.symlink("/usr/bin/xenstore-" + name, to: "xenstore")
        }
        try image.installTree("/etc/xen", from: tree("xen-utils-common"))

        // HVM guests: the device model and its firmware.
        try image.installProgram("/usr/libexec/xen-qemu-system-i386")
        // qcow2 disk images, which the run makes for guests that ask for them (and Xen's qdisk backend serves).
        try image.installProgram("/usr/bin/qemu-img")
        try image.installTree("/usr/share/seabios", from: tree("seabios"))
        try image.installTree("/usr/lib/ipxe", from: tree("ipxe-qemu"))
        try image.installTree("/usr/share/qemu", from: tree("qemu-system-data"), skip: Self.isForeignFirmware)

        // libvirt with its libxl driver (loaded by libvirtd at run time, so installed by name), reached over SSH
        // through virt-ssh-helper: `xen+ssh://` from the host.
        try image.installProgram("/usr/sbin/libvirtd")
        try image.installProgram("/usr/bin/virt-ssh-helper")
        try image.installProgram("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_libxl.so")
        try image.installProgram("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_network.so")
        // Node devices: the libxl driver looks a PCI device up here before it detaches it to pciback.
        try image.installProgram("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_nodedev.so")
        // The CPU models the libxl driver describes the host with: without them it does not start. Every model in
        // them needs VME, which QEMU's software emulation does not offer, so Xen's host CPU here matches none and
        // the driver refuses to start ("Cannot find suitable CPU model for given data"): one more model, the
        // emulated CPU's plain features without VME, lets it.
        let cpuMap = "/usr/share/libvirt/cpu_map"
        try image.installTree(cpuMap, from: tree("libvirt0"))
        let index = try String(contentsOfFile: tree("libvirt0").root + cpuMap + "/index.xml", encoding: .utf8)
        let anchor = "<include filename='x86_486.xml'/>"
        guard index.contains(anchor) else { throw LabError("libvirt's \(cpuMap)/index.xml has no \(anchor)") }
        try image.write(
            index.replacingOccurrences(of: anchor, with: anchor + "\n    <include filename='x86_xentest-tcg.xml'/>"),
            to: cpuMap + "/index.xml"
        )
        try image.write(Self.tcgCPUModel, to: cpuMap + "/x86_xentest-tcg.xml")
        try image.makeDirectories([
            "/etc/libvirt", "/var/lib/libvirt/libxl", "/var/log/libvirt/libxl", "/var/cache/libvirt",
        ])

        // SSH: dropbear with the host key made on the host (converted at boot), the client key authorized.
        try image.installProgram("/usr/sbin/dropbear")
        try image.installProgram("/usr/bin/dropbearconvert")
        try image.copyHostFile(paths.hostKey, to: "/etc/xentest/ssh_host_ed25519_key")
        try image.write(clientKey + "\n", to: "/root/.ssh/authorized_keys", mode: 0o600)
        try image.write("root:x:0:0:root:/root:/bin/sh\n", to: "/etc/passwd")
        try image.write("root:x:0:\n", to: "/etc/group")
        try image.write("/bin/sh\n/bin/bash\n", to: "/etc/shells")

        // Kernel modules, the test guest, and init.
        try image.installModules(
            Self.dom0Modules,
            from: KernelModules(directory: kernel.modulesDirectory!),
            optional: false
        )
        try image.copyHostFile(paths.kernel, to: LabLayout.guestKernel)
        try image.copyHostFile(paths.guestRamdisk, to: LabLayout.guestRamdisk)
        try image.write(Self.dom0Init, to: "/init", mode: 0o755)
        progress("packing dom0's initramfs")
        return try await image.pack(to: paths.dom0Ramdisk, runner: runner)
    }

    /// A libvirt CPU model for the lab's emulated CPU: what every x86 model needs but VME.
    static let tcgCPUModel = """
        <cpus>
          <model name='xentest-tcg'>
            <decode host='on' guest='off'/>
            <feature name='fpu'/>
            <feature name='pse'/>
          </model>
        </cpus>

        """

    /// PID 1 of the lab's dom0.
    public static let dom0Init = #"""
        #!/bin/busybox sh
        # PID 1 of the xentest lab's dom0 (written by `xentest lab up`): Xen's daemons, the networks, and SSH.
        /bin/busybox --install -s
        export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        mkdir -p /dev/pts /dev/shm
        mount -t devpts devpts /dev/pts
        mount -t tmpfs tmpfs /dev/shm
        # devtmpfs has no /dev/stdin (udev makes it): Xen's hotplug locking (claim_lock, used by the block script)
        # stats it and would loop forever.
        ln -sf /proc/self/fd /dev/fd
        ln -sf /proc/self/fd/0 /dev/stdin
        ln -sf /proc/self/fd/1 /dev/stdout
        ln -sf /proc/self/fd/2 /dev/stderr
        mkdir -p /run/xen /run/xenstored /var/lock /tmp
        say() { echo "xentest-lab: $*"; }

        for module in xen-evtchn xenfs xen-gntdev xen-gntalloc xen-privcmd xen-netback xen-blkback xen-pciback \
            bridge e1000 tun loop virtio_pci virtio_rng; do
          modprobe "$module" || say "modprobe $module failed"
        done
        mount -t xenfs xenfs /proc/xen
        xenstored --pid-file /run/xenstored.pid
        xen-init-dom0
        # Each guest's console goes to /var/log/xen/console/guest-NAME.log.
        xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
        hostname xentest-lab
        ip link set lo up

        # NICs by the PCI slot xentest plugged them into: management (SSH), and dom0's end of the hub that the
        # spare NIC (00:04.0, for passthrough) is also on. No default route: nothing is meant to leave QEMU.
        nic_at() {
          for n in /sys/class/net/*; do
            case "$(readlink -f "$n/device" 2>/dev/null)" in */"$1") echo "${n##*/}"; return 0 ;; esac
          done
          return 1
        }
        if mgmt=$(nic_at 0000:00:02.0); then
          ip link set "$mgmt" up && ip addr add 10.0.2.15/24 dev "$mgmt"
        else
          say "no management NIC at 0000:00:02.0"
        fi
        if hub=$(nic_at 0000:00:05.0); then
          ip link set "$hub" up && ip addr add 10.0.1.1/24 dev "$hub"
        else
          say "no hub NIC at 0000:00:05.0"
        fi
        ip link add xenbr0 type bridge && ip addr add 10.0.0.1/24 dev xenbr0 && ip link set xenbr0 up \
          || say "cannot create the bridge xenbr0"

        mkdir -p /run/libvirt
        libvirtd -d || say "libvirtd failed"

        dropbearconvert openssh dropbear /etc/xentest/ssh_host_ed25519_key /etc/dropbear/dropbear_ed25519_host_key \
          >/dev/null 2>&1 || say "dropbearconvert failed"
        dropbear -s -r /etc/dropbear/dropbear_ed25519_host_key -p 22 -P /run/dropbear.pid || say "dropbear failed"
        say "dom0 up after $(cut -d' ' -f1 /proc/uptime) s"
        echo XENTEST_LAB_DOM0_READY
        # PID 1 must not exit; the shell reaps orphans (xl's domain watchers, hotplug scripts) as it waits.
        while :; do sleep 60; done

        """#
}
