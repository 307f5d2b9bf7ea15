// xentest-bench: the harness's time per libvirt call next to the raw C API and to virsh (benchmarks/README.md).
//
//   xentest-bench [--host-xml PATH] [--repeats N] [--virsh-ms MS] PLAN...   measure every plan, print the table
//   xentest-bench transport ssh://USER@HOST:PORT [--identity F] [--known-hosts F] [--rounds N]
//                                                                  SSH's cost per command, unshared and shared
//   xentest-bench breakdown [--per-command-ms MS] RUN_DIR...        where finished runs' time went
//   xentest-bench host-xml                                                   print the private test host's XML
//   xentest-bench measure --sink memory|journal --host-xml PATH --warm-up PLAN [--extras N] PLAN
//                                                                  one timed run in this process; prints JSON
//
// Every timed run is a child process of its own (`measure`): it warms up on the first plan given, then runs the
// plan once, timed, and reports its peak RSS. The first memory-sink child of each plan also replays the run's
// libvirt calls through the C API and its events through the journal, N times each (--extras N).
// benchmarks/libvirt-ops.sh builds this, measures virsh and passes its time per call as --virsh-ms.
import Foundation

struct Options {
    var hostXML: String?
    var repeats = 9
    var virshMillisecondsPerCall: Double?
    var sink = EventSink.memory
    var warmUp: String?
    var extras = 0
    var plans: [String] = []

    init(_ arguments: ArraySlice<String>) throws {
        var rest = arguments
        while let argument = rest.popFirst() {
            func value() throws -> String {
                guard let value = rest.popFirst() else { throw BenchError("\(argument) needs a value") }
                return value
            }
            func count() throws -> Int {
                guard let count = Int(try value()), count >= 0 else { throw BenchError("\(argument) needs a count") }
                return count
            }
            switch argument {
            case "--host-xml": hostXML = try value()
            case "--repeats": repeats = max(try count(), 1)
            case "--virsh-ms": virshMillisecondsPerCall = Double(try value())
            case "--warm-up": warmUp = try value()
            case "--extras": extras = try count()
            case "--sink":
                guard let sink = EventSink(rawValue: try value()) else {
                    throw BenchError("--sink is memory or journal")
                }
                self.sink = sink
            default:
                guard !argument.hasPrefix("-") else { throw BenchError("unknown option \(argument)") }
                plans.append(argument)
            }
        }
    }
}

do {
    let arguments = CommandLine.arguments.dropFirst()
    switch arguments.first {
    case "host-xml": print(TestHost.xml, terminator: "")
    case "transport": try await TransportBench.main(arguments.dropFirst())
    case "breakdown": try RunBreakdown.main(arguments.dropFirst())
    case "measure":
        let options = try Options(arguments.dropFirst())
        guard let plan = options.plans.first, let hostXML = options.hostXML else {
            throw BenchError("measure needs --host-xml and a plan")
        }
        let sample = try await Harness.measure(
            planPath: plan,
            sink: options.sink,
            hostXML: hostXML,
            warmUpPath: options.warmUp ?? plan,
            extraRepeats: options.extras
        )
        print(String(decoding: try JSONEncoder().encode(sample), as: UTF8.self))
    default:
        let options = try Options(arguments)
        guard let warmUp = options.plans.first else {
            throw BenchError("usage: xentest-bench [--host-xml PATH] [--repeats N] [--virsh-ms MS] PLAN...")
        }
        let hostXML = try options.hostXML ?? TestHost.writeTemporaryFile()
        defer { if options.hostXML == nil { try? FileManager.default.removeItem(atPath: hostXML) } }
        var measurements: [(memory: PlanMeasurement, journal: PlanMeasurement)] = []
        for plan in options.plans {
            var bySink: [EventSink: PlanMeasurement] = [:]
            for sink in EventSink.allCases {
                FileHandle.standardError.write(
                    Data("xentest-bench: \(plan), events \(sink.rawValue): \(options.repeats) runs\n".utf8)
                )
                var samples: [RunSample] = []
                for index in 0..<options.repeats {
                    let extras = sink == .memory && index == 0 ? options.repeats : 0
                    var arguments = ["measure", "--sink", sink.rawValue, "--host-xml", hostXML, "--warm-up", warmUp]
                    arguments += ["--extras", String(extras), plan]
                    let sample = try measureInChild(arguments)
                    if let first = samples.first, first.apiCalls != sample.apiCalls {
                        throw BenchError("two runs of \(plan) made \(first.apiCalls) and \(sample.apiCalls) API calls")
                    }
                    samples.append(sample)
                }
                bySink[sink] = PlanMeasurement(samples: samples)
            }
            measurements.append((bySink[.memory]!, bySink[.journal]!))
        }
        print(
            Report.render(
                measurements,
                repeats: options.repeats,
                warmUp: warmUp,
                virshMilliseconds: options.virshMillisecondsPerCall
            )
        )
    }
} catch {
    FileHandle.standardError.write(Data("xentest-bench: error: \(error)\n".utf8))
    exit(1)
}

/// Runs `xentest-bench ARGUMENTS` as a child process and decodes the sample it printed.
func measureInChild(_ arguments: [String]) throws -> RunSample {
    let child = Process()
    child.executableURL = URL(
        fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    )
    child.arguments = arguments
    let output = Pipe()
    child.standardOutput = output
    try child.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    child.waitUntilExit()
    guard child.terminationStatus == 0 else {
        throw BenchError("xentest-bench \(arguments.joined(separator: " ")) failed (exit \(child.terminationStatus))")
    }
    return try JSONDecoder().decode(RunSample.self, from: data)
}
