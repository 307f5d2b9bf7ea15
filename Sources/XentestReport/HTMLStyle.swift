/// The style sheet inlined in `report.html`: readable on screen and on paper, and without colour too (each status is
/// also its word, and the failures' words are in capitals and bold).
package enum HTMLStyle {
    package static let css = """
        body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1f2328; line-height: 1.4; }
        h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
        table { border-collapse: collapse; margin: 0.5rem 0; }
        th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
        thead th, .facts th { background: #f6f8fa; }
        td.count, td.time { text-align: right; font-variant-numeric: tabular-nums; }
        tr.total td { font-weight: bold; }
        code, pre { font-family: ui-monospace, monospace; font-size: 0.9em; }
        table.cases td:first-child code { white-space: nowrap; }
        pre { background: #f6f8fa; padding: 0.5rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
        pre.error { background: #ffebe9; }
        .status { display: inline-block; padding: 0 0.4rem; border-radius: 0.3rem; border: 1px solid; }
        .status-pass { color: #116329; background: #dafbe1; }
        .status-fail, .status-error, .status-timeout, .status-xpass { font-weight: bold; }
        .status-fail { color: #a40e26; background: #ffebe9; }
        .status-error { color: #7d2a00; background: #fff1e5; }
        .status-timeout { color: #953800; background: #fff8c5; }
        .status-xpass { color: #8a1769; background: #ffeff7; }
        .status-skip { color: #57606a; background: #f6f8fa; }
        .status-xfail { color: #7d4e00; background: #fff8c5; }
        .status-interrupted { color: #512a97; background: #fbefff; }
        tr.case-fail, tr.case-error, tr.case-timeout, tr.case-xpass { background: #fff8f8; }
        .exit { font-weight: bold; } .exit-0 { color: #116329; } .exit-1, .exit-130 { color: #a40e26; }
        .notice { border-left: 0.25rem solid #9a6700; padding-left: 0.5rem; }
        article.case-details { border-top: 1px solid #d0d7de; margin-top: 1rem; }
        dl.failing-step { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
        dl.failing-step dt { font-weight: bold; } dl.failing-step dd { margin: 0; }
        details { margin: 0.3rem 0; } summary { cursor: pointer; }
        details.logs > summary { font-style: italic; }
        """
}
