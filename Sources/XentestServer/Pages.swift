import Foundation
import XentestPlan
import XentestReport
import XentestRun
import XentestSupport

/// The server's pages: HTML made on the server, without script, readable without JavaScript. Every text that came
/// in an upload is escaped (`h`), and each page's Content-Security-Policy allows no script besides.
enum Pages {
    /// Text escaped for HTML.
    static func h(_ text: String) -> String { xmlEscaped(text) }

    /// A path segment escaped for a URL (releases and case ids are plain, but they came in an upload).
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? ""
    }

    /// The Content-Security-Policy of every page: nothing but inline style.
    static let policy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'none'"

    /// A whole page: `title`, a line of links home, and `body`.
    static func page(_ title: String, _ body: [String]) -> String {
        var out = [
            "<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
            "<meta http-equiv=\"Content-Security-Policy\" content=\"\(policy)\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">", "<title>\(h(title))</title>",
            "<style>", HTMLStyle.css, extraStyle, "</style>", "</head>", "<body>",
            "<nav><a href=\"/\">xentest results</a> · <a href=\"/hosts\">hosts</a></nav>", "<h1>\(h(title))</h1>",
        ]
        out += body
        out += ["</body>", "</html>"]
        return out.joined(separator: "\n") + "\n"
    }

    static let extraStyle = """
        table.matrix th.host { font-weight: normal; font-size: 0.85em; }
        table.matrix td.cell a { text-decoration: none; }
        .label { display: block; font-size: 0.8em; color: #57606a; }
        .label-regression { color: #a40e26; font-weight: bold; }
        .label-pass-in { color: #8a1769; }
        td.none { color: #8c959f; }
        """

    /// A verdict's badge, as `report.html` shows it.
    static func badge(_ status: CaseStatus) -> String { HTMLReporter.badge(status) }

    /// A history label, linked to the run it names.
    static func label(_ label: HistoryLabel?) -> String {
        guard let label else { return "" }
        let text = label.run.map { "<a href=\"/runs/\($0.id)\">\(h(label.text))</a>" } ?? h(label.text)
        return "<span class=\"label label-\(label.kind)\">\(text)</span>"
    }

    /// The link to a case in a run.
    static func caseLink(run: Int64, caseID: String) -> String { "/runs/\(run)/cases/\(segment(caseID))" }

    /// The home page: the releases, newest first.
    static func index(_ releases: [StoredRelease]) -> String {
        var out = [
            "<table class=\"releases\" id=\"releases\">",
            "<thead><tr><th>Release</th><th>Hosts</th><th>Runs</th>" + "<th></th></tr></thead>", "<tbody>",
        ]
        for release in releases {
            let link = "/releases/\(segment(release.release))"
            out.append(
                "<tr><td><a href=\"\(link)\">\(h(release.release))</a></td><td class=\"count\">\(release.hosts)</td>"
                    + "<td class=\"count\">\(release.runs)</td><td><a href=\"\(link)/regressions\">regressions</a></td></tr>"
            )
        }
        out += ["</tbody>", "</table>"]
        if releases.isEmpty { out.append("<p>No runs yet: testers send theirs with <code>xentest submit</code>.</p>") }
        return page("Releases", out)
    }

    /// The facts a matrix column shows of its host.
    static func hostFacts(_ host: StoredHost) -> [(String, String)] {
        let facts = host.facts
        let iommu = facts.iommu.map { $0 ? "yes" : "no" } ?? "unknown"
        return [
            ("Tester", host.tester), ("Host", facts.hostname), ("Toolstack", host.ranOn),
            ("CPU", facts.cpuModel ?? "unknown"), ("IOMMU", iommu), ("Xen", facts.xenVersion ?? "not Xen"),
            ("dom0 kernel", facts.kernel ?? "unknown"), ("Distribution", facts.distribution ?? "unknown"),
        ]
    }

    /// A two-column table of facts.
    static func facts(_ rows: [(String, String)]) -> [String] {
        ["<table class=\"facts\">", "<tbody>"]
            + rows.map { "<tr><th scope=\"row\">\(h($0.0))</th><td>\(h($0.1))</td></tr>" } + ["</tbody>", "</table>"]
    }
}
