import Foundation

/// A length of time written in a plan: `500ms`, `30s`, `2m`, `1h`.
public struct PlanDuration: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The length in milliseconds.
    public var milliseconds: Int

    /// A duration of `milliseconds`.
    public init(milliseconds: Int) { self.milliseconds = milliseconds }

    /// A duration of whole seconds.
    public static func seconds(_ seconds: Int) -> PlanDuration { PlanDuration(milliseconds: seconds * 1000) }

    /// As a Swift `Duration`, for clocks and timeouts.
    public var duration: Duration { .milliseconds(milliseconds) }

    /// The shortest exact form: `90s`, `2m`, `500ms`.
    public var description: String {
        if milliseconds % 3_600_000 == 0, milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    /// Parses `30s`, `2m`; nil when it is not a duration.
    public init?(parsing text: String) {
        guard case .success(let value) = Self.parse(text) else { return nil }
        self = value
    }

    /// Parses `NUMBER UNIT` with unit ms, s, m or h; at most a day.
    public static func parse(_ text: String) -> Result<PlanDuration, ValueError> {
        let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            let number = text.dropLast(unit.count)
            guard let value = Int(number), value >= 0 else { break }
            guard value <= 86_400_000 / scale else { return .failure(ValueError("'\(text)' is longer than a day")) }
            guard value > 0 else { return .failure(ValueError("'\(text)' must be longer than zero")) }
            return .success(PlanDuration(milliseconds: value * scale))
        }
        return .failure(ValueError("'\(text)' is not a duration; write a number and a unit: 500ms, 30s, 2m, 1h"))
    }
}

/// Why a value's text is not acceptable, for a diagnostic.
public struct ValueError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with the text.
    public var message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
