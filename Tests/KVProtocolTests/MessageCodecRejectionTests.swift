import XCTest

@testable import KVProtocol

final class MessageCodecRejectionTests: XCTestCase {
    static let invalidUTF8: [[UInt8]] = [
        [0xFF],  // never valid
        [0xC0, 0x80],  // overlong NUL
        [0xED, 0xA0, 0x80],  // UTF-16 surrogate
        [0xE2, 0x82],  // truncated sequence
        [0x61, 0x80, 0x62],  // stray continuation byte
        [0xF4, 0x90, 0x80, 0x80],  // beyond U+10FFFF
    ]

    func testEmptyBody() {
        expectDecodeError([], .malformedFrame)
    }

    func testEveryPrefixOfValidFramesIsRejected() {
        let frames = SampleFrames.small + SampleFrames.frames.filter { MessageCodec.encode($0).count <= 4096 }
        var checked = 0
        for frame in frames {
            let encoded = MessageCodec.encode(frame)
            for length in 0..<encoded.count {
                // A ping cut just before its optional flags byte is an ordinary ping; a
                // helloAck without its challenge is one without authentication.
                if case .ping(let address, let viewnum, _, _, _) = frame.message,
                    length
                        == MessageCodec.encode(
                            Frame(requestID: frame.requestID, message: .ping(address: address, viewnum: viewnum))
                        ).count,
                    length < encoded.count
                {
                    let shorter = try? MessageCodec.decode(Array(encoded.prefix(length)))
                    XCTAssertEqual(shorter?.message, .ping(address: address, viewnum: viewnum, leaving: false))
                    continue
                }
                if case .serverInfoReply(var stats) = frame.message, stats.storage != nil {
                    stats.storage = nil
                    let bare = MessageCodec.encode(Frame(requestID: frame.requestID, message: .serverInfoReply(stats)))
                    if length == bare.count {
                        let shorter = try? MessageCodec.decode(Array(encoded.prefix(length)))
                        XCTAssertEqual(shorter?.message, .serverInfoReply(stats))
                        continue
                    }
                }
                if case .monitorInfoReply(var status) = frame.message, !status.waitingFor.isEmpty {
                    status.waitingFor = ""
                    let bare = MessageCodec.encode(
                        Frame(requestID: frame.requestID, message: .monitorInfoReply(status)))
                    if length == bare.count {
                        let shorter = try? MessageCodec.decode(Array(encoded.prefix(length)))
                        XCTAssertEqual(shorter?.message, .monitorInfoReply(status))
                        continue
                    }
                }
                if case .viewReply(let view) = frame.message, view.cluster != 0, length == encoded.count - 8 {
                    let shorter = try? MessageCodec.decode(Array(encoded.prefix(length)))
                    XCTAssertEqual(shorter?.message, .viewReply(view.withoutCluster))
                    continue
                }
                if case .helloAck(let version, let challenge) = frame.message, !challenge.isEmpty,
                    length == encoded.count - challenge.count
                {
                    let shorter = try? MessageCodec.decode(Array(encoded.prefix(length)))
                    XCTAssertEqual(shorter?.message, .helloAck(version: version))
                    continue
                }
                expectDecodeError(
                    Array(encoded.prefix(length)), .malformedFrame,
                    "prefix \(length)/\(encoded.count) of \(frame.message.typeCode)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 5_000)
    }

    func testTrailingBytesAreRejected() {
        for frame in SampleFrames.frames {
            let encoded = MessageCodec.encode(frame)
            for extra in [[0], [0xFF], [1, 2, 3, 4, 5, 6, 7, 8, 9]] as [[UInt8]] {
                let error = expectDecodeError(encoded + extra, .malformedFrame, "\(frame.message.typeCode) + \(extra)")
                XCTAssertTrue(error?.detail.contains("trailing") ?? false, "\(String(describing: error))")
            }
        }
    }

    func testUnknownMessageTypes() {
        let known = Set(MessageType.allCases.map(\.rawValue))
        var unknown = 0
        for type in UInt8.min...UInt8.max where !known.contains(type) {
            unknown += 1
            let body: [UInt8] = [type, 0, 0, 0, 0, 0, 0, 0, 1] + [1, 2, 3]
            expectDecodeError(body, .unknownMessageType, "type \(type)")
            expectDecodeError([type, 0, 0, 0, 0, 0, 0, 0, 1], .unknownMessageType, "bare type \(type)")
        }
        XCTAssertEqual(unknown, 256 - MessageType.allCases.count)
        // Shorter than the header: truncated before the type could be judged.
        expectDecodeError([0xEE], .malformedFrame)
    }

    func testBadHelloMagic() {
        for magic in [[0x4B, 0x56, 0x53, 0x57], [0, 0, 0, 0], Array("GET ".utf8), [0x56, 0x53, 0x56, 0x4B]] as [[UInt8]]
        {
            let bad = body(.hello) { w in
                w.raw(magic)
                w.u16(ProtocolVersion.current)
            }
            let error = expectDecodeError(bad, .malformedFrame, "magic \(magic)")
            XCTAssertTrue(error?.detail.contains("magic") ?? false)
        }
        // Truncated inside the magic.
        expectDecodeError(body(.hello) { $0.raw([0x4B, 0x56]) }, .malformedFrame)
    }

    func testInvalidBooleans() {
        for flag in [2, 3, 0x80, 0xFF] as [UInt8] {
            // viewReply: acked is the last byte.
            var view = MessageCodec.encode(
                Frame(requestID: 1, message: .viewReply(View(viewnum: 1, primary: "p", backup: "b", acked: true))))
            view[view.count - 1] = flag
            expectDecodeError(view, .malformedFrame, "acked \(flag)")

            // serversReply: alive is the last byte of the last server.
            var servers = MessageCodec.encode(
                Frame(
                    requestID: 1,
                    message: .serversReply(
                        view: .initial,
                        servers: [ServerInfo(address: "a", role: .idle, lastPingAgeMillis: 0, viewnum: 0, alive: false)]
                    )))
            servers[servers.count - 1] = flag
            expectDecodeError(servers, .malformedFrame, "alive \(flag)")

            // transfer: isLast follows viewnum, from, transferID and index.
            let chunk = TransferChunk(
                viewnum: 1, from: "p:1", transferID: 1, index: 0, isLast: true, revision: 0, entries: [], duplicates: []
            )
            var transfer = MessageCodec.encode(Frame(requestID: 1, message: .transfer(chunk)))
            let isLastOffset = 9 + 8 + (2 + 3) + 8 + 4
            XCTAssertEqual(transfer[isLastOffset], 1)
            transfer[isLastOffset] = flag
            expectDecodeError(transfer, .malformedFrame, "isLast \(flag)")
        }
    }

    func testInvalidUTF8InEveryStringField() {
        for bad in Self.invalidUTF8 {
            func string(_ w: inout WireWriter) {
                w.u16(UInt16(bad.count))
                w.raw(bad)
            }
            let cases: [(String, [UInt8])] = [
                (
                    "ping address",
                    body(.ping) { w in
                        string(&w); w.u64(1)
                    }
                ),
                (
                    "error message",
                    body(.error) { w in
                        w.u16(2); string(&w)
                    }
                ),
                (
                    "view primary",
                    body(.viewReply) { w in
                        w.u64(1); string(&w); w.string("b"); w.bool(true)
                    }
                ),
                (
                    "view backup",
                    body(.viewReply) { w in
                        w.u64(1); w.string("p"); string(&w); w.bool(true)
                    }
                ),
                (
                    "server address",
                    body(.serversReply) { w in
                        w.u64(1); w.string("p"); w.string(""); w.bool(true)
                        w.u32(1); string(&w); w.u8(1); w.u64(0); w.u64(0); w.bool(true)
                    }
                ),
                (
                    "forward sender",
                    body(.forward) { w in
                        w.u64(1); string(&w); w.u64(1); w.u64(1); w.u64(0); w.u32(0)
                    }
                ),
                (
                    "transfer sender",
                    body(.transfer) { w in
                        w.u64(1); string(&w); w.u64(1); w.u32(0); w.bool(true); w.u32(0); w.u32(0)
                    }
                ),
            ]
            for (name, bytes) in cases {
                let error = expectDecodeError(bytes, .malformedFrame, "\(name) \(bad)")
                XCTAssertTrue(error?.detail.contains("UTF-8") ?? false, "\(name): \(String(describing: error))")
            }
        }
    }

    func testValidUTF8IsAccepted() throws {
        // The same builders with valid text decode, so the test above fails for the right reason.
        let ok = body(.ping) { w in
            w.string("ünï:1"); w.u64(1)
        }
        XCTAssertEqual(try MessageCodec.decode(ok).message, .ping(address: "ünï:1", viewnum: 1))
    }

    func testPingFlagsSayExactlyWhatFollows() {
        let cases: [(String, (inout WireWriter) -> Void)] = [
            ("flags byte 0 (sent only when set)", { w in w.u8(0) }),
            ("unknown flag bit", { w in w.u8(0x08) }),
            ("incarnation flag without the incarnation", { w in w.u8(0x02) }),
            (
                "incarnation 0",
                { w in
                    w.u8(0x02); w.u64(0)
                }
            ),
            ("claim flag without the claim", { w in w.u8(0x04) }),
            (
                "unknown claim role",
                { w in
                    w.u8(0x04); w.u8(3); w.u64(1); w.string("a:1"); w.string("")
                }
            ),
            (
                "claim cut short",
                { w in
                    w.u8(0x04); w.u8(1); w.u64(1); w.string("a:1")
                }
            ),
            (
                "claim without its cluster",
                { w in
                    w.u8(0x04); w.u8(1); w.u64(1); w.string("a:1"); w.string("")
                }
            ),
            (
                "trailing byte after the claim",
                { w in
                    w.u8(0x04); w.u8(1); w.u64(1); w.string("a:1"); w.string(""); w.u64(5); w.u8(0)
                }
            ),
        ]
        for (name, tail) in cases {
            expectDecodeError(
                body(.ping) { w in
                    w.string("a:1"); w.u64(0); tail(&w)
                }, .malformedFrame, name)
        }
    }

    func testAViewReplysClusterIsEightBytesAndNeverZero() {
        let view = MessageCodec.encode(
            Frame(requestID: 1, message: .viewReply(View(viewnum: 3, primary: "a:1", backup: ""))))
        let error = expectDecodeError(view + [0, 0, 0, 0, 0, 0, 0, 0], .malformedFrame, "cluster 0")
        XCTAssertTrue(error?.detail.contains("cluster 0") ?? false, "\(String(describing: error))")
        for count in 1..<8 {
            expectDecodeError(view + [UInt8](repeating: 1, count: count), .malformedFrame, "\(count) bytes of cluster")
        }
    }

    func testUnknownEnumValues() {
        for op in [0, 5, 0xFF] as [UInt8] {
            expectDecodeError(
                body(.request) { w in
                    w.u8(op); w.u64(1); w.u64(1); w.blob([]); w.blob([])
                }, .malformedFrame, "op \(op)")
        }
        for status in [6, 0xFF] as [UInt8] {
            expectDecodeError(
                body(.reply) { w in
                    w.u8(status); w.blob([])
                }, .malformedFrame, "status \(status)")
        }
        for verdict in [4, 0xFF] as [UInt8] {
            expectDecodeError(
                body(.backupAck) { w in
                    w.u8(verdict); w.u64(1)
                }, .malformedFrame, "verdict \(verdict)")
        }
        for effect in [0, 3] as [UInt8] {
            let bytes = body(.forward) { w in
                w.u64(1); w.string("p"); w.u64(1); w.u64(1); w.u64(0); w.u32(1)
                w.u8(effect); w.blob([1]); w.blob([2]); w.u64(1); w.u64(1); w.u8(0); w.blob([])
            }
            expectDecodeError(bytes, .malformedFrame, "effect \(effect)")
        }
        for role in [0, 4] as [UInt8] {
            let bytes = body(.serversReply) { w in
                w.u64(1); w.string("p"); w.string(""); w.bool(true)
                w.u32(1); w.string("a"); w.u8(role); w.u64(0); w.u64(0); w.bool(true)
            }
            expectDecodeError(bytes, .malformedFrame, "role \(role)")
        }
    }

    func testErrorFrameWithUnknownCodeIsReadAsMalformedFrame() throws {
        let frame = try MessageCodec.decode(
            body(.error) { w in
                w.u16(999); w.string("future")
            })
        XCTAssertEqual(frame.message, .error(code: .malformedFrame, message: "future"))
    }

    func testOversizedKeysAndValuesAreRejected() {
        let bigKey = Bytes(repeating: 1, count: Limits.maxKeySize + 1)
        let bigValue = Bytes(repeating: 2, count: Limits.maxValueSize + 1)
        // The bytes are really there: the limit, not truncation, must reject them.
        let cases: [(String, [UInt8])] = [
            (
                "request key",
                body(.request) { w in
                    w.u8(2); w.u64(1); w.u64(1); w.blob(bigKey); w.blob([])
                }
            ),
            (
                "request value",
                body(.request) { w in
                    w.u8(2); w.u64(1); w.u64(1); w.blob([1]); w.blob(bigValue)
                }
            ),
            (
                "reply value",
                body(.reply) { w in
                    w.u8(0); w.blob(bigValue)
                }
            ),
            (
                "forward lease",
                body(.forward) { w in
                    w.u64(1); w.string("p"); w.u64(1); w.u64(1); w.u64(Limits.maxReadLease + 1); w.u32(0)
                }
            ),
            (
                "forward key",
                body(.forward) { w in
                    w.u64(1); w.string("p"); w.u64(1); w.u64(1); w.u64(0); w.u32(1)
                    w.u8(1); w.blob(bigKey); w.blob([]); w.u64(1); w.u64(1); w.u8(0); w.blob([])
                }
            ),
            (
                "forward value",
                body(.forward) { w in
                    w.u64(1); w.string("p"); w.u64(1); w.u64(1); w.u64(0); w.u32(1)
                    w.u8(1); w.blob([1]); w.blob(bigValue); w.u64(1); w.u64(1); w.u8(0); w.blob([])
                }
            ),
            (
                "forward reply value",
                body(.forward) { w in
                    w.u64(1); w.string("p"); w.u64(1); w.u64(1); w.u64(0); w.u32(1)
                    w.u8(1); w.blob([1]); w.blob([]); w.u64(1); w.u64(1); w.u8(0); w.blob(bigValue)
                }
            ),
            (
                "transfer key",
                body(.transfer) { w in
                    w.u64(1); w.string("p"); w.u64(1); w.u32(0); w.bool(true)
                    w.u32(1); w.blob(bigKey); w.blob([]); w.u32(0)
                }
            ),
            (
                "transfer value",
                body(.transfer) { w in
                    w.u64(1); w.string("p"); w.u64(1); w.u32(0); w.bool(true)
                    w.u32(1); w.blob([]); w.blob(bigValue); w.u32(0)
                }
            ),
            (
                "duplicate reply value",
                body(.transfer) { w in
                    w.u64(1); w.string("p"); w.u64(1); w.u32(0); w.bool(true)
                    w.u32(0); w.u32(1); w.u64(1); w.u64(1); w.u8(0); w.blob(bigValue)
                }
            ),
        ]
        for (name, bytes) in cases {
            let error = expectDecodeError(bytes, .malformedFrame, name)
            XCTAssertTrue(error?.detail.contains("exceeds") ?? false, "\(name): \(String(describing: error))")
        }
        // A length field claiming 4 GiB with nothing behind it.
        expectDecodeError(
            body(.reply) { w in
                w.u8(0); w.u32(.max)
            }, .malformedFrame)
        expectDecodeError(
            body(.request) { w in
                w.u8(1); w.u64(1); w.u64(1); w.u32(UInt32(Limits.maxKeySize))
            }, .malformedFrame)
    }

    func testOversizedStringsAreRejected() {
        let longAddress = String(repeating: "a", count: Limits.maxAddressSize + 1)
        expectDecodeError(
            body(.ping) { w in
                w.string(longAddress); w.u64(1)
            }, .malformedFrame, "address")
        expectDecodeError(
            body(.viewReply) { w in
                w.u64(1); w.string(longAddress); w.string(""); w.bool(false)
            }, .malformedFrame)
        expectDecodeError(
            body(.error) { w in
                w.u16(2); w.string(String(repeating: "x", count: 4097))
            }, .malformedFrame, "message")
        // A string length larger than what follows.
        expectDecodeError(
            body(.ping) { w in
                w.u16(500); w.raw([0x61, 0x62])
            }, .malformedFrame)
    }

    func testHugeElementCountsThrowWithoutAllocating() {
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for count in [UInt32.max, UInt32.max / 2, 1 << 24, 100] {
                expectDecodeError(
                    body(.forward) { w in
                        w.u64(1); w.string("p"); w.u64(1); w.u64(1); w.u64(0); w.u32(count)
                    }, .malformedFrame,
                    "updates \(count)")
                expectDecodeError(
                    body(.transfer) { w in
                        w.u64(1); w.string("p"); w.u64(1); w.u32(0); w.bool(true); w.u32(count)
                    }, .malformedFrame, "entries \(count)")
                expectDecodeError(
                    body(.transfer) { w in
                        w.u64(1); w.string("p"); w.u64(1); w.u32(0); w.bool(true); w.u32(0); w.u32(count)
                    }, .malformedFrame, "duplicates \(count)")
                expectDecodeError(
                    body(.serversReply) { w in
                        w.u64(1); w.string("p"); w.string(""); w.bool(true); w.u32(count)
                    }, .malformedFrame, "servers \(count)")
            }
            // Counts that claim more items than the remaining bytes could hold, even with
            // some bytes present.
            let error = expectDecodeError(
                body(.forward) { w in
                    w.u64(1); w.string("p"); w.u64(1); w.u64(1); w.u64(0); w.u32(1_000_000);
                    w.raw(Bytes(repeating: 0, count: 1000))
                }, .malformedFrame)
            XCTAssertTrue(error?.detail.contains("count") ?? false, "\(String(describing: error))")
        }
        XCTAssertLessThan(elapsed, .seconds(2), "rejecting impossible counts must not allocate or loop")
    }

    func testWireReaderBoundsChecks() throws {
        var r = WireReader([1, 2, 3])
        XCTAssertThrowsError(try r.u32())
        XCTAssertEqual(r.index, 0, "a failed read consumes nothing")
        XCTAssertEqual(try r.u16(), 0x0102)
        XCTAssertThrowsError(try r.raw(2, "raw"))
        XCTAssertThrowsError(try r.raw(-1, "negative"))
        XCTAssertThrowsError(try r.expectEnd())
        XCTAssertEqual(try r.u8(), 3)
        XCTAssertNoThrow(try r.expectEnd())
        XCTAssertThrowsError(try r.u8())
        var counts = WireReader([0, 0, 0, 2, 9, 9, 9, 9])
        XCTAssertThrowsError(try counts.count("items", minItemSize: 3), "2 items of 3 bytes need 6, have 4")
        var fits = WireReader([0, 0, 0, 2, 9, 9, 9, 9])
        XCTAssertEqual(try fits.count("items", minItemSize: 2), 2)
    }
}
