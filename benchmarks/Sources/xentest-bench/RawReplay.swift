import CLibvirt
import Foundation
import XentestBackendLibvirt
import XentestPlan
import XentestRun
import XentestSupport

/// What the raw C API replay measured.
struct RawMeasurement: Codable {
    var calls: Int
    /// Wall time of each timed replay of all the calls.
    var seconds: [Double]
    /// Calls that failed in the replay, and calls the harness recorded as failed (the same when both agree).
    var failedCalls: Int
    var harnessFailedCalls: Int

    var perCall: Double { median(seconds) / Double(max(calls, 1)) }
}

/// The harness's libvirt calls made again, directly with CLibvirt: the cost of the operations themselves.
enum RawReplay {
    /// One C call, with its arguments taken from the harness's evidence.
    enum Call {
        case define(name: String, xml: String)
        case lookup(String)
        case create(String)
        case suspend(String)
        case resume(String)
        case shutdown(String)
        case destroy(String)
        case undefine(String)
        case getInfo(String)
        case setVcpus(String, UInt32)
        case getVcpus(String)
        case getXML(String)
    }

    /// Replays `evidence` once to check it, then `repeats` times timed, each on a fresh connection.
    static func measure(_ evidence: [Evidence], uri: String, repeats: Int) throws -> RawMeasurement {
        let calls = try evidence.map(call(from:))
        virSetErrorFunc(nil, ignoreError)
        var measurement = RawMeasurement(
            calls: calls.count,
            seconds: [],
            failedCalls: 0,
            harnessFailedCalls: evidence.count { $0.status != 0 }
        )
        for attempt in 0...repeats {
            let (seconds, failed) = try replay(calls, uri: uri)
            if attempt == 0 { measurement.failedCalls = failed } else { measurement.seconds.append(seconds) }
        }
        return measurement
    }

    static func call(from evidence: Evidence) throws -> Call {
        let arguments = evidence.arguments
        guard let first = arguments.first else { throw BenchError("\(evidence.call) was recorded without arguments") }
        switch evidence.call {
        case "virDomainDefineXML":
            guard let open = first.range(of: "<name>"), let close = first.range(of: "</name>") else {
                throw BenchError("no <name> in the domain XML")
            }
            return .define(name: String(first[open.upperBound..<close.lowerBound]), xml: first)
        case "virDomainLookupByName": return .lookup(first)
        case "virDomainCreate": return .create(first)
        case "virDomainSuspend": return .suspend(first)
        case "virDomainResume": return .resume(first)
        case "virDomainShutdown": return .shutdown(first)
        case "virDomainDestroy": return .destroy(first)
        case "virDomainUndefineFlags": return .undefine(first)
        case "virDomainGetInfo": return .getInfo(first)
        case "virDomainSetVcpusFlags":
            guard arguments.count > 1, let count = UInt32(arguments[1]) else { throw BenchError("bad vCPU count") }
            return .setVcpus(first, count)
        case "virDomainGetVcpusFlags": return .getVcpus(first)
        case "virDomainGetXMLDesc": return .getXML(first)
        default: throw BenchError("the raw replay does not know \(evidence.call); add it to RawReplay.swift")
        }
    }

    /// Makes every call on a new connection; returns the wall time of the calls and how many failed.
    static func replay(_ calls: [Call], uri: String) throws -> (seconds: Double, failed: Int) {
        guard let connection = virConnectOpen(uri) else { throw BenchError("virConnectOpen(\(uri)) failed") }
        defer { virConnectClose(connection) }
        // The domain pointers the calls act on, by name, as any program using the C API keeps them.
        var domains: [String: OpaquePointer] = [:]
        defer { for domain in domains.values { virDomainFree(domain) } }
        func keep(_ name: String, _ domain: OpaquePointer?) {
            if let old = domains.removeValue(forKey: name) { virDomainFree(old) }
            if let domain { domains[name] = domain }
        }
        let live = VIR_DOMAIN_AFFECT_LIVE.rawValue
        var failed = 0
        let start = ContinuousClock.now
        for call in calls {
            var status: Int32 = 0
            switch call {
            case .define(let name, let xml):
                let domain = virDomainDefineXML(connection, xml)
                keep(name, domain)
                if domain == nil { status = -1 }
            case .lookup(let name):
                // Not finding the domain is an answer (the guest is gone), as in the harness.
                keep(name, virDomainLookupByName(connection, name))
            case .create(let name): status = virDomainCreate(domains[name])
            case .suspend(let name): status = virDomainSuspend(domains[name])
            case .resume(let name): status = virDomainResume(domains[name])
            case .shutdown(let name): status = virDomainShutdown(domains[name])
            case .destroy(let name): status = virDomainDestroy(domains[name])
            case .undefine(let name):
                // The flags the test driver accepts; see the README about the harness's first attempt.
                status = virDomainUndefineFlags(domains[name], VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue)
            case .getInfo(let name):
                var info = virDomainInfo()
                status = virDomainGetInfo(domains[name], &info)
            case .setVcpus(let name, let count): status = virDomainSetVcpusFlags(domains[name], count, live)
            case .getVcpus(let name): status = virDomainGetVcpusFlags(domains[name], live)
            case .getXML(let name):
                let xml = virDomainGetXMLDesc(domains[name], 0)
                if xml == nil { status = -1 }
                free(xml)
            }
            if status < 0 { failed += 1 }
        }
        return (secondsSince(start), failed)
    }
}

/// libvirt's error handler for the replay: failures are counted, not printed.
private func ignoreError(_ userData: UnsafeMutableRawPointer?, _ error: virErrorPtr?) {}
