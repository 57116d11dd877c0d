import Foundation
import KVTestSupport
import XCTest

/// The data-model commands, run as the built kvctl against a live in-process cluster:
/// their output, JSON and exit statuses.
final class KVCtlDataModelTests: KVCtlTestCase {
    override func setUp() async throws {
        try await super.setUp()
        let primary = try await cluster.addServer()
        try await cluster.waitForView(primary: primary, backup: nil)
        let backup = try await cluster.addServer()
        try await cluster.waitForView(primary: primary, backup: backup)
    }

    private func kvctl(_ arguments: String..., input: [UInt8]? = nil) async throws -> ProcessResult {
        try await scratch.kvctl(arguments + ["--monitor", cluster.monitorAddress, "--timeout", "10"], input: input)
    }

    private func object(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(parsed as? [String: Any], text, file: file, line: line)
    }

    func testConditionalPutsSayWhyTheyDidNotApply() async throws {
        let created = try await kvctl("put", "k", "one", "--if-absent")
        XCTAssertEqual(created.status, 0, created.stderr)
        let refused = try await kvctl("put", "k", "two", "--if-absent")
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("not set") && refused.stderr.contains("--if-absent"), refused.stderr)
        let missing = try await kvctl("put", "nothing", "x", "--if-present")
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("does not exist"), missing.stderr)

        let read = try await kvctl("get", "k", "--json")
        XCTAssertEqual(read.status, 0, read.stderr)
        let entry = try object(read.stdout)
        XCTAssertEqual(entry["key"] as? String, "k")
        XCTAssertEqual(entry["value"] as? String, "one")
        XCTAssertTrue(entry["expires_in_ms"] is NSNull, read.stdout)
        XCTAssertEqual(Set(entry.keys), ["key", "value", "revision", "expires_in_ms"])
        let revision = try XCTUnwrap(entry["revision"] as? Int)

        let stale = try await kvctl("put", "k", "three", "--if-revision", "\(revision + 1)")
        XCTAssertEqual(stale.status, 1)
        XCTAssertTrue(stale.stderr.contains("revision"), stale.stderr)
        let swapped = try await kvctl("put", "k", "three", "--if-revision", "\(revision)")
        XCTAssertEqual(swapped.status, 0, swapped.stderr)
        let wrongValue = try await kvctl("put", "k", "four", "--if-value", "one")
        XCTAssertEqual(wrongValue.status, 1)
        let rightValue = try await kvctl("put", "k", "four", "--if-value", "three")
        XCTAssertEqual(rightValue.status, 0, rightValue.stderr)
        let plain = try await kvctl("get", "k")
        XCTAssertEqual(plain.stdout, "four\n")
        let after = try object(try await kvctl("get", "k", "--json").stdout)
        XCTAssertGreaterThan(try XCTUnwrap(after["revision"] as? Int), revision)

        let absent = try await kvctl("get", "nothing", "--json")
        XCTAssertEqual(absent.status, 1)
        XCTAssertEqual(absent.stdout, "")
    }

    func testTimeToLiveTtlAndPersist() async throws {
        let put = try await kvctl("put", "session", "abc", "--ttl", "1m")
        XCTAssertEqual(put.status, 0, put.stderr)
        let ttl = try await kvctl("ttl", "session")
        XCTAssertEqual(ttl.status, 0, ttl.stderr)
        let left = try XCTUnwrap(Int(ttl.stdout.trimmingCharacters(in: .newlines)), ttl.stdout)
        XCTAssertTrue((1...60_000).contains(left), "\(left)")
        let entry = try object(try await kvctl("get", "session", "--json").stdout)
        XCTAssertTrue((1...60_000).contains(try XCTUnwrap(entry["expires_in_ms"] as? Int)))

        let persist = try await kvctl("persist", "session")
        XCTAssertEqual(persist.status, 0, persist.stderr)
        let none = try await kvctl("ttl", "session")
        XCTAssertEqual(none.stdout, "none\n")
        let persistAbsent = try await kvctl("persist", "nothing")
        XCTAssertEqual(persistAbsent.status, 1)
        XCTAssertTrue(persistAbsent.stderr.contains("nothing"), persistAbsent.stderr)
        let ttlAbsent = try await kvctl("ttl", "nothing")
        XCTAssertEqual(ttlAbsent.status, 1)

        let short = try await kvctl("put", "short", "x", "--ttl", "300ms")
        XCTAssertEqual(short.status, 0, short.stderr)
        var last = try await kvctl("get", "short")
        try await waitUntil("the key is gone after its deadline", detail: { "exit \(last.status): \(last.stdout)" }) {
            last = try await kvctl("get", "short")
            return last.status == 1
        }
    }

    func testIncrAndMget() async throws {
        for (arguments, printed) in [(["n"], "1\n"), (["n", "10"], "11\n"), (["n", "-20"], "-9\n")] {
            let incr = try await scratch.kvctl(["incr"] + arguments + ["--monitor", cluster.monitorAddress])
            XCTAssertEqual(incr.stdout, printed, "\(arguments): \(incr.stderr)")
        }
        _ = try await kvctl("put", "word", "abc")
        let notANumber = try await kvctl("incr", "word")
        XCTAssertEqual(notANumber.status, 1)
        XCTAssertTrue(notANumber.stderr.contains("not an integer"), notANumber.stderr)

        _ = try await kvctl("put", "bin", "-", input: [0x61, 0xFF, 0x0A, 0x62])
        let lines = try await kvctl("mget", "n", "nothing", "bin", "word")
        XCTAssertEqual(lines.status, 1, "a key is absent")
        XCTAssertEqual(lines.stdout, "-9\n\na\\xff\\nb\nabc\n", "one line a key, bytes that are not text escaped")
        XCTAssertTrue(lines.stderr.contains("\"nothing\""), lines.stderr)
        let json = try await kvctl("mget", "n", "bin", "--json")
        XCTAssertEqual(json.status, 0, json.stderr)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(list.map { $0["key"] as? String }, ["n", "bin"])
        XCTAssertEqual(list[0]["value"] as? String, "-9")
    }

    /// A value that is not UTF-8 comes out whole in JSON, as base64, and escaped in text
    /// meant for lines.
    func testANonUTF8ValueInJSON() async throws {
        let value: [UInt8] = [0x00, 0xC3, 0x28, 0xFF, 0x22, 0x0A]
        let put = try await kvctl("put", "raw", "-", input: value)
        XCTAssertEqual(put.status, 0, put.stderr)
        let read = try await kvctl("get", "raw", "--json")
        XCTAssertEqual(read.status, 0, read.stderr)
        let entry = try object(read.stdout)
        XCTAssertTrue(entry["value"] is NSNull, read.stdout)
        let encoded = try XCTUnwrap(entry["value_base64"] as? String, read.stdout)
        XCTAssertEqual(Data(base64Encoded: encoded).map { Array($0) }, value)
        let scanned = try await kvctl("scan", "ra", "--json")
        XCTAssertEqual(try object(scanned.stdout)["value_base64"] as? String, encoded)
    }

    func testScanStreamsEveryKeyOnceAcrossPages() async throws {
        let puts = (0..<250).map { #"{"put": {"key": "user/\#($0)", "value": "v\#($0)"}}"# }
        let document = #"{"success": ["# + puts.joined(separator: ",") + "]}"
        let loaded = try await kvctl("txn", input: Array(document.utf8))
        XCTAssertEqual(loaded.status, 0, loaded.stderr)
        _ = try await kvctl("put", "other", "x")

        let keys = try await kvctl("scan", "user/", "--page-size", "30")
        XCTAssertEqual(keys.status, 0, keys.stderr)
        let expected = (0..<250).map { "user/\($0)" }.sorted()
        XCTAssertEqual(keys.stdout, expected.map { $0 + "\n" }.joined())
        let limited = try await kvctl("scan", "user/", "--limit", "7", "--page-size", "3")
        XCTAssertEqual(limited.stdout, expected.prefix(7).map { $0 + "\n" }.joined())
        let everything = try await kvctl("scan")
        XCTAssertEqual(everything.stdout.split(separator: "\n").count, 251, "all keys by default")
        let json = try await kvctl("scan", "user/1", "--json", "--match", "user/1?")
        let objects = try json.stdout.split(separator: "\n").map { try object(String($0)) }
        XCTAssertEqual(objects.map { $0["key"] as? String }, (10..<20).map { "user/\($0)" })
        XCTAssertEqual(objects.first?["value"] as? String, "v10")
    }

    func testTxnFromAFileAndFromStandardInput() async throws {
        _ = try await kvctl("put", "a", "1")
        let first = try object(try await kvctl("get", "a", "--json").stdout)
        let revision = try XCTUnwrap(first["revision"] as? Int)
        let file = scratch.directory + "/txn.json"
        try #"""
        {"compare": [{"key": "a", "target": "revision", "result": "equal", "revision": \#(revision)}],
         "success": [{"put": {"key": "a", "value": "2", "ttl_ms": 60000, "prev_kv": true}}, {"get": {"key": "a"}}],
         "failure": [{"get": {"key": "a"}}]}
        """#.write(toFile: file, atomically: true, encoding: .utf8)
        let applied = try await kvctl("txn", file)
        XCTAssertEqual(applied.status, 0, applied.stderr)
        let outcome = try object(applied.stdout)
        XCTAssertEqual(outcome["succeeded"] as? Bool, true)
        let results = try XCTUnwrap(outcome["results"] as? [[String: Any]])
        XCTAssertEqual((results[0]["prev_kv"] as? [String: Any])?["value"] as? String, "1")
        let kv = try XCTUnwrap(results[1]["kv"] as? [String: Any])
        XCTAssertEqual(kv["value"] as? String, "2")
        XCTAssertEqual(kv["revision"] as? Int, outcome["revision"] as? Int)
        XCTAssertNotNil(kv["expires_in_ms"] as? Int)

        // The same again: the revision moved on, so the failure branch runs.
        let failed = try await kvctl("txn", file)
        XCTAssertEqual(failed.status, 1, "the compares did not hold")
        let failure = try object(failed.stdout)
        XCTAssertEqual(failure["succeeded"] as? Bool, false)
        let read = try XCTUnwrap((failure["results"] as? [[String: Any]])?.first?["kv"] as? [String: Any])
        XCTAssertEqual(read["value"] as? String, "2")

        let binary =
            #"{"success": [{"put": {"key_base64": "/w==", "value_base64": "AP8="}}, {"get": {"key_base64": "/w=="}}]}"#
        let stdin = try await kvctl("txn", "-", input: Array(binary.utf8))
        XCTAssertEqual(stdin.status, 0, stdin.stderr)
        let got = try XCTUnwrap(
            ((try object(stdin.stdout))["results"] as? [[String: Any]])?.last?["kv"] as? [String: Any])
        XCTAssertEqual(got["key_base64"] as? String, "/w==")
        XCTAssertEqual(got["value_base64"] as? String, "AP8=")

        let bad = try await kvctl("txn", input: Array(#"{"success": [{"put": {"key": "a"}}]}"#.utf8))
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stdout, "")
        XCTAssertTrue(bad.stderr.contains("success[0].put"), bad.stderr)
        let missingFile = try await kvctl("txn", scratch.directory + "/none.json")
        XCTAssertEqual(missingFile.status, 1)
        XCTAssertTrue(missingFile.stderr.contains("none.json"), missingFile.stderr)
    }
}
