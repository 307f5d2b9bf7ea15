import Foundation
import XentestPlan
import XentestRun
import XentestSupport

/// The report formats `--report FORMAT:PATH` and `xentest report --format` accept.
public enum ReportFormat: String, Sendable, CaseIterable {
    case json, junit, markdown, tap, html, kcidb

    /// The formats' names as help text lists them: `json, junit, markdown, tap, html or kcidb`.
    public static var names: String {
        let all = allCases.map(\.rawValue)
        return all.dropLast().joined(separator: ", ") + " or " + all[all.count - 1]
    }

    /// The file name a run directory uses for this format.
    public var defaultFileName: String {
        switch self {
        case .json: "report.json"
        case .junit: "junit.xml"
        case .markdown: "summary.md"
        case .tap: "report.tap"
        case .html: "report.html"
        case .kcidb: "kcidb.json"
        }
    }

    /// Renders `result` in this format: a pure function of the result.
    public func render(_ result: RunResult) -> String {
        switch self {
        case .json: JSONReporter.render(result)
        case .junit: JUnitReporter.render(result)
        case .markdown: MarkdownSummaryReporter.render(result)
        case .tap: TAPReporter.render(result)
        case .html: HTMLReporter.render(result)
        case .kcidb: KCIDBReporter.render(result)
        }
    }
}

/// `report.json`: the whole result, versioned (`schemaVersion`), keys sorted, dates in UTC ISO 8601.
public enum JSONReporter {
    /// `result` as pretty-printed JSON ending in a newline; `{}` if it cannot be encoded.
    public static func render(_ result: RunResult) -> String {
        let encoder = JSONCoders.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(result) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Reads a report back.
    public static func decode(_ text: String) throws -> RunResult {
        try JSONCoders.makeDecoder().decode(RunResult.self, from: Data(text.utf8))
    }
}

/// Shared wording of a case's outcome for the human-readable reports.
package enum CaseWording {
    package static func seconds(_ value: Double) -> String { String(format: "%.3fs", value) }

    package static func failingStep(_ testCase: CaseResult) -> StepResult? {
        (testCase.steps + testCase.teardown).first { $0.status != .pass }
    }

    /// What a step expected and what happened: `expected succeeds; failed: ...`, or the message alone when it says
    /// what was expected itself (`expected 2 vCPUs online, saw 1 vCPUs online`).
    static func expectedAndSeen(_ step: StepResult) -> String {
        guard let message = step.message else { return "expected \(step.expected); \(step.status.rawValue)" }
        return message.hasPrefix("expected ") ? message : "expected \(step.expected); \(message)"
    }
}

/// The reports of a run directory.
public enum RunReports {
    /// The formats every run directory gets.
    public static let formats: [ReportFormat] = [.json, .junit, .markdown, .html]

    /// Writes `report.json`, `junit.xml`, `summary.md` and `report.html` into `directory` (and `extra` reports
    /// elsewhere); returns their paths.
    @discardableResult public static func write(
        _ result: RunResult,
        into directory: String,
        extra: [(ReportFormat, String)] = []
    ) throws -> [String] {
        let files = formats.map { ($0, directory + "/" + $0.defaultFileName) } + extra
        for (format, file) in files { try format.render(result).write(toFile: file, atomically: true, encoding: .utf8) }
        return files.map(\.1)
    }
}
