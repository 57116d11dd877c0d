import KVProtocol
import KVServices
import KVTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

/// `ServerNode.submit(_:slot:to:)`, the Redis endpoint's path into the core: a sink on the
/// node's loop is answered by a direct call, one on another loop (or a caller on another
/// thread) through hops to the node's loop and back to the sink's; a stopped node
/// abandons every slot.
final class ReplySinkTests: XCTestCase {
    /// Records the replies it gets, on its loop only, and wakes the test once it has them all.
    final class RecordingSink: ClientReplySink, @unchecked Sendable {
        let eventLoop: any EventLoop
        private let expected: Int
        private let recorded = NIOLockedValueBox<[(slot: UInt64, status: ReplyStatus?, onLoop: Bool)]>([])
        private let done: EventLoopPromise<Void>

        /// - Parameter timeout: `answers` fails if the replies have not all come by then.
        init(on loop: any EventLoop, expecting count: Int, timeout: TimeAmount = .seconds(30)) {
            eventLoop = loop
            expected = count
            done = loop.makePromise()
            let done = done
            loop.scheduleTask(in: timeout) { done.fail(TestSetupError("not every reply came")) }
        }

        func deliver(_ reply: ClientReply, slot: UInt64) { record(slot, reply.status) }

        func abandon(slot: UInt64) { record(slot, nil) }

        private func record(_ slot: UInt64, _ status: ReplyStatus?) {
            let onLoop = eventLoop.inEventLoop
            let count = recorded.withLockedValue {
                $0.append((slot, status, onLoop))
                return $0.count
            }
            if count == expected { done.succeed() }
        }

        func answers() async throws -> [(slot: UInt64, status: ReplyStatus?, onLoop: Bool)] {
            try await done.futureResult.get()
            return recorded.withLockedValue { $0 }
        }
    }

    private func put(_ seq: UInt64, client: UInt64 = 77) -> ClientRequest {
        ClientRequest(op: .put, clientID: client, seq: seq, key: Array("sink-\(seq)".utf8), value: Array("v".utf8))
    }

    private func primaryNode() async throws -> (TestCluster, ServerNode) {
        let cluster = try await makeCluster()
        let primary = try await cluster.addServer()
        try await cluster.waitForView(primary: primary, backup: nil)
        let node = await cluster.node(primary)
        return (cluster, try XCTUnwrap(node))
    }

    func testASinkOnTheNodesLoopIsAnsweredByADirectCallInOrder() async throws {
        let (_, node) = try await primaryNode()
        let sink = RecordingSink(on: node.eventLoop, expecting: 50)
        // Submitted on the node's loop, as the Redis endpoint of kv-server does.
        try await node.eventLoop.submit {
            for seq in 1...50 { node.submit(self.put(UInt64(seq)), slot: UInt64(100 + seq), to: sink) }
        }.get()
        let answers = try await sink.answers()
        XCTAssertEqual(answers.map(\.slot), (101...150).map { UInt64($0) }, "each slot once, in order")
        XCTAssertTrue(answers.allSatisfy { $0.status == .ok && $0.onLoop })
    }

    func testASinkOnAnotherLoopIsAnsweredOnItsOwnLoop() async throws {
        let (_, node) = try await primaryNode()
        let elsewhere = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let sink = RecordingSink(on: elsewhere.next(), expecting: 20)
        // From the test's own thread: not the node's loop, nor the sink's.
        for seq in 1...20 { node.submit(put(UInt64(seq)), slot: UInt64(seq), to: sink) }
        let answers = try await sink.answers()
        XCTAssertEqual(Set(answers.map(\.slot)), Set((1...20).map { UInt64($0) }))
        XCTAssertTrue(answers.allSatisfy { $0.status == .ok && $0.onLoop }, "delivered on the sink's loop")
        try await elsewhere.shutdownGracefully()
    }

    func testAStoppedNodeAbandonsEverySlot() async throws {
        let (cluster, node) = try await primaryNode()
        await node.stop()
        let sink = RecordingSink(on: node.eventLoop, expecting: 3)
        try await node.eventLoop.submit {
            for seq in 1...3 { node.submit(self.put(UInt64(seq)), slot: UInt64(seq), to: sink) }
        }.get()
        let answers = try await sink.answers()
        XCTAssertEqual(answers.map(\.slot), [1, 2, 3])
        XCTAssertTrue(answers.allSatisfy { $0.status == nil }, "abandoned: the node has stopped")
        _ = cluster
    }
}
