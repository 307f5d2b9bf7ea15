/// A KCIDB report as schema v5.3 (kcidb-io's `kcidb_io.schema.V5_3`) has it: the objects and the fields xentest
/// fills. Property names are the schema's in camel case; the encoder writes them in snake case (`start_time`). An
/// absent optional is left out: the schema allows no nulls.
struct KCIDBReport: Encodable {
    /// The schema version the report follows.
    var version = KCIDBVersion()
    var checkouts: [Checkout] = []
    var builds: [Build] = []
    var tests: [Test] = []
    var issues: [Issue] = []
    var incidents: [Incident] = []

    /// Free-form data (`misc`): snake-case keys, values of a few JSON types.
    typealias Misc = [String: MiscValue]

    /// The source under test: here the Xen release the plan names.
    struct Checkout: Encodable {
        var id: String
        var origin: String
        var comment: String
        var startTime: String
        var originTestsFinishTime: String?
        var valid: Bool
        var misc: Misc
    }

    /// A build of the checkout: here the host the run ran on, with its Xen, dom0 kernel and toolstack.
    struct Build: Encodable {
        var id: String
        var checkoutId: String
        var origin: String
        var comment: String
        var startTime: String
        var architecture: String?
        var configName: String
        var status: String
        var misc: Misc
    }

    /// A test run on the build: here a case.
    struct Test: Encodable {
        var id: String
        var buildId: String
        var origin: String
        var path: String
        var comment: String
        var status: String
        var duration: Double?
        var logExcerpt: String?
        var environment: Environment
        var misc: Misc
    }

    /// Where a test ran.
    struct Environment: Encodable {
        var comment: String
        var misc: Misc
    }

    /// A known issue of a case.
    struct Issue: Encodable {
        var id: String
        var version: Int
        var origin: String
        var comment: String
        var reportSubject: String
        var reportUrl: String?
        var misc: Misc
    }

    /// A known issue seen (xfail) or not seen (xpass) in a test.
    struct Incident: Encodable {
        var id: String
        var origin: String
        var issueId: String
        var issueVersion: Int
        var testId: String
        var present: Bool
        var comment: String
    }
}

/// The schema version: 5.3, the newest that kcidb-io validates.
struct KCIDBVersion: Encodable {
    var major = 5
    var minor = 3
}

/// A value in a `misc` object.
enum MiscValue: Encodable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case strings([String])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .strings(let value): try container.encode(value)
        }
    }
}
