import KVProtocol
import KVResp
import KVServices
import KVTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

/// `kv-server --io-threads`: Redis-protocol connections on loops of their own, handing
/// requests to the core's loop, and taking replies back, in one task per loop turn
/// (`LoopHandOff`, `IOLoopRelay`; docs/DESIGN.md §7.3).
final class IOLoopTests: XCTestCase {
    func testAHandOffCarriesEachTurnsItemsInOneTaskInOrder() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        addTeardownBlock { try? await group.shutdownGracefully() }
        let loops = Array(group.makeIterator())
        let (a, b) = (loops[0], loops[1])
        let received = NIOLockedValueBox<[Int]>([])
        let allThere = b.makePromise(of: Void.self)
        let handOff = LoopHandOff<Int>(from: a, to: b) { batch in
            XCTAssertTrue(b.inEventLoop, "delivered on the target loop")
            let count = received.withLockedValue {
                $0.append(contentsOf: batch)
                return $0.count
            }
            if count == 300 { allThere.succeed() }
        }
        // Three turns of the source loop: 100 items in each, one hop each.
        for turn in 0..<3 {
            try await a.submit {
                for item in 0..<100 { handOff.append(turn * 100 + item) }
            }.get()
        }
        try await allThere.futureResult.get()
        XCTAssertEqual(received.withLockedValue { $0 }, Array(0..<300), "every item once, in order")
        let (items, hops) = try await a.submit { (handOff.items, handOff.hops) }.get()
        XCTAssertEqual(items, 300)
        XCTAssertEqual(hops, 3, "one hop per turn of the source loop, not one per item")
    }

    func testPipelinedCommandsFromConnectionsOnSeveralIOLoopsAreAnsweredInOrderInBatches() async throws {
        let setup = try await makeRESPCluster(ioThreads: 2)
        // The listener deals its connections out over the two I/O loops in turn.
        var connections: [RESPTestConnection] = []
        for _ in 0..<4 { connections.append(try await connectRESP(setup.respAddresses[setup.primary])) }
        let count = 500
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (number, redis) in connections.enumerated() {
                group.addTask {
                    // Each SET is followed by a GET of the key before it: a reply out of
                    // place, or another connection's value, shows.
                    var commands: [[String]] = []
                    for index in 0..<count {
                        commands.append(["SET", "c\(number)-\(index)", "value \(number)-\(index)"])
                        commands.append(["GET", "c\(number)-\(max(0, index - 1))"])
                    }
                    try await redis.send(commands)
                    let replies = try await redis.replies(2 * count, timeout: 30)
                    for index in 0..<count {
                        XCTAssertEqual(replies[2 * index], .ok, "connection \(number): SET \(index)")
                        XCTAssertEqual(
                            replies[2 * index + 1], .bulk("value \(number)-\(max(0, index - 1))"),
                            "connection \(number): GET \(index - 1)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let size = try await connections[0].call("DBSIZE")
        XCTAssertEqual(size, .integer(Int64(connections.count * count)))
        // The backup holds them: the requests took the replication path.
        let backupStore = await setup.cluster.snapshot(setup.backup)?.store
        XCTAssertEqual(backupStore?.value(bytes("c3-\(count - 1)")), bytes("value 3-\(count - 1)"))

        let running = await setup.cluster.node(setup.primary)
        let counts = try await XCTUnwrap(running).handOffCounts()
        XCTAssertEqual(counts.count, 2)
        XCTAssertTrue(counts.allSatisfy { $0.requests > 0 }, "both I/O loops served connections: \(counts)")
        let requests = counts.map(\.requests).reduce(0, +)
        let hops = counts.map(\.hops).reduce(0, +)
        let replies = counts.map(\.replies).reduce(0, +)
        let replyHops = counts.map(\.replyHops).reduce(0, +)
        XCTAssertEqual(requests, 2 * count * connections.count)
        XCTAssertEqual(replies, requests)
        XCTAssertLessThanOrEqual(2 * hops, requests, "requests go to the core in batches: \(counts)")
        XCTAssertLessThanOrEqual(2 * replyHops, replies, "replies come back in batches: \(counts)")
    }

    func testAStopWithRequestsInFlightOnAnIOLoopAnswersOrAbandonsEveryOne() async throws {
        let ioGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        addTeardownBlock { try? await ioGroup.shutdownGracefully() }
        let ioLoop = ioGroup.next()
        let cluster = try await makeCluster()
        let primary = try await cluster.addServer(ioLoops: [ioLoop])
        try await cluster.waitForView(primary: primary, backup: nil)
        let backup = try await cluster.addServer()
        try await cluster.waitForView(primary: primary, backup: backup)
        let running = await cluster.node(primary)
        let node = try XCTUnwrap(running)

        let perTurn = 300
        let sink = ReplySinkTests.RecordingSink(on: ioLoop, expecting: 3 * perTurn, timeout: .seconds(15))
        func put(_ seq: Int) -> ClientRequest {
            ClientRequest(op: .put, clientID: 91, seq: UInt64(seq), key: Array("stop-\(seq)".utf8), value: [1])
        }
        // One turn's requests reach the core (most wait for the backup's acknowledgement),
        // the next turn's are gathered on the I/O loop as the node stops, and the last turn's
        // arrive after it stopped.
        try await ioLoop.submit { for seq in 1...perTurn { node.submit(put(seq), slot: UInt64(seq), to: sink) } }.get()
        async let stopped: Void = node.stop()
        try await ioLoop.submit {
            for seq in perTurn + 1...2 * perTurn { node.submit(put(seq), slot: UInt64(seq), to: sink) }
        }.get()
        await stopped
        try await ioLoop.submit {
            for seq in 2 * perTurn + 1...3 * perTurn { node.submit(put(seq), slot: UInt64(seq), to: sink) }
        }.get()

        let answers = try await sink.answers()
        XCTAssertEqual(answers.map(\.slot).sorted(), (1...3 * perTurn).map { UInt64($0) }, "each slot once")
        XCTAssertTrue(answers.allSatisfy(\.onLoop), "answered on the I/O loop")
        XCTAssertTrue(answers.allSatisfy { $0.status == .ok || $0.status == nil }, "answered or abandoned")
        XCTAssertTrue(
            answers.filter { $0.slot > UInt64(2 * perTurn) }.allSatisfy { $0.status == nil },
            "submitted after the stop: abandoned")
    }
}
