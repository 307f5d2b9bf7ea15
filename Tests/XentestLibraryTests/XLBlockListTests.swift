import Testing
@testable import XentestPlan
@testable import XentestXLParsing

/// `xl block-list` and the stderr of `xl block-attach` / `block-detach`, on captures from the lab's Xen 4.17.7 (run E).
@Suite("xl block-list and block-attach/detach, on real Xen 4.17 captures") struct XLBlockListTests {
    @Test func blockListNamesEachDiskByItsVirtualDevice() throws {
        let one = try XLParse.blockList(XLCapture("block-list-1").stdout)
        #expect(
            one == [
                XLBlockRow(
                    vdev: 51712,
                    backendDomid: 0,
                    handle: 1,
                    state: 4,
                    eventChannel: 8,
                    ringRef: 8,
                    backendPath: "/local/domain/0/backend/vbd/1/51712"
                )
            ]
        )
        let two = try XLParse.blockList(XLCapture("block-list-2").stdout)
        #expect(two.map(\.name) == ["xvda", "xvdb"])
        #expect(two.map(\.vdev) == [51712, 51728])
        #expect(two.allSatisfy { $0.xenbusState == .connected })
        #expect(two.last?.backendPath == "/local/domain/0/backend/vbd/1/51728")
        #expect(try XLParse.blockList(XLCapture("block-list-after-detach").stdout) == one)
    }

    @Test(arguments: [(51712, "xvda"), (51728, "xvdb"), (51952, "xvdp"), ((1 << 28) | (26 << 8), "xvdaa"), (768, nil)])
    func virtualDeviceNumbersDecode(_ vdev: Int, _ name: String?) {
        let row = XLBlockRow(
            vdev: vdev,
            backendDomid: 0,
            handle: 0,
            state: 4,
            eventChannel: nil,
            ringRef: nil,
            backendPath: "/"
        )
        #expect(row.name == name)
    }

    /// xl prints the header and exits 0 for a guest it does not know; the complaint is on stderr only.
    @Test func blockListOfAMissingGuestIsTheHeaderAndAComplaint() throws {
        let capture = try XLCapture("block-list-nonexistent")
        #expect(capture.status == 0)
        #expect(try XLParse.blockList(capture.stdout).isEmpty)
        #expect(XLParse.stderr(capture.stderr).primaryProblem?.kind == .noSuchDomain("no-such-guest"))
    }

    @Test(arguments: [
        ("block-attach-duplicate-vdev", XLMessageKind.deviceExists),
        ("block-attach-missing-target", .diskImageMissing("/root/guest/absent.img")),
        ("block-detach-absent", .deviceNotConnected("xvdq")),
    ]) func refusedAttachAndDetachAreExplained(_ name: String, _ kind: XLMessageKind) throws {
        let capture = try XLCapture(name)
        #expect(capture.status == 1)
        let stderr = XLParse.stderr(capture.stderr)
        #expect(stderr.primaryProblem?.kind == kind)
        #expect(stderr.messages.allSatisfy { $0.kind != .unrecognized })
    }

    @Test(
        arguments: [
            ("", nil), ("Vdev BE handle state evt-ch ring-ref\n", 1),
            ("Vdev BE handle state evt-ch ring-ref BE-path\n51712 0 1 4 8 8\n", 2),
            ("Vdev BE handle state evt-ch ring-ref BE-path\nxvda 0 1 4 8 8 /l\n", 2),
            ("Vdev BE handle state evt-ch ring-ref BE-path\n51712 0 1 4 -2 8 /l\n", 2),
            ("Vdev BE handle state evt-ch ring-ref BE-path\n51712 0 1 4 8 8 l\n", 2),
        ] as [(String, Int?)]
    ) func blockListRejectsMalformedText(_ text: String, lineNumber: Int?) {
        let error = expectParseError { () throws(XLParseError) in try XLParse.blockList(text) }
        #expect(error?.command == "xl block-list")
        #expect(error?.lineNumber == lineNumber)
        #expect(error?.pointsIntoText(text) == true)
    }
}
