import Foundation
import KVProtocol

/// The seed inputs of the libFuzzer targets in `fuzz/`: frames of every message type and a
/// few malformed ones, as frame bodies (`fuzz/corpus/body`) and as connection byte streams
/// (`fuzz/corpus/stream`).
///
/// The committed files are generated from this list:
/// `KV_WRITE_FUZZ_CORPUS=1 swift test --filter FuzzCorpusTests`. Other files in those
/// folders are inputs a fuzzer found and are kept as regression cases.
enum FuzzCorpus {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz/corpus")
    static let bodyDirectory = root.appendingPathComponent("body")
    static let streamDirectory = root.appendingPathComponent("stream")

    /// Larger seeds slow the fuzzer down without reaching more code.
    static let maxSeedSize = 1024
    /// Seeds kept per message type.
    static let perType = 3

    static var validBodies: [(name: String, bytes: [UInt8])] {
        var seeds: [(name: String, bytes: [UInt8])] = []
        var perTypeCount: [MessageType: Int] = [:]
        for frame in SampleFrames.small + SampleFrames.frames {
            let bytes = MessageCodec.encode(frame)
            let type = frame.message.typeCode
            let count = perTypeCount[type, default: 0]
            guard bytes.count <= maxSeedSize, count < perType, !seeds.contains(where: { $0.bytes == bytes }) else {
                continue
            }
            perTypeCount[type] = count + 1
            seeds.append(("valid-\(type)-\(count + 1)", bytes))
        }
        seeds.append(("valid-forwardV1-1", LegacyFrames.forward))
        seeds.append(("valid-transferV1-1", LegacyFrames.transfer))
        return seeds
    }

    static var malformedBodies: [(name: String, bytes: [UInt8])] {
        let request = MessageCodec.encode(
            Frame(requestID: 3, message: .request(ClientRequest(op: .put, clientID: 7, seq: 1, key: [1], value: [2]))))
        return [
            ("malformed-empty", []),
            ("malformed-unknown-type", body(.getView) { _ in }.replacing(at: 0, with: 0x7F)),
            (
                "malformed-bad-magic",
                body(.hello) { w in
                    w.raw(Array("KVSX".utf8)); w.u16(1)
                }
            ),
            ("malformed-trailing-byte", body(.getView) { w in w.u8(0) }),
            ("malformed-truncated-request", Array(request.dropLast(3))),
            (
                "malformed-huge-update-count",
                body(.forward) { w in
                    w.u64(1); w.string("p:1"); w.u64(1); w.u64(1); w.u64(0); w.u32(.max)
                }
            ),
            (
                "malformed-huge-blob-length",
                body(.reply) { w in
                    w.u8(0); w.u32(.max); w.raw([1, 2, 3])
                }
            ),
            (
                "malformed-invalid-utf8-address",
                body(.ping) { w in
                    w.u16(2); w.raw([0xC0, 0x80]); w.u64(1)
                }
            ),
            (
                "malformed-bad-bool",
                body(.viewReply) { w in
                    w.u64(1); w.string("p:1"); w.string(""); w.u8(2)
                }
            ),
            (
                "malformed-unknown-op",
                body(.request) { w in
                    w.u8(9); w.u64(1); w.u64(1); w.blob([1]); w.blob([])
                }
            ),
        ]
    }

    static var bodies: [(name: String, bytes: [UInt8])] { validBodies + malformedBodies }

    static var streams: [(name: String, bytes: [UInt8])] {
        var seeds: [(name: String, bytes: [UInt8])] = []
        var covered: Set<MessageType> = []
        for (_, bytes) in validBodies {
            guard let type = MessageType(rawValue: bytes[0]), covered.insert(type).inserted else { continue }
            seeds.append(("valid-\(type)", prefixed(bytes)))
        }
        let hello = MessageCodec.encode(Frame(requestID: 1, message: .hello(version: ProtocolVersion.current)))
        let session = [
            hello,
            MessageCodec.encode(Frame(requestID: 2, message: .getView)),
            MessageCodec.encode(
                Frame(
                    requestID: 3,
                    message: .request(ClientRequest(op: .put, clientID: 9, seq: 1, key: [107], value: [118])))),
            MessageCodec.encode(
                Frame(requestID: 4, message: .request(ClientRequest(op: .get, clientID: 9, seq: 2, key: [107])))),
        ]
        seeds.append(("session", session.flatMap(prefixed)))
        seeds += [
            ("oversized-length-4GiB", [0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02]),
            ("oversized-length-limit-plus-one", length(Limits.maxFrameSize + 1) + [0x12]),
            ("length-at-limit-truncated", length(Limits.maxFrameSize) + [0x12, 0, 0, 0, 0, 0, 0, 0, 1]),
            ("empty-body", [0, 0, 0, 0]),
            ("truncated-prefix", [0, 0]),
            ("truncated-body", Array(prefixed(hello).dropLast(2))),
            ("valid-then-garbage", prefixed(hello) + [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01]),
            ("valid-then-unknown-type", prefixed(hello) + prefixed([0x7F, 0, 0, 0, 0, 0, 0, 0, 2])),
        ]
        return seeds
    }

    static func prefixed(_ body: [UInt8]) -> [UInt8] { length(body.count) + body }

    static func length(_ count: Int) -> [UInt8] {
        var w = WireWriter()
        w.u32(UInt32(truncatingIfNeeded: count))  // a mutation may ask for 2^32 (wraps to 0)
        return w.bytes
    }

    /// Every file in `directory`, in name order.
    static func files(in directory: URL) throws -> [(name: String, bytes: [UInt8])] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { name in
            (name, [UInt8](try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func replacing(at index: Int, with byte: UInt8) -> [UInt8] {
        var copy = self
        copy[index] = byte
        return copy
    }
}
