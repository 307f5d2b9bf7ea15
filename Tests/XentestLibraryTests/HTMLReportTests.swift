import Foundation
import Testing
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestSupport

/// Markup a guest console or a toolstack could print: a script, an element with an id, an entity, both quotes.
let hostilePayload = "<script>alert(1)</script><b id=\"injected\">&amp;</b>'"

/// The sample result with `hostilePayload` in every text a result carries: the failed case's id, title, reason,
/// step labels and messages, evidence arguments, output and error, its logs, and the host's name. The evidence
/// output also holds `foldedMarker`, which only an opened `<details>` shows.
func hostileResult() -> RunResult {
    var result = sampleResult()
    result.planTitle = "Plan " + hostilePayload
    result.host.hostname = "host" + hostilePayload
    var failed = result.cases[1]
    failed.title = "Title " + hostilePayload
    failed.reason = "step 2 (vcpu-list): " + hostilePayload
    failed.steps[1].message = "saw " + hostilePayload
    failed.steps[1].evidence[0].arguments.append(hostilePayload)
    failed.steps[1].evidence[0].output = "\(foldedMarker)\nconsole: " + hostilePayload
    failed.steps[1].evidence[0].error = "libvirt: " + hostilePayload
    failed.teardown.append(
        StepResult(
            index: 10,
            label: "logs: xentest-r1-x",
            expected: "kept",
            status: .pass,
            message: nil,
            durationSeconds: 0.1,
            attempts: 1,
            evidence: [
                Evidence(
                    kind: "command",
                    call: "tail",
                    arguments: ["-n", "40", "/var/log/xen/xl-xentest-r1-x.log"],
                    status: 0,
                    output: "libxl: error: " + hostilePayload,
                    durationSeconds: 0.01
                )
            ]
        )
    )
    result.cases[1] = failed
    return result
}

/// A line of the failed case's evidence that shows only when its step's `<details>` is open.
let foldedMarker = "evidence-marker-7f3a"

/// A result with one case of `status`, with a step, so that each status's row and details can be looked at alone.
func oneCaseResult(_ status: CaseStatus) -> RunResult {
    var result = sampleResult()
    var testCase = result.cases[1]
    testCase.status = status
    testCase.knownIssue = status == .xfail || status == .xpass ? "vCPU unplug times out (https://example.org/b/1)" : nil
    result.cases = [testCase]
    result.summary = RunSummary(result.cases)
    return result
}

/// The tags `HTMLReporter` writes itself; any other in a report came from a result's text.
let reportTags: Set<String> = [
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "strong", "section", "table",
    "thead", "tbody", "tr", "th", "td", "span", "code", "a", "article", "dl", "dt", "dd", "details", "summary", "pre",
]

/// The names of every tag in `html`, opening and closing.
func tagNames(_ html: String) -> Set<String> {
    let regex = try! Regex("<\\/?([A-Za-z][A-Za-z0-9]*)")
    return Set(html.matches(of: regex).compactMap { $0.output[1].substring.map { String($0).lowercased() } })
}

