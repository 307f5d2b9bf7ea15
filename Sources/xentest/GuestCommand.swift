import ArgumentParser
import Foundation
import XentestLab
import XentestRun

struct GuestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guest",
        abstract: "The test guest that plans boot.",
        subcommands: [GuestBuildCommand.self]
    )
}

struct GuestBuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build the test guest: a kernel plus a small busybox initramfs from Debian packages.",
        discussion: """
            The initramfs is built from Debian packages downloaded with apt-get download and unpacked with \
            dpkg-deb -x: nothing is installed on this machine. Its init loads Xen's frontend drivers, sets eth0's \
            address from xentest.ip=ADDRESS/PREFIX on the kernel command line, onlines hot-added vCPUs, and runs \
            a shell on the console (echo off, no prompt) for xentest's checks, which prints XENTEST_GUEST_READY \
            when it reads commands.

            Prints the host-file lines for the guest on stdout. Example:
              xentest guest build --out /var/lib/xentest >> host.yaml
            """
    )

    @Option(help: "The kernel (default: the newest /boot/vmlinuz-* with modules, else Debian's linux-image-amd64).")
    var kernel: String?

    @Option(help: "Where vmlinuz and initrd.gz go (default: $XDG_CACHE_HOME/xentest/guest).") var out: String?

    @Option(name: .customLong("package-cache"), help: "Where downloaded Debian packages are kept.") var packageCache:
        String?

    func run() async throws {
        let builder = TestGuestBuilder(
            packages: DebianPackageCache(root: packageCache ?? DebianPackageCache.defaultRoot),
            progress: { Console.error($0) }
        )
        let result: TestGuestBuilder.Result
        do {
            result = try await builder.build(
                kernel: kernel,
                outputDirectory: absolutePath(out ?? TestGuestBuilder.defaultOutputDirectory)
            )
        } catch {
            Console.error("error: \(error)")
            throw ExitCode(XentestExitStatus.unusable)
        }
        var notes = String(
            format: "built in %.1f s: initramfs %.2f MB, %d module files",
            result.seconds,
            Double(result.ramdiskBytes) / 1e6,
            result.modules.count
        )
        if !result.builtin.isEmpty { notes += "; built into the kernel: \(result.builtin.joined(separator: " "))" }
        if !result.absent.isEmpty { notes += "; not in this kernel: \(result.absent.joined(separator: " "))" }
        Console.error(notes)
        print(result.hostFileLines(), terminator: "")
    }
}

/// Writes a progress line to stderr.
/// `path` made absolute against the current folder.
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
