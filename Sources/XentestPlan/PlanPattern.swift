import Synchronization

/// A regular expression from a plan (`fails-matching`, `output-matches`, `failure-matches`), under the one rule
/// every plan regex follows: Swift `Regex` syntax, case-insensitive (toolstacks capitalise their messages as they
/// like), `^` and `$` match at the start and end of every line, and the pattern is searched for anywhere in the
/// text rather than matched against all of it.
public struct PlanPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as the plan writes it.
    public let source: String

    /// A pattern that compiles; throws the compiler's error when `source` does not.
    public init(_ source: String) throws {
        try Self.cache.withLock { cache in
            if cache[source] == nil { Self.store(try Self.compile(source), for: source, in: &cache) }
        }
        self.source = source
    }

    /// Whether the pattern is found anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        let regex = Self.cache.withLock { cache -> Regex<AnyRegexOutput>? in
            if let regex = cache[source] { return regex }
            guard let regex = try? Self.compile(source) else { return nil }  // init compiled it: not reached
            Self.store(regex, for: source, in: &cache)
            return regex
        }
        guard let regex else { return false }
        return (try? regex.firstMatch(in: text)) != nil
    }

    /// The pattern as the plan writes it.
    public var description: String { source }

    /// The rule, in one place.
    private static func compile(_ source: String) throws -> Regex<AnyRegexOutput> {
        try Regex(source).ignoresCase().anchorsMatchLineEndings()
    }

    /// Compiling a pattern costs far more than matching it, and plans repeat their patterns.
    private static let cache = Mutex<[String: Regex<AnyRegexOutput>]>([:])

    /// The most patterns kept compiled. A plan has a few dozen; a process that loads plan after plan (the fuzzer
    /// found this: about 9 KB a short pattern, never freed) must not keep every pattern it ever saw.
    static let maximumCached = 256
    /// Longer patterns are compiled each time instead: a compiled pattern grows with its length, and plans write
    /// short ones.
    static let maximumCachedLength = 1024

    /// How many patterns are kept compiled now.
    static var cachedCount: Int { cache.withLock { $0.count } }

    /// Keeps `regex` unless its source is long; when the cache is full it is emptied first, so that it stays
    /// bounded and recent patterns stay in it.
    private static func store(
        _ regex: Regex<AnyRegexOutput>,
        for source: String,
        in cache: inout [String: Regex<AnyRegexOutput>]
    ) {
        guard source.utf8.count <= maximumCachedLength else { return }
        if cache.count >= maximumCached { cache.removeAll(keepingCapacity: true) }
        cache[source] = regex
    }
}
