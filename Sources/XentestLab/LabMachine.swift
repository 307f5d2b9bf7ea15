import Foundation
import XentestBackends
import XentestPlan
import XentestRun
import XentestSupport

/// The emulated machine the lab boots: Xen 4.17 with dom0 under QEMU's software emulation, as one argv value.
///
/// q35 with an emulated Intel IOMMU (interrupt remapping, caching mode) so PCI passthrough works; `-cpu max` for
/// hardware-assisted paging, which PVH and HVM guests need, less SMAP (which crashes a PV dom0 under TCG) and
/// RDTSCP (Xen cannot emulate its instruction length there: "SVM Insn len emulation failed" crashes PVH and HVM
/// guests; without it in the CPU no guest config needs `cpuid = "host,rdtscp=0"`), and AVX and its kin (with
/// them, glibc in dom0 takes its AVX2 string functions, and `xl create` died now and then of heap corruption,
/// `malloc(): unsorted double linked list corrupted`: 3 in 35 creates; none in 59 since they are off). Three
/// NICs: management (QEMU user-mode network with `restrict=on`: dom0 cannot reach the host or beyond, only the
/// SSH port forwarded from 127.0.0.1 comes in); a spare e1000 at 00:04.0 for passthrough; and a NIC dom0 keeps,
/// on the same QEMU-internal hub as the spare, so traffic of a passed-through NIC stays inside QEMU.
public struct LabMachine: Sendable, Hashable {
    /// The lab whose images it boots, and where its pidfile and serial log go.
    public var paths: LabPaths
    /// The host port forwarded to dom0's port 22, on 127.0.0.1.
    public var sshPort: Int
    /// The QEMU program: a name on PATH, or a path.
    public var qemu = "qemu-system-x86_64"
    /// The machine's memory in MiB: Xen's, dom0's and the guests'.
    public var memoryMiB = 2048
    /// dom0's memory in MiB, fixed (`dom0_mem`, also its maximum).
    public var dom0MemoryMiB = 768
    /// Xen's physical CPUs: 2 running, 4 possible (`-smp 2,maxcpus=4`). libvirt's libxl driver allows a guest no
    /// more live vCPUs than the host's possible CPUs (libxl_get_max_cpus), and rc6 hot-adds up to 4; xl overcommits.
    /// Only 2 run: under software emulation each is a thread on this machine's 2 cores, and with 4 running an HVM
    /// guest with 2 vCPUs took up to 3 minutes to boot instead of one.
    public var cpus = 2
    /// The most CPUs the machine can have (`maxcpus`); see `cpus`.
    public var possibleCPUs = 4

    /// The lab machine of `paths`, with dom0's SSH forwarded from 127.0.0.1:`sshPort`.
    public init(paths: LabPaths, sshPort: Int) {
        self.paths = paths
        self.sshPort = sshPort
    }

    /// QEMU's `-cpu`: `max` for hardware-assisted paging, less what breaks Xen or dom0 under TCG (see above).
    public static let cpuModel = "max,-smap,-rdtscp,-avx,-avx2,-fma,-f16c,-vaes,-vpclmulqdq"

    /// Xen's command line: serial console (to the log file), dom0's memory and vCPUs, the IOMMU on.
    public var xenCommandLine: String {
        "console=com1 com1=115200,8n1 dom0_mem=\(dom0MemoryMiB)M,max:\(dom0MemoryMiB)M dom0_max_vcpus=\(cpus) "
            + "loglvl=all guest_loglvl=all iommu=1,verbose noreboot"
    }

    /// dom0's kernel command line: its console is Xen's (hvc0), which Xen puts on the serial port.
    public var dom0CommandLine: String { "console=hvc0 earlyprintk=xen loglevel=6" }

    /// The `qemu-system-x86_64` argv: daemonized, with a pidfile and the serial console in the lab folder.
    public var argv: [String] {
        let mac = { (last: Int) in "52:54:00:78:74:" + String(format: "%02x", last) }
        return [
            qemu, "-name", "xentest-lab", "-accel", "tcg", "-M", "q35", "-device",
            "intel-iommu,intremap=on,caching-mode=on", "-cpu", Self.cpuModel, "-smp", "\(cpus),maxcpus=\(possibleCPUs)",
            "-m", String(memoryMiB), "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
            "-no-reboot", "-serial", "file:" + paths.serialLog,
            // Management: only SSH comes in, from this host's loopback; restrict=on keeps dom0 from going out.
            "-netdev", "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:\(sshPort)-:22", "-device",
            "e1000,netdev=mgmt,addr=02.0,mac=\(mac(2))",
            // The spare NIC for passthrough and dom0's NIC on one QEMU-internal hub, connected to nothing else.
            "-netdev", "hubport,id=spare,hubid=1", "-device", "e1000,netdev=spare,addr=04.0,mac=\(mac(4))", "-netdev",
            "hubport,id=dom0hub,hubid=1", "-device", "e1000,netdev=dom0hub,addr=05.0,mac=\(mac(5))",
            // Entropy, so dom0's SSH server does not wait minutes for the kernel's random pool.
            "-device", "virtio-rng-pci,addr=06.0",
            // Multiboot: Xen (an ELF file) with dom0's kernel and initramfs as modules.
            "-kernel", paths.xen, "-append", xenCommandLine, "-initrd",
            "\(paths.kernel) \(dom0CommandLine),\(paths.dom0Ramdisk)", "-daemonize", "-pidfile", paths.pidFile,
        ]
    }

    /// How `up` starts QEMU: through `start-stop-daemon --background`, which closes every inherited file
    /// descriptor before QEMU runs. A daemon that kept the launching process's descriptors would keep xentest
    /// waiting for them (Foundation notices a child's exit by a socket the child inherits). QEMU's own messages go to
    /// `qemuLog`.
    public var launchArgv: [String] {
        [
            "start-stop-daemon", "--start", "--quiet", "--background", "--output", paths.qemuLog, "--pidfile",
            paths.pidFile, "--exec", qemu, "--",
        ] + argv.dropFirst()
    }

    /// Why QEMU could not take this lab folder, or nil: its multiboot `-initrd` splits on commas and a module's
    /// path ends at the first space.
    public static func unusableLabDirectory(_ paths: LabPaths) -> String? {
        guard paths.root.contains(",") || paths.root.contains(" ") else { return nil }
        return "the lab folder \(paths.root) contains a comma or a space, which QEMU's -initrd cannot take: "
            + "choose another with --lab-dir"
    }

    /// A free TCP port on 127.0.0.1 (the kernel picks it; the socket is closed again for QEMU to bind).
    public static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw LabError("cannot open a socket to find a free port: errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw LabError("cannot bind 127.0.0.1:0 to find a free port: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw LabError("cannot read the port bound on 127.0.0.1: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
