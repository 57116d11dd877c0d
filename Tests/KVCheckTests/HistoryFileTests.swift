import KVCheck
import KVProtocol
import XCTest

final class HistoryFileTests: XCTestCase {
    func testRoundTripOfEveryKindOfOperation() throws {
        let awkward: Bytes = [0x09, 0x0A, 0x0D, 0x00, 0xFF, 0x23, 0x20]  // tab, newline, CR, NUL, #, space
        let history = [
            put(1, "k", "v", 0...10),
            get(2, "k", 5...15, "v"),
            get(2, "k", 16...17, nil),
            get(2, "k", 18...19, ""),
            putHash(3, "k", "x", 20...30, previous: ""),
            putHash(3, "k", "y", timedOutAfter: 31),
            delete(4, "k", 40...41, existed: true),
            delete(4, "k", 42...43, existed: false),
            delete(4, "k", timedOutAfter: 44),
            put(UInt64.max, "", "", UInt64.max - 1...UInt64.max),
            HistoryOperation(
                client: 5, key: awkward, call: .put(value: awkward), invokedAt: 50, outcome: .returned(at: 51, .stored)),
            HistoryOperation(
                client: 5, key: awkward, call: .putHash(argument: awkward), invokedAt: 52,
                outcome: .returned(at: 53, .previous(awkward))),
        ]
        let text = HistoryFile.encode(history)
        XCTAssertTrue(text.hasPrefix(HistoryFile.header + "\n"))
        XCTAssertEqual(text.split(separator: "\n").count, history.count + 1, "one line per operation:\n\(text)")
        XCTAssertEqual(try HistoryFile.decode(text), history)
    }

    func testTheDocumentedExampleReads() throws {
        let text =
            "# kvcheck history v1\n1\t6b\tput\t31\t100\t180\tok\n2\t6b\tget\t-\t150\t210\tvalue:31\n"
            + "3\t6b\tputhash\t78\t200\t?\t?\n"
        let history = try HistoryFile.decode(text)
        XCTAssertEqual(
            history,
            [put(1, "k", "1", 100...180), get(2, "k", 150...210, "1"), putHash(3, "k", "x", timedOutAfter: 200)])
        XCTAssertEqual(LinearizabilityChecker().check(history), .linearizable)
    }

    func testCommentsBlankLinesAndCRLFAreAccepted() throws {
        let text = "# saved by a chaos run\r\n\r\n1\t6b\tdelete\t-\t1\t2\tmissing\r\n# end\n"
        XCTAssertEqual(try HistoryFile.decode(text), [delete(1, "k", 1...2, existed: false)])
    }

    func testBadLinesAreReportedWithTheirNumber() {
        let good = "1\t6b\tput\t31\t1\t2\tok"
        let cases: [(line: String, reason: String)] = [
            ("1\t6b\tput\t31\t1\t2", "7 tab-separated fields"),
            ("x\t6b\tput\t31\t1\t2\tok", "client id"),
            ("1\t6z\tput\t31\t1\t2\tok", "key is not hexadecimal"),
            ("1\t6\tput\t31\t1\t2\tok", "key is not hexadecimal"),
            ("1\t6b\tappend\t31\t1\t2\tok", "unknown call"),
            ("1\t6b\tget\t31\t1\t2\tabsent", "get takes no input"),
            ("1\t6b\tput\t31\tsoon\t2\tok", "invocation time"),
            ("1\t6b\tput\t31\t1\t-2\tok", "return time"),
            ("1\t6b\tput\t31\t1\t?\tok", "unknown outcome"),
            ("1\t6b\tput\t31\t1\t2\texisted", "put cannot answer"),
            ("1\t6b\tget\t-\t1\t2\tvalue:3", "value is not hexadecimal"),
            ("1\t6b\tget\t-\t1\t2\tfound", "unknown response"),
        ]
        for (line, reason) in cases {
            XCTAssertThrowsError(try HistoryFile.decode("# header\n\(good)\n\(line)\n\(good)\n"), line) { error in
                guard let error = error as? HistoryFileError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.line, 3, line)
                XCTAssertTrue(error.reason.contains(reason), "\(line): \(error)")
            }
        }
    }

    func testVersion2ReadsAndWritesTheTransactionsCalls() throws {
        let history = [
            write(1, "k", "v", if: .revision(3), deadline: 900, 0...10, after: "v", 4),
            write(1, "k", "", if: .absent, 11...12, applied: false, after: nil),
            write(1, "k", "w", timedOutAfter: 13),
            read(2, "k", 20...30, "v", 4),
            read(2, "k", 31...32, nil),
            add(3, "k", -7, 40...50, applied: false, after: "v", 4),
            remove(3, "k", 51...52, nil),
            page(4, "k", from: "k", limit: 2, 60...70, [("k", "v", 4), ("k1", "", 5)], next: "k2"),
            page(4, "", 71...72, []),
        ]
        let text = HistoryFile.encode(history)
        XCTAssertTrue(text.hasPrefix(HistoryFile.headerV2 + "\n"), text)
        XCTAssertEqual(try HistoryFile.decode(text), history)
        let line = "1\t6b\twrite\t76;if-revision=3;deadline=900\t0\t10\tapplied:76@4"
        XCTAssertEqual(try HistoryFile.decode(line), [history[0]])
        XCTAssertEqual(
            try HistoryFile.decode("4\t6b\trange\tstart=6b;limit=2\t60\t70\tpage:6b=76@4,6b31=-@5;next=6b32"),
            [history[7]])
        for bad in [
            "1\t6b\twrite\t76;if-newer\t0\t10\tapplied:76@4", "1\t6b\tadd\tfive\t0\t10\tapplied:35@1",
            "1\t6b\tread\t-\t0\t10\tfound:76", "1\t6b\trange\tlimit=2\t0\t10\tpage:;end",
            "1\t6b\trange\tstart=-;limit=2\t0\t10\tpage:6b=76@1", "1\t6b\tread\t-\t0\t10\tapplied:76@1",
        ] {
            XCTAssertThrowsError(try HistoryFile.decode(bad), bad)
        }
    }

    func testASavedRandomHistoryChecksTheSameAfterReading() throws {
        let history = RandomHistory.generate(clients: 4, operationsPerClient: 200, keys: 3, seed: 11)
        let read = try HistoryFile.decode(HistoryFile.encode(history))
        XCTAssertEqual(read, history)
        XCTAssertEqual(LinearizabilityChecker().check(read), .linearizable)
    }
}
