import ArgumentParser
import Foundation
import XentestPlan

/// What the shells offer at TAB (`xentest --generate-completion-script bash|zsh|fish`; the Debian package installs
/// them): plan names and plan files for a plan argument, YAML files for a host file, folders for results.
enum Completions {
    /// A plan argument: the names `xentest list` shows, then `.yaml` files and folders matching what was typed.
    static let plan = CompletionKind.custom { _, _, typed in planCandidates(typed) }

    /// A host file.
    static let hostFile = CompletionKind.file(extensions: ["yaml", "yml"])

    /// A run: its directory, journal or report.json.
    static let run = CompletionKind.file(extensions: ["jsonl", "json"])

    /// The plan names that start with `typed`, and the plan files and folders whose path does.
    static func planCandidates(_ typed: String) -> [String] {
        let names = typed.contains("/") ? [] : PlanLoader.availablePlans().map(\.name).filter { $0.hasPrefix(typed) }
        let slash = typed.lastIndex(of: "/")
        let folder = slash.map { String(typed[...$0]) } ?? ""
        let partial = slash.map { String(typed[typed.index(after: $0)...]) } ?? typed
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        var paths: [String] = []
        for entry in entries.sorted()
        where entry.hasPrefix(partial) && (!entry.hasPrefix(".") || partial.hasPrefix(".")) {
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder + entry, isDirectory: &isFolder)
            if isFolder.boolValue {
                paths.append(folder + entry + "/")
            } else if entry.hasSuffix(".yaml") || entry.hasSuffix(".yml") {
                paths.append(folder + entry)
            }
        }
        return names + paths
    }
}
