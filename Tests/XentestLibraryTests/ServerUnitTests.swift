import Foundation
import Testing
@testable import XentestRun
@testable import XentestServer
import XentestSupport

@Suite("Results server: digests, release order, upload checks") struct ServerUnitTests {
    @Test("SHA-256 agrees with coreutils' sha256sum, across block boundaries") func sha256() throws {
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let directory = try ScratchDirectory()
            let file = try directory.write(Data(bytes), to: "input")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            process.arguments = [file]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(SHA256.hex(bytes) == String(output.prefix(64)), "length \(length)")
        }
    }

    @Test("releases in a release manager's order: rc2 < rc10 < final < next") func releaseOrder() {
        let shuffled = ["4.17.1", "4.17.0", "4.17.0-rc10", "4.3.0-rc6", "4.17.0-rc2", "4.18.0-rc1", "4.17.0-rc2"]
        #expect(
            ReleaseOrder.sorted(shuffled) == [
                "4.3.0-rc6", "4.17.0-rc2", "4.17.0-rc10", "4.17.0", "4.17.1", "4.18.0-rc1",
            ]
        )
        #expect(!ReleaseOrder.precedes("4.17.0-rc6", "4.17.0-rc6"))
    }

    func body(_ report: [String: Any], archive: String? = nil) throws -> Data {
        var object: [String: Any] = ["report": report]
        if let archive { object["archive"] = archive }
        return try JSONSerialization.data(withJSONObject: object)
    }

    func validReport() throws -> [String: Any] {
        let data = try JSONCoders.makeEncoder()
            .encode(storedRun("cc0001", release: "4.17.0-rc6", minutes: 0, [("boot", .pass)]))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func refusal(_ data: Data, _ check: UploadCheck = UploadCheck()) -> UploadRefusal? {
        do {
            _ = try check.check(data)
            return nil
        } catch { return error }
    }

    @Test("an upload is refused with its status and what to change") func refusals() throws {
        let valid = try validReport()
        #expect(refusal(try body(valid)) == nil)
        #expect(refusal(Data("{\"report\": [1,".utf8))?.status == 400)
        #expect(refusal(try body(valid), UploadCheck(maxBodyBytes: 100))?.status == 413)
        var future = valid
        future["schemaVersion"] = 2
        #expect(
            refusal(try body(future))?.message
                == "report.schemaVersion 2 is newer than this server reads (1): upgrade xentest-server"
        )
        var wrongType = valid
        var cases = try #require(valid["cases"] as? [[String: Any]])
        cases[0]["status"] = "exploded"
        wrongType["cases"] = cases
        let mismatch = try #require(refusal(try body(wrongType)))
        #expect(mismatch.status == 422)
        #expect(
            mismatch.message.hasPrefix("the report does not match its schema: report.cases[0].status"),
            "\(mismatch)"
        )
        var miscounted = valid
        miscounted["summary"] = [
            "total": 5, "pass": 5, "fail": 0, "error": 0, "skip": 0, "xfail": 0, "xpass": 0, "timeout": 0,
            "interrupted": 0,
        ]
        #expect(refusal(try body(miscounted))?.message == "report.summary does not count report.cases")
        #expect(refusal(try body(valid, archive: "not base64!"))?.message == "archive is not base64")
        #expect(
            refusal(try body(valid, archive: Data("plain".utf8).base64EncodedString()))?.message
                == "archive is not gzip (a .tar.gz)"
        )
        let large = Data([0x1f, 0x8b] + [UInt8](repeating: 0, count: 2000)).base64EncodedString()
        #expect(
            refusal(try body(valid, archive: large), UploadCheck(maxBodyBytes: 1 << 20, maxArchiveBytes: 1000))?.status
                == 413
        )
    }
}
