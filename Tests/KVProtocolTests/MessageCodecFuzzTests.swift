import XCTest

@testable import KVProtocol

final class MessageCodecFuzzTests: XCTestCase {
    /// Mutates `bytes` in one of several ways chosen by `rng`.
    private func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
        switch rng.below(8) {
        case 0, 1:  // flip one bit
            guard !bytes.isEmpty else { return }
            bytes[rng.below(bytes.count)] ^= UInt8(1) << UInt8(rng.below(8))
        case 2:  // overwrite a byte
            guard !bytes.isEmpty else { return }
            bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 3:  // insert bytes
            let at = rng.below(bytes.count + 1)
            bytes.insert(contentsOf: rng.bytes(1 + rng.below(4)), at: at)
        case 4:  // delete bytes
            guard !bytes.isEmpty else { return }
            let at = rng.below(bytes.count)
            bytes.removeSubrange(at..<min(bytes.count, at + 1 + rng.below(4)))
        case 5:  // truncate
            bytes.removeLast(rng.below(bytes.count + 1))
        case 6:  // a huge length or count somewhere
            guard bytes.count >= 4 else { return }
            let at = rng.below(bytes.count - 3)
            let fill: [UInt8] = rng.below(2) == 0 ? [0xFF, 0xFF, 0xFF, 0xFF] : [0x7F, 0xFF, 0xFF, 0xF0]
            bytes.replaceSubrange(at..<at + 4, with: fill)
        default:  // duplicate a range
            guard !bytes.isEmpty else { return }
            let at = rng.below(bytes.count)
            let range = at..<min(bytes.count, at + 1 + rng.below(16))
            bytes.insert(contentsOf: bytes[range], at: rng.below(bytes.count + 1))
        }
    }

    func testRandomMutationsNeverTrap() {
        var rng = SplitMix64(seed: 0xC0DE_C0DE_2024)
        let bases =
            SampleFrames.small.map { MessageCodec.encode($0) }
            + SampleFrames.frames.map { MessageCodec.encode($0) }.filter { $0.count < 3000 }
        var decoded = 0
        var rejected = 0
        for iteration in 0..<20_000 {
            var bytes = bases[rng.below(bases.count)]
            for _ in 0...rng.below(3) { mutate(&bytes, &rng) }
            do {
                let frame = try MessageCodec.decode(bytes)
                decoded += 1
                // Whatever decodes must survive its own round trip.
                let again = MessageCodec.encode(frame)
                XCTAssertEqual(try? MessageCodec.decode(again), frame, "iteration \(iteration)")
            } catch {
                rejected += 1
                XCTAssertTrue(
                    error.code == .malformedFrame || error.code == .unknownMessageType,
                    "iteration \(iteration): unexpected code \(error.code)")
                XCTAssertFalse(error.detail.isEmpty)
            }
        }
        XCTAssertEqual(decoded + rejected, 20_000)
        XCTAssertGreaterThan(rejected, 10_000, "most mutations must be caught")
        XCTAssertGreaterThan(decoded, 100, "some mutations (value bytes) still decode")
    }

    func testRandomGarbageNeverTraps() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<5_000 {
            var bytes = rng.bytes(rng.below(200))
            // Often start with a valid type so the payload parsers are exercised.
            if !bytes.isEmpty, rng.below(2) == 0 {
                bytes[0] = MessageType.allCases[rng.below(MessageType.allCases.count)].rawValue
            }
            _ = try? MessageCodec.decode(bytes)
        }
    }
}