@Suite("HTML report") struct HTMLReportTests {
    @Test("htmlEscaped escapes & < > \" ' and drops control characters but tab, newline and return") func escaping() {
        #expect(
            htmlEscaped("<a href='x' title=\"y\">&amp;</a>")
                == "&lt;a href=&apos;x&apos; title=&quot;y&quot;&gt;&amp;amp;&lt;/a&gt;"
        )
        #expect(htmlEscaped("a\u{0}b\u{1}c\u{1B}d\te\nf\rg") == "abcd\te\nf\rg")
        #expect(htmlEscaped("vCPU 1 – ünïcode ✓") == "vCPU 1 – ünïcode ✓")
    }

    @Test("no text of a result becomes markup: only the reporter's own tags, the payload escaped everywhere")
    func hostileTextIsEscaped() {
        let html = HTMLReporter.render(hostileResult())
        #expect(tagNames(html).subtracting(reportTags).isEmpty, "\(tagNames(html).subtracting(reportTags))")
        #expect(!html.contains("<script") && !html.contains("<b id="))
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b id=&quot;injected&quot;&gt;&amp;amp;&lt;/b&gt;&apos;"
        // Title, plan title, host, reason (row and details), message (failing step and its step), argument,
        // output, error, the log: each escaped where it stands.
        #expect(html.components(separatedBy: escaped).count - 1 >= 11)
        #expect(html.contains("<title>xentest: Plan " + escaped))
        #expect(html.contains("<pre class=\"output\">\n\(foldedMarker)\nconsole: " + escaped + "</pre>"))
    }

    @Test(
        "each status: its word (capitals for those that fail the run), its class, and details unless pass or skip",
        arguments: CaseStatus.allCases
    ) func statusMapping(_ status: CaseStatus) {
        let html = HTMLReporter.render(oneCaseResult(status))
        let word =
            [CaseStatus.fail, .error, .timeout, .xpass].contains(status)
            ? status.rawValue.uppercased() : status.rawValue
        #expect(html.contains("<tr class=\"case case-\(status.rawValue)\" id=\"case-1\">"))
        #expect(html.contains("<td><span class=\"status status-\(status.rawValue)\">\(word)</span></td>"))
        #expect(
            html.contains(
                "<tr id=\"count-\(status.rawValue)\"><td><span class=\"status status-\(status.rawValue)\">\(word)</span></td><td class=\"count\">1</td></tr>"
            )
        )
        let detailed = status != .pass && status != .skip
        #expect(html.contains("id=\"details-1\"") == detailed)
        #expect(html.contains("<a href=\"#details-1\">") == detailed)
        #expect(html.contains("Known issue: vCPU unplug times out") == (status == .xfail || status == .xpass))
    }

    @Test("a failed case: its failing step with what it expected and saw, each step and the logs folded")
    func failedCaseDetails() {
        let html = HTMLReporter.render(hostileResult())
        let start = html.range(of: "<article class=\"case-details case-fail\" id=\"details-2\">")!
        let article = String(html[start.lowerBound..<html[start.upperBound...].range(of: "</article>")!.upperBound])
        #expect(article.contains("<dt>Failing step</dt><dd>2, <code>vcpu-list</code>"))
        #expect(article.contains("<dt>Expected</dt><dd>succeeds</dd>"))
        #expect(article.contains("<dt>Seen</dt><dd>saw &lt;script&gt;"))
        // create, vcpu-list, the teardown and the logs: each in its own <details>, closed.
        #expect(article.components(separatedBy: "<details class=\"step\">").count - 1 == 3)
        #expect(article.components(separatedBy: "<details class=\"logs\">").count - 1 == 1)
        #expect(!article.contains("<details open"))
        #expect(article.contains("<summary>Logs <code>logs: xentest-r1-x</code>"))
        #expect(article.contains("<pre class=\"error\">\nlibvirt: &lt;script&gt;"))
    }

    @Test("the summary: counts of all eight statuses and the total, exit status, plan, release, run, times, host")
    func summary() {
        let html = HTMLReporter.render(sampleResult())
        for status in CaseStatus.allCases {
            #expect(html.contains("<tr id=\"count-\(status.rawValue)\">"), "\(status)")
        }
        #expect(html.contains("<td>total</td><td class=\"count\">8</td>"))
        #expect(html.contains("Exit status 1: a case failed"))
        for row in [
            "<th scope=\"row\">Release under test</th><td>4.3.0-rc6</td>", "<th scope=\"row\">Run</th><td>r1</td>",
            "<th scope=\"row\">Started</th><td>2023-11-14T22:13:20.000Z</td>",
            "<th scope=\"row\">Finished</th><td>2023-11-14T22:13:32.500Z, after 12.500s</td>",
            "<th scope=\"row\">Toolstack</th><td>libvirt TEST driver, libvirt 9.0.0, test:///default</td>",
            "<th scope=\"row\">Guest code</th><td>does not run (simulated host)</td>",
        ] { #expect(html.contains(row), "\(row)") }
        var passing = sampleResult()
        passing.cases = [passing.cases[0]]
        passing.summary = RunSummary(passing.cases)
        #expect(HTMLReporter.render(passing).contains("Exit status 0: nothing failed"))
        #expect(!HTMLReporter.render(passing).contains("id=\"details\""))
    }

    @Test("the same result renders the same bytes; the run directory gets report.html beside the others")
    func deterministicAndWritten() throws {
        #expect(HTMLReporter.render(hostileResult()) == HTMLReporter.render(hostileResult()))
        let directory = try ScratchDirectory()
        let files = try RunReports.write(sampleResult(), into: directory.path)
        #expect(
            files.map { URL(fileURLWithPath: $0).lastPathComponent } == [
                "report.json", "junit.xml", "summary.md", "report.html",
            ]
        )
        #expect(
            try String(contentsOfFile: directory.path + "/report.html", encoding: .utf8)
                == HTMLReporter.render(sampleResult())
        )
    }
}
