import Foundation
import XCTest

@testable import KVProtocol

/// The committed seed corpus of `fuzz/` is what `FuzzCorpus` generates, and covers every
/// message type.
final class FuzzCorpusTests: XCTestCase {
    func testCommittedCorpusHoldsEveryGeneratedSeed() throws {
        let write = ProcessInfo.processInfo.environment["KV_WRITE_FUZZ_CORPUS"] == "1"
        for (directory, seeds) in [
            (FuzzCorpus.bodyDirectory, FuzzCorpus.bodies), (FuzzCorpus.streamDirectory, FuzzCorpus.streams),
        ] {
            if write {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for (name, bytes) in seeds {
                    try Data(bytes).write(to: directory.appendingPathComponent(name))
                }
            }
            let committed = Dictionary(
                uniqueKeysWithValues: try FuzzCorpus.files(in: directory).map { ($0.name, $0.bytes) })
            for (name, bytes) in seeds {
                XCTAssertEqual(
                    committed[name], bytes,
                    "\(directory.lastPathComponent)/\(name) differs from its generator; regenerate with KV_WRITE_FUZZ_CORPUS=1"
                )
            }
        }
    }

    func testSeedsCoverEveryMessageTypeAsBodiesAndAsStreams() throws {
        var bodyTypes: Set<MessageType> = []
        for (name, bytes) in FuzzCorpus.validBodies {
            // By the type byte: a 0.1 forward decodes as a forward.
            _ = try MessageCodec.decode(bytes)
            bodyTypes.insert(try XCTUnwrap(MessageType(rawValue: bytes[0]), name))
            XCTAssertLessThanOrEqual(bytes.count, FuzzCorpus.maxSeedSize, name)
        }
        XCTAssertEqual(bodyTypes, Set(MessageType.allCases))
        for (name, bytes) in FuzzCorpus.malformedBodies {
            XCTAssertThrowsError(try MessageCodec.decode(bytes), name)
        }
        let streamTypes = Set(
            FuzzCorpus.streams.compactMap { seed in
                seed.name.hasPrefix("valid-") ? MessageType(rawValue: seed.bytes[4]) : nil
            })
        XCTAssertEqual(streamTypes, Set(MessageType.allCases))
    }
}
