import KVProtocol
import XCTest

@testable import KVStorage

final class CRC32CTests: XCTestCase {
    func testStandardCheckValue() {
        XCTAssertEqual(CRC32C.checksum(b("123456789")), 0xE306_9283)
    }

    /// The iSCSI test vectors (RFC 3720, B.4).
    func testKnownVectors() {
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum([]), 0)
    }

    /// Every length and alignment the 8-byte loop and the byte loop share the work at,
    /// against a bit-at-a-time reference.
    func testAgreesWithBitwiseReferenceAtEveryLengthAndAlignment() {
        var rng = SplitMix64(seed: 11)
        let data = (0..<200).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for start in 0..<9 {
            for end in start...data.count {
                let slice = Array(data[start..<end])
                XCTAssertEqual(CRC32C.checksum(slice), bitwiseCRC32C(slice), "bytes \(start)..<\(end)")
            }
        }
    }

    /// The CPU's instruction (where the machine has it) and the tables agree at every
    /// length, alignment and seed: a record written by one is read by the other after the
    /// data directory moves to another machine.
    func testInstructionAndTablesAgree() {
        var rng = SplitMix64(seed: 23)
        let data = (0..<300).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        data.withUnsafeBytes { buffer in
            for start in 0..<9 {
                for end in start...buffer.count {
                    let slice = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
                    let seed = UInt32(truncatingIfNeeded: rng.next())
                    XCTAssertEqual(
                        CRC32C.checksum(slice, seed: seed), CRC32C.tableChecksum(slice, seed: seed),
                        "bytes \(start)..<\(end)")
                }
            }
        }
        #if arch(x86_64)
            // Every x86-64 machine this runs on since 2008 has SSE 4.2.
            XCTAssertTrue(CRC32C.hasInstruction, "the CPU's crc32 instruction was not detected")
        #endif
    }

    func testChecksumContinuesAcrossBuffers() {
        var rng = SplitMix64(seed: 5)
        let data = (0..<1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let whole = CRC32C.checksum(data)
        for cut in [0, 1, 7, 8, 9, 333, 999, 1000] {
            let first = CRC32C.checksum(Array(data[..<cut]))
            XCTAssertEqual(CRC32C.checksum(Array(data[cut...]), seed: first), whole, "cut at \(cut)")
        }
        let pieces = data.withUnsafeBytes { buffer in
            var crc: UInt32 = 0
            for start in stride(from: 0, to: 1000, by: 37) {
                crc = CRC32C.checksum(
                    UnsafeRawBufferPointer(rebasing: buffer[start..<min(start + 37, 1000)]), seed: crc)
            }
            return crc
        }
        XCTAssertEqual(pieces, whole)
    }

    /// It runs over every byte written and recovered. Timed in release builds only (a
    /// debug build checks bounds on every table lookup).
    func testThroughput() {
        let data = [UInt8](repeating: 0xA5, count: 64 * 1024 * 1024)
        let clock = ContinuousClock()
        var crc: UInt32 = 0
        let elapsed = clock.measure { crc = CRC32C.checksum(data) }
        XCTAssertNotEqual(crc, 0)
        let megabytesPerSecond =
            64.0 / (Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
        print("CRC32C: \(Int(megabytesPerSecond)) MB/s")
        #if !DEBUG
            XCTAssertGreaterThan(megabytesPerSecond, 1000, "CRC32C must keep up with the disk")
        #endif
    }

    private func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
