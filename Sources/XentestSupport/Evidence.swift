import Foundation

/// One thing the harness did to the system, kept as evidence: an API call or a command with its outcome.
public struct Evidence: Sendable, Hashable, Codable {
    /// `api` (a libvirt call), `command` (a program run), or `console` (in-guest).
    public var kind: String
    /// What was called: `virDomainSetVcpusFlags` or the program.
    public var call: String
    /// Its arguments, as values.
    public var arguments: [String]
    /// Exit status of a command; 0 or -1 for an API call that succeeded or failed.
    public var status: Int
    /// What it returned or printed.
    public var output: String
    /// Its error text, if any.
    public var error: String
    /// How long it took.
    public var durationSeconds: Double

    /// Evidence of one call.
    public init(
        kind: String,
        call: String,
        arguments: [String],
        status: Int,
        output: String = "",
        error: String = "",
        durationSeconds: Double
    ) {
        self.kind = kind
        self.call = call
        self.arguments = arguments
        self.status = status
        self.output = output
        self.error = error
        self.durationSeconds = durationSeconds
    }
}
