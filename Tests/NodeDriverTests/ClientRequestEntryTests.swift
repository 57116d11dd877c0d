import KVProtocol
import NodeDriver
import ServerCore
import XCTest

/// How client requests enter the driver and replies leave it: a request submitted from
/// inside a reply (the daemon's Redis endpoint does so, on the driver's loop) is stepped
/// after the effects being carried out, never in their middle; a stopped driver answers
/// every requester still waiting, and any that comes later.
final class ClientRequestEntryTests: XCTestCase {
    private var environment: ScriptedServerEnvironment!
    private var driver: ServerDriver<ScriptedServerEnvironment>!

    private func start(in view: View?) {
        environment = ScriptedServerEnvironment()
        driver = ServerDriver(
            configuration: .init(
                core: ServerConfig(address: "s1"), monitors: ["m"], pingInterval: 100, peerTimeout: 1_000),
            environment: environment)
        driver.start()
        environment.tick()
        if let view { environment.answerPing(.viewReply(view)) }
    }

    private func request(_ seq: UInt64) -> ClientRequest {
        ClientRequest(op: .put, clientID: 9, seq: seq, key: Bytes("k\(seq)".utf8), value: Bytes("v".utf8))
    }

    func testARequestSubmittedFromInsideAReplyWaitsForTheEffectsBeingCarriedOut() {
        start(in: nil)  // no view: every request is answered at once (wrong server)
        var depth = 0
        var deepest = 0
        environment.onRespond = { requester, _ in
            depth += 1
            deepest = max(deepest, depth)
            // Each reply submits the next request, as a pipelining connection does.
            if requester < 5 { self.driver.receive(self.request(UInt64(requester + 1)), from: requester + 1) }
            depth -= 1
        }
        driver.receive(request(1), from: 1)
        XCTAssertEqual(environment.responses.map(\.requester), [1, 2, 3, 4, 5], "each answered, in order")
        XCTAssertEqual(deepest, 1, "no request stepped inside another's reply")
        for response in environment.responses {
            guard case .reply(let reply) = response.message else { return XCTFail("\(response.message)") }
            XCTAssertEqual(reply.status, .wrongServer)
        }
    }

    func testStoppingAnswersEveryWaitingRequesterAndEveryLaterOne() {
        // Primary of a view with a backup that has nothing yet: requests wait for the
        // state transfer.
        start(in: View(viewnum: 1, primary: "s1", backup: "s2", acked: false))
        for seq in 1...3 { driver.receive(request(UInt64(seq)), from: seq) }
        XCTAssertTrue(environment.responses.isEmpty, "the requests wait")
        var idle = false
        driver.whenIdle { idle = true }
        XCTAssertFalse(idle)

        driver.stop()
        XCTAssertEqual(environment.abandoned, [1, 2, 3], "every waiting requester, oldest first")
        XCTAssertTrue(idle, "nothing waits any more")
        driver.receive(request(4), from: 4)
        XCTAssertEqual(environment.abandoned, [1, 2, 3, 4], "a stopped driver answers at once")
    }

    func testARequestSubmittedFromInsideAReplyToAStoppingDriverIsAbandoned() {
        start(in: nil)
        environment.onRespond = { requester, _ in
            guard requester == 1 else { return }
            self.driver.receive(self.request(2), from: 2)
            self.driver.stop()
        }
        driver.receive(request(1), from: 1)
        XCTAssertEqual(environment.responses.map(\.requester), [1])
        XCTAssertEqual(environment.abandoned, [2], "queued behind the effects, then the driver stopped")
    }
}
