import Foundation
import Logging
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestBackends
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport
@testable import XentestXLParsing

/// Where the test fixtures are: copied into the test bundle (read), and in the source tree (golden updates).
enum Fixtures {
    /// `Fixtures/` as copied into the test bundle.
    static var bundled: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures not in the bundle")
        }
    }

    /// A fixture plan by its path under `Fixtures/plans/`.
    static func plan(_ relativePath: String) throws -> String {
        try bundled.appendingPathComponent("plans").appendingPathComponent(relativePath).path
    }

    /// `Fixtures/` in the source tree, where `XENTEST_UPDATE_GOLDEN=1` writes.
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The repository root: this file is `Tests/XentestLibraryTests/TestSupport.swift`.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A plan under the repository's `testplans/`.
    static func realPlan(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("testplans").appendingPathComponent(name + ".yaml").path
    }
}

/// A fresh directory under the system's temporary directory, removed when the value goes away.
final class ScratchDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "xentest-tests-\(UUID().uuidString)",
            isDirectory: true
        )
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `text` to `name` (which may contain folders) and returns its path.
    @discardableResult func write(_ text: String, to name: String) throws -> String {
        try write(Data(text.utf8), to: name)
    }

    /// Writes `data` to `name` (which may contain folders) and returns its path.
    @discardableResult func write(_ data: Data, to name: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
        return file.path
    }
}

/// The outcome of loading a plan, with paths made relative so that expectations can name `plan.yaml:3:5`.
struct LoadOutcome {
    var plan: Plan?
    /// Every diagnostic (errors, or the warnings of a plan that loaded) as `file:line:col: severity: message`.
    var lines: [String]
    var diagnostics: [Diagnostic]

    /// Loads `path`; every occurrence of `stripping` + "/" in the output is removed.
    init(path: String, stripping prefix: String) {
        do {
            let (plan, warnings) = try PlanLoader().load(path: path)
            self.plan = plan
            diagnostics = warnings
        } catch {
            plan = nil
            diagnostics = error.diagnostics
        }
        lines = diagnostics.map { $0.description.replacingOccurrences(of: prefix + "/", with: "") }
    }

    /// Only the `line:col: severity: message` parts, for expectations that do not care about the file.
    var withoutFiles: [String] {
        diagnostics.map { diagnostic in
            var copy = diagnostic
            copy.location.file = ""
            return String(copy.description.drop { $0 != ":" }.dropFirst())
        }
    }
}

/// Writes `yaml` as `plan.yaml` (plus any `extraFiles`) into a fresh temporary directory and loads it.
func loadPlanText(_ yaml: String, extraFiles: [String: String] = [:]) throws -> LoadOutcome {
    let directory = try ScratchDirectory()
    for (name, text) in extraFiles { try directory.write(text, to: name) }
    let path = try directory.write(yaml, to: "plan.yaml")
    return LoadOutcome(path: path, stripping: directory.path)
}

/// Loads `yaml` as `host.yaml` from a fresh folder: the config, or the diagnostics with the folder left out.
func loadHostText(_ yaml: String) throws -> (config: HostConfig?, lines: [String]) {
    let directory = try ScratchDirectory()
    let path = try directory.write(yaml, to: "host.yaml")
    do { return (try HostConfig.load(path: path), []) } catch {
        return (nil, error.diagnostics.map { $0.description.replacingOccurrences(of: directory.path + "/", with: "") })
    }
}

/// Loads a fixture plan under `Fixtures/plans/`; file names in the output are relative to that folder.
func loadFixturePlan(_ relativePath: String) throws -> LoadOutcome {
    let plans = try Fixtures.bundled.appendingPathComponent("plans").path
    return LoadOutcome(path: plans + "/" + relativePath, stripping: plans)
}

/// Compares `actual` with a golden file under `Fixtures/golden/`, or rewrites the file in the source tree when
/// `XENTEST_UPDATE_GOLDEN=1` (rebuild afterwards: the comparison reads the copy in the test bundle).
func expectGolden(_ actual: String, _ relativePath: String, sourceLocation: Testing.SourceLocation = #_sourceLocation)
    throws
{
    if ProcessInfo.processInfo.environment["XENTEST_UPDATE_GOLDEN"] == "1" {
        let file = Fixtures.source.appendingPathComponent("golden").appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(actual.utf8).write(to: file)
        return
    }
    let file = try Fixtures.bundled.appendingPathComponent("golden").appendingPathComponent(relativePath)
    guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
        Issue.record(
            "no golden file \(relativePath); run the tests with XENTEST_UPDATE_GOLDEN=1 to write it",
            sourceLocation: sourceLocation
        )
        return
    }
    guard actual != expected else { return }
    let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let index =
        zip(actualLines, expectedLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? min(actualLines.count, expectedLines.count)
    let expectedLine = index < expectedLines.count ? String(expectedLines[index]) : "(end of file)"
    let actualLine = index < actualLines.count ? String(actualLines[index]) : "(end of output)"
    Issue.record(
        """
        output differs from golden file \(relativePath) at line \(index + 1):
          expected: \(expectedLine)
          actual:   \(actualLine)
        (XENTEST_UPDATE_GOLDEN=1 rewrites the golden files; review the diff before committing)
        """,
        sourceLocation: sourceLocation
    )
}

/// Expects `lines` to match `patterns` one for one (see `lineMatches`), showing all lines when they do not.
func expectLines(_ lines: [String], _ patterns: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let ok = lines.count == patterns.count && zip(lines, patterns).allSatisfy { lineMatches($0, pattern: $1) }
    #expect(
        ok,
        "expected:\n\(patterns.joined(separator: "\n"))\ngot:\n\(lines.joined(separator: "\n"))",
        sourceLocation: sourceLocation
    )
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
func lineMatches(_ text: String, pattern: String) -> Bool {
    let parts = pattern.components(separatedBy: "*")
    guard parts.count > 1 else { return text == pattern }
    var rest = Substring(text)
    guard rest.hasPrefix(parts[0]) else { return false }
    rest = rest.dropFirst(parts[0].count)
    for part in parts.dropFirst().dropLast() where !part.isEmpty {
        guard let range = rest.range(of: part) else { return false }
        rest = rest[range.upperBound...]
    }
    return rest.hasSuffix(parts[parts.count - 1])
}

extension Lab {
    /// Runs a plan in the lab as `xentest lab run` does, without the command line: boots it if needed, runs
    /// through `backend` and writes the reports; returns the run's exit status.
    func runPlan(_ options: RunOptions, backend: BackendKind = .xl) async throws -> XentestExitStatus {
        let target = try await runTarget(backend: backend)
        var options = options
        options.hostConfigPath = options.hostConfigPath ?? target.hostConfigPath
        let backend = try BackendFactory.make(target.selection)
        let loaded = try RunJob.load(options)
        let prepared = try await RunJob.prepare(
            loaded,
            options: options,
            backend: backend,
            logger: Logger(label: "test")
        )
        let outcome = try await RunJob.run(prepared, resultsRoot: options.resultsRoot, progress: SilentRecorder())
        await target.selection.close()
        try RunReports.write(outcome.result, into: outcome.directory.path)
        return outcome.status
    }
}
