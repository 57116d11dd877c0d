import XCTest

@testable import KVProtocol

/// FNV-1a 32, written independently of `PutHash` (Go's `hash/fnv.New32a`).
private func referenceFNV1a32(_ bytes: [UInt8]) -> UInt32 {
    let offsetBasis: UInt32 = 0x811C_9DC5
    let prime: UInt32 = 0x0100_0193
    return bytes.reduce(offsetBasis) { hash, byte in (hash ^ UInt32(byte)) &* prime }
}

final class PutHashTests: XCTestCase {
    func testReferenceImplementationKnownVectors() {
        XCTAssertEqual(referenceFNV1a32([]), 2_166_136_261)
        XCTAssertEqual(referenceFNV1a32(Array("a".utf8)), 3_826_002_220)
        XCTAssertEqual(referenceFNV1a32(Array("a".utf8)), 0xE40C_292C)
        XCTAssertEqual(referenceFNV1a32(Array("foobar".utf8)), 3_214_735_720)
        XCTAssertEqual(referenceFNV1a32(Array("foobar".utf8)), 0xBF9C_F968)
    }

    func testNewValueKnownVectors() {
        XCTAssertEqual(PutHash.newValue(previous: [], argument: []), Bytes(utf8: "2166136261"))
        XCTAssertEqual(PutHash.newValue(previous: [], argument: Bytes(utf8: "a")), Bytes(utf8: "3826002220"))
        XCTAssertEqual(PutHash.newValue(previous: Bytes(utf8: "a"), argument: []), Bytes(utf8: "3826002220"))
        XCTAssertEqual(PutHash.newValue(previous: [], argument: Bytes(utf8: "foobar")), Bytes(utf8: "3214735720"))
        XCTAssertEqual(
            PutHash.newValue(previous: Bytes(utf8: "foo"), argument: Bytes(utf8: "bar")), Bytes(utf8: "3214735720"))
        XCTAssertEqual(
            PutHash.newValue(previous: Bytes(utf8: "foob"), argument: Bytes(utf8: "ar")), Bytes(utf8: "3214735720"))
    }

    func testFnv1a32MatchesVectors() {
        XCTAssertEqual(PutHash.fnv1a32([UInt8]()), 2_166_136_261)
        XCTAssertEqual(PutHash.fnv1a32("a".utf8), 0xE40C_292C)
        XCTAssertEqual(PutHash.fnv1a32("foobar".utf8), 0xBF9C_F968)
    }

    func testNewValueIsPlainDecimalWithoutPadding() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<2_000 {
            let previous = rng.bytes(rng.below(40))
            let argument = rng.bytes(rng.below(40))
            let value = PutHash.newValue(previous: previous, argument: argument)
            XCTAssertEqual(value, Bytes(utf8: String(referenceFNV1a32(previous + argument))))
            XCTAssertTrue(value.allSatisfy { (0x30...0x39).contains($0) })
            XCTAssertTrue(value.count == 1 || value.first != 0x30, "no leading zeros")
            XCTAssertLessThanOrEqual(value.count, 10)
        }
    }

    func testUnicodeAndBinaryInput() {
        let previous = Bytes(utf8: "héllo")
        let argument: Bytes = [0, 0xFF, 0x80]
        XCTAssertEqual(
            PutHash.newValue(previous: previous, argument: argument),
            Bytes(utf8: String(referenceFNV1a32(previous + argument))))
        XCTAssertEqual(referenceFNV1a32(Bytes(utf8: "héllo")), 1_252_296_000)
    }

    /// The original course test: each PutHash returns the previous value, and the value
    /// becomes hash(previous + argument) as a decimal string.
    func testChainedPutHashLikeTheCourseTest() {
        var stored: Bytes? = nil
        var pv = ""
        for i in 0..<100 {
            let argument = String(i)
            // What the server does: previous (missing counts as ""), then the new value.
            let previous = stored ?? []
            XCTAssertEqual(previous, Bytes(utf8: pv), "step \(i) returns the previous value")
            stored = PutHash.newValue(previous: previous, argument: Bytes(utf8: argument))
            pv = String(referenceFNV1a32(Array((pv + argument).utf8)))
            XCTAssertEqual(stored, Bytes(utf8: pv))
        }
        // Fixed points of the chain, computed outside Swift (Python), so both sides cannot
        // be wrong the same way.
        var chain = ""
        var values: [String] = []
        for i in 0..<5 {
            chain = PutHash.newValue(previous: Bytes(utf8: chain), argument: Bytes(utf8: String(i))).utf8String
            values.append(chain)
        }
        XCTAssertEqual(values, ["890022063", "78513644", "3250269825", "2838261054", "4175298000"])
    }
}
