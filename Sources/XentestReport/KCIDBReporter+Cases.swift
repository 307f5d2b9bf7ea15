import Foundation
import XentestPlan
import XentestRun
import XentestSupport

extension KCIDBReporter {
    /// KCIDB's status for a case's: the mapping the type's documentation gives.
    static func status(_ status: CaseStatus) -> String {
        switch status {
        case .pass, .xpass: "PASS"
        case .fail, .xfail: "FAIL"
        case .error, .timeout: "ERROR"
        case .skip: "SKIP"
        case .interrupted: "MISS"
        }
    }

    /// `xentest.<plan>.<area>.<case id>`, each part fit for a KCIDB path.
    static func path(plan: String, area: String, caseID: String) -> String {
        [origin, plan, area, caseID].map(pathPart).joined(separator: ".")
    }

    /// A path part: letters, digits, `_` and `-` kept, anything else (a dot too) made `_`; never empty.
    static func pathPart(_ part: String) -> String {
        let kept = String(
            String.UnicodeScalarView(
                part.unicodeScalars.map { scalar in
                    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                        || scalar == "_" || scalar == "-" ? scalar : "_"
                }
            )
        )
        return kept.isEmpty ? "_" : kept
    }

    /// One case as a test: its status, title and time, and for a case that ran or was cut off and did not pass, an
    /// excerpt of why (a skip's reason is in `misc`).
    static func test(_ testCase: CaseResult, of result: RunResult, id: String, buildID: String) -> KCIDBReport.Test {
        var misc: KCIDBReport.Misc = [
            "xentest_status": .string(testCase.status.rawValue), "area": .string(text(testCase.area)),
            "backend": .string(testCase.backend.rawValue),
        ]
        if let reason = testCase.reason { misc["reason"] = .string(text(reason)) }
        if let known = testCase.knownIssue { misc["known_issue"] = .string(text(known)) }
        if testCase.status == .xpass {
            misc["note"] = .string("xpass: passed, though a known issue says this case fails on this host")
        }
        let ran = !(testCase.steps.isEmpty && testCase.teardown.isEmpty)
        return KCIDBReport.Test(
            id: id,
            buildId: buildID,
            origin: origin,
            path: path(plan: result.plan, area: testCase.area, caseID: testCase.id),
            comment: text(testCase.title),
            status: status(testCase.status),
            duration: ran ? testCase.durationSeconds : nil,
            logExcerpt: testCase.status == .pass || testCase.status == .skip ? nil : excerpt(testCase),
            environment: KCIDBReport.Environment(
                comment: text(result.toolstackAndHost),
                misc: ["hostname": .string(text(result.host.hostname)), "backend": .string(testCase.backend.rawValue)]
            ),
            misc: misc
        )
    }

    /// Why the case did not pass: its reason and failing step, then its evidence; when that is more than the
    /// schema allows, the evidence's end (the failure is at its end, teardown and logs after it). Nil when there is
    /// nothing to say.
    static func excerpt(_ testCase: CaseResult) -> String? {
        var head: [String] = []
        if let reason = testCase.reason { head.append(reason) }
        // A failing case's reason is usually its failing step's message already (`step 2 (vcpu-list): ...`).
        if let step = CaseWording.failingStep(testCase), !(testCase.reason ?? "").contains(step.message ?? "\0") {
            head.append("failing step \(step.index + 1) (\(step.label)): \(CaseWording.expectedAndSeen(step))")
        }
        let headText = text(head.joined(separator: "\n"))
        let evidence = text(testCase.evidenceText)
        let whole = [headText, evidence].filter { !$0.isEmpty }.joined(separator: "\n\n")
        guard !whole.isEmpty else { return nil }
        guard whole.unicodeScalars.count > excerptLimit else { return whole }
        let lead = headText.isEmpty ? "…" : headText + "\n\n…"
        let room = excerptLimit - lead.unicodeScalars.count
        guard room > 0 else { return String(String.UnicodeScalarView(headText.unicodeScalars.prefix(excerptLimit))) }
        return lead + String(String.UnicodeScalarView(evidence.unicodeScalars.suffix(room)))
    }

    /// A known issue (the case's `knownIssue`: its summary, then its link in parentheses when it has one) as a KCIDB
    /// issue, with an id made from that text and nothing else in it that a run or plan could change: every run that
    /// meets the issue sends the same object.
    static func issue(_ known: String) -> KCIDBReport.Issue {
        var summary = known
        var link: String?
        if known.hasSuffix(")"), let open = known.range(of: " (", options: .backwards) {
            let inside = String(known[open.upperBound..<known.index(before: known.endIndex)])
            if (inside.hasPrefix("https://") || inside.hasPrefix("http://")) && URL(string: inside) != nil
                && !inside.contains(where: \.isWhitespace)
            {
                link = inside
                summary = String(known[..<open.lowerBound])
            }
        }
        return KCIDBReport.Issue(
            id: "\(origin):issue-\(fnv1a(known))",
            version: 1,
            origin: origin,
            comment: text(summary),
            reportSubject: text(summary),
            reportUrl: link,
            misc: ["known_issue": .string(text(known))]
        )
    }

    /// FNV-1a, 64 bits, in hex: a short id that is the same for the same text on every machine and every run.
    static func fnv1a(_ value: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in value.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
