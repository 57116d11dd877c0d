import KVProtocol
import XCTest

@testable import MonitorCore

/// Bad or endless input must neither name a primary nor grow the monitor's memory.
final class InputBoundsTests: XCTestCase {
    func testPingFromTheEmptyAddressNamesNobody() {
        var monitor = ImmediateStore()
        XCTAssertEqual(monitor.ping(from: "", viewnum: 0, at: 0), .initial)
        XCTAssertTrue(monitor.core.servers(at: 0).isEmpty)
        XCTAssertTrue(monitor.saved.isEmpty)
        XCTAssertEqual(
            monitor.ping(from: "s1", viewnum: 0, at: 0)?.primary, "s1", "a real server still becomes primary")
    }

    func testLongDeadIdleServersAreForgottenButRoleHoldersAreNot() {
        var core = ImmediateStore(config: MonitorConfig(deadPings: 5, forgetAfterTicks: 20))
        core.ping(from: "p", viewnum: 0, at: 0)
        core.ping(from: "p", viewnum: 1, at: 0)
        core.ping(from: "b", viewnum: 0, at: 0)
        core.ping(from: "b", viewnum: 2, at: 0)
        core.ping(from: "p", viewnum: 2, at: 0)
        for index in 0..<100 { core.ping(from: "idle-\(index)", viewnum: 2, at: 0) }
        XCTAssertEqual(core.core.servers(at: 0).count, 102)
        for tick in 1...20 {
            core.ping(from: "p", viewnum: 2, at: UInt64(tick))
            core.ping(from: "b", viewnum: 2, at: UInt64(tick))
            core.tick(at: UInt64(tick))
        }
        XCTAssertEqual(core.core.servers(at: 20).count, 102, "dead, but not yet forgotten")
        for tick in 21...22 {
            core.ping(from: "p", viewnum: 2, at: UInt64(tick))
            core.tick(at: UInt64(tick))
        }
        // The backup stopped pinging at tick 20: dead, replaced by nobody (every idle
        // server is dead too), and kept while it is in the view.
        let remaining = Set(core.core.servers(at: 22).map(\.address))
        XCTAssertTrue(remaining.isSuperset(of: ["p"]))
        XCTAssertFalse(remaining.contains("idle-0"), "idle servers dead for longer than forgetAfterTicks are forgotten")
        XCTAssertLessThanOrEqual(remaining.count, 2)
    }
}
