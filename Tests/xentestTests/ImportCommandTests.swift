import Foundation
import Testing

/// `xentest import FILE` as a plan author runs it: the guest on stdout, what it leaves out on stderr, exit 0; a file xl
/// would refuse gives every error and exit 2.
@Suite("xentest import") struct ImportCommandTests {
    static let configs = "Tests/XentestLibraryTests/Fixtures/xl-configs"

    @Test func anXMConfigPrintsTheGuestAndWhatItLeavesOut() async throws {
        let file = Self.configs + "/xmexample1"
        let result = try await XentestProcess.run(["import", file])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdout == """
                # the guest xentest understands from \(file); paste under a case's 'guest:'
                type: pv
                memory: 64M
                nics: 1

                """
        )
        #expect(
            result.stderr == """
                not carried over:
                \(file):11: kernel: the host file's 'guest-kernel' names the kernel
                \(file):27: name: xentest names the domain (xentest-RUN-CASE) so that teardown and 'xentest clean' \
                find it
                \(file):67: disk: 'phy:hda1,hda1,w' (phy:hda1 as hda1, read-write): a plan names no host's device: \
                xentest gives a guest empty images it makes (disks: [SIZE])
                \(file):120: root: xentest writes the kernel command line (its console, then the host file's \
                'guest-cmdline')
                \(file):130: extra: xentest writes the kernel command line (its console, then the host file's \
                'guest-cmdline')

                """
        )
    }

    @Test func aConfigXLWouldRefuseExitsTwoWithEveryError() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xentest-import-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("broken.cfg").path
        try "memory 128\nvif = [ 'bridge=xenbr0'\nname = 'guest\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await XentestProcess.run(["import", file])
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr == """
                \(file):1:8: error: expected '=' after 'memory', found '128'
                \(file):3:1: error: expected a value or ']' in the list of 'vif' that starts at line 2, found 'name': \
                is a ']' missing?

                """
        )
        let missing = try await XentestProcess.run(["import", directory.path + "/missing.cfg"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "\(directory.path)/missing.cfg: error: cannot read file: No such file or directory\n")
    }
}
