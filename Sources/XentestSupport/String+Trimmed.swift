import Foundation

extension String {
    /// The text without white space and newlines around it.
    package var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
