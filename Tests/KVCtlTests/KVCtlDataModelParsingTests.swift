import ArgumentParser
import Foundation
import KVClient
import KVProtocol
import KVTestSupport
import XCTest

@testable import KVCtl

/// The data-model commands' arguments, `kvctl txn`'s JSON in and out, and the escaping
/// of bytes that are not text, without a cluster.
final class KVCtlDataModelParsingTests: XCTestCase {
    private func parse<Command: ParsableCommand>(_ arguments: [String], as type: Command.Type) throws -> Command {
        let parsed = try KVCtlCommand.parseAsRoot(arguments)
        return try XCTUnwrap(parsed as? Command, "\(arguments) parses as \(type)")
    }

    func testPutConditionsAndTimeToLive() throws {
        XCTAssertEqual(try parse(["put", "k", "v"], as: PutCommand.self).condition, .always)
        XCTAssertNil(try parse(["put", "k", "v"], as: PutCommand.self).ttl)
        XCTAssertEqual(try parse(["put", "k", "v", "--if-absent"], as: PutCommand.self).condition, .ifAbsent)
        XCTAssertEqual(try parse(["put", "k", "v", "--if-present"], as: PutCommand.self).condition, .ifPresent)
        XCTAssertEqual(
            try parse(["put", "k", "v", "--if-revision", "12"], as: PutCommand.self).condition, .ifRevision(12))
        XCTAssertEqual(
            try parse(["put", "k", "v", "--if-value", "old"], as: PutCommand.self).condition,
            .ifValue(Bytes("old".utf8)))
        for (text, milliseconds) in [("10s", 10_000), ("500ms", 500), ("2m", 120_000), ("1.5s", 1_500), ("250", 250)] {
            let put = try parse(["put", "k", "v", "--ttl", text], as: PutCommand.self)
            XCTAssertEqual(put.ttl, .milliseconds(Int64(milliseconds)), text)
        }
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["put", "k", "v", "--if-absent", "--if-present"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["put", "k", "v", "--if-revision", "-1"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["put", "k", "v", "--ttl", "soon"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["put", "k", "v", "--ttl", "0s"]))
    }

    func testIncrTakesANegativeAmount() throws {
        XCTAssertEqual(try parse(["incr", "k"], as: IncrCommand.self).by, 1)
        XCTAssertEqual(try parse(["incr", "k", "7"], as: IncrCommand.self).by, 7)
        XCTAssertEqual(try parse(["incr", "k", "-5"], as: IncrCommand.self).by, -5)
        XCTAssertEqual(try parse(["incr", "k", "--", "-5"], as: IncrCommand.self).by, -5)
        XCTAssertEqual(try parse(["incr", "k", "-5", "--timeout", "3"], as: IncrCommand.self).options.timeout, 3)
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["incr", "k", "1.5"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["incr", "k", "1", "2"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["incr", "k", "--bogus"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["incr", "k", "99999999999999999999"]))
    }

    func testScanMgetAndTxnArguments() throws {
        let scan = try parse(["scan"], as: ScanCommand.self)
        XCTAssertEqual(scan.prefix, "")
        XCTAssertNil(scan.limit)
        let limited = try parse(["scan", "user/", "--limit", "10", "--json", "--match", "*x"], as: ScanCommand.self)
        XCTAssertEqual(limited.prefix, "user/")
        XCTAssertEqual(limited.limit, 10)
        XCTAssertEqual(limited.match, "*x")
        XCTAssertTrue(limited.json)
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["scan", "--limit", "0"]))
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["scan", "--page-size", "100001"]))
        XCTAssertEqual(try parse(["mget", "a", "b", "c"], as: MGetCommand.self).keys, ["a", "b", "c"])
        XCTAssertThrowsError(try KVCtlCommand.parseAsRoot(["mget"]))
        XCTAssertEqual(try parse(["txn"], as: TxnCommand.self).file, "-")
        XCTAssertEqual(try parse(["txn", "t.json"], as: TxnCommand.self).file, "t.json")
        XCTAssertTrue(try parse(["get", "k", "--json"], as: GetCommand.self).json)
    }

    // MARK: - Transactions in JSON

    private func txn(_ json: String) throws -> Txn { try TxnJSON.parse(Array(json.utf8)) }

    private func assertRefused(_ json: String, mentions expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try txn(json), line: line) { error in
            XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)", line: line)
        }
    }

    func testTheDocumentedShapeParses() throws {
        let parsed = try txn(
            """
            {"compare": [{"key": "a", "target": "revision", "result": "equal", "revision": 3},
                         {"key": "b", "target": "value", "result": "not_equal", "value": "x"},
                         {"key": "c", "target": "exists", "result": "not_equal"},
                         {"key_base64": "/w==", "value": "y", "result": ">"}],
             "success": [{"put": {"key": "a", "value": "b", "ttl_ms": 1000}},
                         {"put": {"key": "a", "value_base64": "AP8=", "keep_ttl": true, "prev_kv": true}},
                         {"put": {"key": "a", "value": "", "expires_at_ms": 1700000000000}},
                         {"get": {"key": "a"}}, {"delete": {"key": "b"}},
                         {"add": {"key": "n"}}, {"add": {"key": "n", "by": -3}}, {"add_float": {"key": "f", "by": 0.5}},
                         {"append": {"key": "s", "value": "!"}},
                         {"expire": {"key": "a", "ttl_ms": 10, "condition": "if_later"}},
                         {"expire": {"key": "a", "persist": true}},
                         {"rename": {"key": "a", "to": "b", "only_if_absent": true}},
                         {"range": {"prefix": "p/", "pattern": "p/*", "limit": 50, "keys_only": true}},
                         {"delete_all": {}},
                         {"txn": {"success": [{"get": {"key": "z"}}]}}],
             "failure": [{"get": {"key": "a"}}]}
            """)
        let a = Bytes("a".utf8)
        XCTAssertEqual(
            parsed.compares,
            [
                Compare(key: a, .revision(3), .equal),
                Compare(key: Bytes("b".utf8), .value(Bytes("x".utf8)), .notEqual),
                .absent(Bytes("c".utf8)), Compare(key: [0xFF], .value(Bytes("y".utf8)), .greater),
            ])
        XCTAssertEqual(
            parsed.success,
            [
                .put(a, value: Bytes("b".utf8), expiry: .after(1000), returnPrevious: false),
                .put(a, value: [0x00, 0xFF], expiry: .keep, returnPrevious: true),
                .put(a, value: [], expiry: .at(1_700_000_000_000), returnPrevious: false),
                .get(a), .delete(Bytes("b".utf8)), .add(Bytes("n".utf8), 1), .add(Bytes("n".utf8), -3),
                .addFloat(Bytes("f".utf8), 0.5), .append(Bytes("s".utf8), Bytes("!".utf8)),
                .expire(a, .after(10), .ifLater), .expire(a, .never, .always),
                .rename(a, to: Bytes("b".utf8), onlyIfAbsent: true),
                .range(
                    KeyRange(
                        start: Bytes("p/".utf8), prefix: Bytes("p/".utf8), pattern: Bytes("p/*".utf8), limit: 50,
                        keysOnly: true)),
                .deleteAll, .txn(Txn(success: [.get(Bytes("z".utf8))])),
            ])
        XCTAssertEqual(parsed.failure, [.get(a)])
        XCTAssertEqual(try txn("{}"), Txn(success: []), "every part may be left out")
    }

    func testMistakesAreRefusedWithWhereTheyAre() {
        assertRefused(#"{"succes": []}"#, mentions: "succes: unknown field")
        assertRefused(#"{"success": [{"put": {"key": "a"}}]}"#, mentions: "success[0].put: missing field \"value\"")
        assertRefused(#"{"success": [{"put": {"key": "a", "value": 1}}]}"#, mentions: "success[0].put.value")
        assertRefused(#"{"success": [{"frob": {}}]}"#, mentions: "unknown operation")
        assertRefused(#"{"success": [{"get": {"key": "a"}, "put": {}}]}"#, mentions: "one field")
        assertRefused(#"{"success": [{"get": {"key": "a", "value": "x"}}]}"#, mentions: "success[0].get.value")
        assertRefused(
            #"{"success": [{"put": {"key": "a", "value": "x", "value_base64": "eA=="}}]}"#, mentions: "not both")
        assertRefused(#"{"success": [{"put": {"key": "a", "value_base64": "!!"}}]}"#, mentions: "not base64")
        assertRefused(
            #"{"success": [{"put": {"key": "a", "value": "x", "ttl_ms": 1, "keep_ttl": true}}]}"#, mentions: "only one")
        assertRefused(#"{"success": [{"expire": {"key": "a"}}]}"#, mentions: "ttl_ms")
        assertRefused(#"{"success": [{"range": {"limit": 0}}]}"#, mentions: "limit")
        assertRefused(#"{"compare": [{"key": "a", "result": "about"}]}"#, mentions: "result")
        assertRefused(#"{"compare": [{"key": "a", "target": "exists", "result": "less"}]}"#, mentions: "exists")
        assertRefused(#"{"compare": [{"key": "a", "target": "revision", "revision": -1}]}"#, mentions: "revision")
        assertRefused(#"{"success": ["#, mentions: "JSON")
    }

    func testTheOutcomePrintsEachResultUnderItsOperation() throws {
        let txn = Txn(
            compares: [],
            success: [
                .get(Bytes("bin".utf8)), .get(Bytes("none".utf8)),
                .put(Bytes("k".utf8), value: [], expiry: .never, returnPrevious: false), .add(Bytes("n".utf8), 2),
                .range(KeyRange(limit: 2, keysOnly: true)), .add(Bytes("k".utf8), 1),
            ])
        let outcome = TxnOutcome(
            succeeded: true,
            results: [
                .value(StoredValue(value: [0x66, 0xFF, 0x00], revision: 4, expiresAt: 11_000)), .value(nil), .done,
                .integer(5), .range([RangeItem(key: Bytes("a".utf8), value: nil)], next: [0xFE]), .error(.notInteger),
            ], revision: 9, now: 10_000)
        let printed = TxnJSON.outcome(outcome, of: txn)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [String: Any], printed)
        XCTAssertEqual(object["succeeded"] as? Bool, true)
        XCTAssertEqual(object["revision"] as? Int, 9)
        XCTAssertEqual(object["now_ms"] as? Int, 10_000)
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["op"] as? String }, ["get", "get", "put", "add", "range", "add"])
        let kv = try XCTUnwrap(results[0]["kv"] as? [String: Any])
        XCTAssertEqual(kv["key"] as? String, "bin")
        XCTAssertTrue(kv["value"] is NSNull, "bytes that are not UTF-8 are no string")
        XCTAssertEqual(kv["value_base64"] as? String, "Zv8A")
        XCTAssertEqual(kv["revision"] as? Int, 4)
        XCTAssertEqual(kv["expires_in_ms"] as? Int, 1_000)
        XCTAssertTrue(results[1]["kv"] is NSNull)
        XCTAssertEqual(results[2].count, 1, "a put without prev_kv reports nothing")
        XCTAssertEqual(results[3]["value"] as? Int, 5)
        XCTAssertEqual((results[4]["kvs"] as? [[String: String]]) ?? [], [["key": "a"]])
        XCTAssertTrue(results[4]["next"] is NSNull)
        XCTAssertEqual(results[4]["next_base64"] as? String, "/g==")
        XCTAssertEqual(results[5]["error"] as? String, TxnError.notInteger.description)
    }

    // MARK: - Bytes that are not text

    func testLineOutputEscapesWhatCouldDisturbATerminal() {
        XCTAssertEqual(Output.safe(Array("plain text é".utf8)), "plain text é")
        XCTAssertEqual(Output.safe(Array("a\nb\tc\\d\u{1B}[31m".utf8)), "a\\nb\\tc\\\\d\\x1b[31m")
        XCTAssertEqual(Output.safe([0x61, 0xFF, 0x00, 0x5C]), "a\\xff\\x00\\\\")
        XCTAssertEqual(Output.safe(Array("\u{85}".utf8)), "\\u{85}")
    }

    func testJSONCarriesAnyBytesWhole() throws {
        for length in 0..<40 {
            let value = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 200) }
            let encoded = Base64.encode(value)
            XCTAssertEqual(encoded, Data(value).base64EncodedString(), "\(value)")
        }
        let entry = KVEntry(
            key: Array("k\"\n".utf8), stored: StoredValue(value: [0xC3, 0x28], revision: 2, expiresAt: 0), now: 5)
        let printed = JSON.entry(entry)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [String: Any], printed)
        XCTAssertEqual(object["key"] as? String, "k\"\n")
        XCTAssertTrue(object["value"] is NSNull)
        XCTAssertEqual(
            Data(base64Encoded: try XCTUnwrap(object["value_base64"] as? String)).map { Array($0) }, [0xC3, 0x28])
        XCTAssertTrue(object["expires_in_ms"] is NSNull, "no deadline")
    }
}
