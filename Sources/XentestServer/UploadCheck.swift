import Foundation
import XentestRun
import XentestSupport

/// Why an upload is refused: the HTTP status and a message that tells the tester what to change.
public struct UploadRefusal: Error, Equatable, CustomStringConvertible {
    /// 400, 413 or 422.
    public var status: Int
    /// What was wrong.
    public var message: String

    /// The message.
    public var description: String { message }
}

/// Reads an upload (untrusted text from anyone with a token) into a submission, or says exactly why not: too large,
/// not JSON, a report of a schema version this server does not read, a report that does not match the schema, an
/// archive that is not base64 gzip or too large, counts that do not add up.
public struct UploadCheck: Sendable {
    /// The most bytes a request body may have.
    public var maxBodyBytes: Int
    /// The most bytes the archive may have once decoded.
    public var maxArchiveBytes: Int

    /// Limits of 32 MiB a body and 24 MiB an archive by default.
    public init(maxBodyBytes: Int = 32 << 20, maxArchiveBytes: Int = 24 << 20) {
        self.maxBodyBytes = maxBodyBytes
        self.maxArchiveBytes = maxArchiveBytes
    }

    /// The submission in `body`, and its archive's bytes.
    public func check(_ body: Data) throws(UploadRefusal) -> (RunSubmission, [UInt8]?) {
        guard body.count <= maxBodyBytes else { throw tooLarge(body.count) }
        // One parse when the upload is good; only a refused one is looked at again, to say what is wrong.
        let submission: RunSubmission
        do { submission = try JSONCoders.makeDecoder().decode(RunSubmission.self, from: body) } catch {
            throw refusal(body, decodingError: error)
        }
        // A newer report that happens to decode is still one this server may misread.
        guard submission.report.schemaVersion == RunResult.currentSchemaVersion else {
            throw refusal(body, decodingError: SchemaVersionMismatch())
        }
        try checkConsistent(submission.report)
        return (submission, try archive(submission.archive))
    }

    /// Why a body that does not decode as a submission is refused: not JSON, no report, a schema version this
    /// server does not read, or the first place where the report does not match its schema.
    private func refusal(_ body: Data, decodingError: any Error) -> UploadRefusal {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return UploadRefusal(status: 400, message: "the body is not a JSON object: upload with `xentest submit`")
        }
        guard let report = object["report"] as? [String: Any] else {
            return UploadRefusal(
                status: 422,
                message: "no \"report\" object: the body is {\"report\": report.json, ...}"
            )
        }
        guard let version = report["schemaVersion"] as? Int else {
            return UploadRefusal(status: 422, message: "report.schemaVersion is missing or not an integer")
        }
        guard version <= RunResult.currentSchemaVersion else {
            return UploadRefusal(
                status: 422,
                message: "report.schemaVersion \(version) is newer than this server reads "
                    + "(\(RunResult.currentSchemaVersion)): upgrade xentest-server"
            )
        }
        guard version == RunResult.currentSchemaVersion else {
            return UploadRefusal(status: 422, message: "report.schemaVersion \(version) is not one this server reads")
        }
        return UploadRefusal(
            status: 422,
            message: "the report does not match its schema: \(Self.describe(decodingError))"
        )
    }

    /// A refusal for a body of `count` bytes.
    public func tooLarge(_ count: Int) -> UploadRefusal {
        UploadRefusal(
            status: 413,
            message: "the upload is \(count) bytes, more than this server takes (\(maxBodyBytes))"
        )
    }

    private func checkConsistent(_ report: RunResult) throws(UploadRefusal) {
        func refuse(_ message: String) -> UploadRefusal { UploadRefusal(status: 422, message: message) }
        guard !report.runID.isEmpty, !report.release.isEmpty, !report.plan.isEmpty else {
            throw refuse("report.runID, report.plan and report.release must not be empty")
        }
        guard RunSummary(report.cases) == report.summary else {
            throw refuse("report.summary does not count report.cases")
        }
        var seen = Set<String>()
        for testCase in report.cases {
            guard !testCase.id.isEmpty, seen.insert(testCase.id).inserted else {
                throw refuse("report.cases has an empty or repeated id '\(testCase.id)'")
            }
        }
    }

    private func archive(_ text: String?) throws(UploadRefusal) -> [UInt8]? {
        guard let text else { return nil }
        guard let data = Data(base64Encoded: text) else {
            throw UploadRefusal(status: 422, message: "archive is not base64")
        }
        guard data.count <= maxArchiveBytes else {
            throw UploadRefusal(
                status: 413,
                message: "the archive is \(data.count) bytes, more than this server takes (\(maxArchiveBytes))"
            )
        }
        guard data.starts(with: [0x1f, 0x8b]) else {
            throw UploadRefusal(status: 422, message: "archive is not gzip (a .tar.gz)")
        }
        return Array(data)
    }

    /// `report.cases[2].status: ...`: where a decoding error is, and what it is.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined().drop { $0 == "." }
                .description
        }
        switch error {
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)): missing value"
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing"
        case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// A report decoded, but of another schema version than this server's (the refusal says which).
private struct SchemaVersionMismatch: Error {}
