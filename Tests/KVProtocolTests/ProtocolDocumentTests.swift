import KVProtocol
import XCTest

/// docs/PROTOCOL.md shows bytes on the wire; they must stay true.
final class ProtocolDocumentTests: XCTestCase {
    private func framed(_ frame: Frame) -> [UInt8] {
        let body = MessageCodec.encode(frame)
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + body
    }

    func testHelloExampleMatchesTheDocument() {
        XCTAssertEqual(
            framed(Frame(requestID: 1, message: .hello(version: 1))),
            [0x00, 0x00, 0x00, 0x0F, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x4B, 0x56, 0x53, 0x56, 0x00, 0x01])
    }

    func testHelloAckExampleMatchesTheDocument() {
        XCTAssertEqual(
            framed(Frame(requestID: 1, message: .helloAck(version: 1))),
            [0x00, 0x00, 0x00, 0x0B, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x01])
    }

    func testGetViewExampleMatchesTheDocument() {
        XCTAssertEqual(
            framed(Frame(requestID: 2, message: .getView)),
            [0x00, 0x00, 0x00, 0x09, 0x12, 0, 0, 0, 0, 0, 0, 0, 0x02])
    }

    func testViewEncodingFollowsTheDocument() throws {
        // view := viewnum:u64 primary:string backup:string acked:bool
        let body = MessageCodec.encode(
            Frame(requestID: 3, message: .viewReply(View(viewnum: 7, primary: "a:1", backup: "", acked: true))))
        XCTAssertEqual(
            body,
            [0x11, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7, 0, 3, 0x61, 0x3A, 0x31, 0, 0, 1])
    }

    func testRequestEncodingFollowsTheDocument() {
        // request := op:u8 client_id:u64 seq:u64 key:bytes value:bytes
        let body = MessageCodec.encode(
            Frame(
                requestID: 4,
                message: .request(ClientRequest(op: .put, clientID: 9, seq: 1, key: [0x6B], value: [0x76, 0x76]))))
        XCTAssertEqual(
            body,
            [0x20, 0, 0, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x6B]
                + [0, 0, 0, 2, 0x76, 0x76])
    }
}

extension ProtocolDocumentTests {
    /// The transaction example of docs/PROTOCOL.md, "Example".
    func testTransactionExampleMatchesTheDocument() {
        let txn = Txn(
            compares: [Compare(key: [0x61], .revision(3), .equal)],
            success: [.put([0x61], value: [0x62], expiry: .never, returnPrevious: false)])
        let request = MessageCodec.encode(
            Frame(requestID: 5, message: .request(ClientRequest(txn: txn, clientID: 9, seq: 2))))
        let id: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 5]
        XCTAssertEqual(
            [0, 0, 0, UInt8(request.count)] + request,
            [0x00, 0x00, 0x00, 0x4A, 0x20] + id + [0x05, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 2]
                + [0, 0, 0, 0, 0, 0, 0, 0]
                + [0, 0, 0, 1, 0, 0, 0, 1, 0x61, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 3]
                + [0, 0, 0, 1, 0x02, 0, 0, 0, 1, 0x61, 0, 0, 0, 1, 0x62, 0x01, 0x00] + [0, 0, 0, 0])
        let outcome = TxnOutcome(succeeded: true, results: [.done], revision: 4, now: 1_796_000_000_000)
        let reply = MessageCodec.encode(Frame(requestID: 5, message: .reply(ClientReply(outcome: outcome))))
        XCTAssertEqual(
            [0, 0, 0, UInt8(reply.count)] + reply,
            [0x00, 0x00, 0x00, 0x24, 0x21] + id + [0x80, 0, 0, 0, 0]
                + [0x01, 0, 0, 0, 0, 0, 0, 0, 4, 0x00, 0x00, 0x01, 0xA2, 0x29, 0xF1, 0x28, 0x00] + [0, 0, 0, 1, 0x00])
    }
}
