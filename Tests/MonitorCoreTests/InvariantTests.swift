import XCTest

/// Long randomised runs checked by the interpreter's invariants (including its own model of
/// liveness: alive while at most `deadPings` ticks have passed since the last ping, a death
/// reported once by the tick after that), and a check that the interpreter really fails when
/// an expectation is wrong.
final class InvariantTests: XCTestCase {
    /// SplitMix64, so every run replays identically.
    private struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
    }

    /// A script of `rounds` rounds over four servers that crash, come back, restart empty,
    /// with a store that sometimes fails or holds its saves for a while, and a monitor
    /// that sometimes restarts.
    private func randomScript(seed: UInt64, rounds: Int, deadPings: UInt64) -> String {
        var rng = SplitMix64(state: seed)
        let servers = ["s1", "s2", "s3", "s4"]
        var up = Set(servers)
        var storeFailing = false
        var storeHolding = false
        var lines: [String] = ["monitor deadPings=\(deadPings)"]
        for _ in 0..<rounds {
            for server in servers {
                switch rng.below(40) {
                case 0: up.remove(server)  // crash (or cut off): stops pinging
                case 1, 2: up.insert(server)  // comes back with its state
                case 3:  // restarts empty
                    up.insert(server)
                    lines.append("ping \(server) 0")
                default: break
                }
            }
            switch rng.below(50) {
            case 0:
                storeFailing.toggle()
                lines.append(storeFailing ? "store fail" : "store ok")
            case 1: lines.append("restart monitor")
            case 2: lines.append("advance \(rng.below(10_000_000))")
            case 3, 4, 5:
                // Saves that take a while: pings and ticks arrive while one is in flight.
                storeHolding.toggle()
                lines.append(storeHolding ? "store hold" : "store release")
            default: break
            }
            let pingers = servers.filter { up.contains($0) && rng.below(8) != 0 }
            let every = rng.below(4) == 0 ? " every 0" : ""
            lines.append("tick 1\(every)" + (pingers.isEmpty ? "" : " pinging " + pingers.joined(separator: " ")))
        }
        return lines.joined(separator: "\n")
    }

    func testViewInvariantsHoldInRandomisedRuns() {
        var viewChanges = 0
        for seed: UInt64 in 1...20 {
            // The default, the smallest allowed, and two in between.
            let deadPings: UInt64 = [5, 1, 2, 3][Int(seed % 4)]
            let text = randomScript(seed: seed, rounds: 500, deadPings: deadPings)
            let script = MonitorScript()
            script.run(text)
            XCTAssertEqual(script.failures.map(\.description), [], "seed \(seed), deadPings \(deadPings)")
            // Every run must reach the liveness boundary from both sides.
            XCTAssertGreaterThan(script.aliveAtBoundary, 0, "seed \(seed), deadPings \(deadPings)")
            XCTAssertGreaterThan(script.deaths, 0, "seed \(seed), deadPings \(deadPings)")
            let saved = script.store.saved
            for (older, newer) in zip(saved, saved.dropFirst()) {
                XCTAssertTrue(
                    newer.viewnum == older.viewnum + 1 || (newer.viewnum == older.viewnum && newer.acked),
                    "seed \(seed): saved \(older) then \(newer)")
            }
            viewChanges += Set(saved.map(\.viewnum)).count
        }
        // The runs must exercise the rules, not sit in one view.
        XCTAssertGreaterThan(viewChanges, 200)
    }

    func testInterpreterReportsWrongExpectationsAtTheirLine() {
        let wrong: [(script: String, line: Int)] = [
            ("ping s1 0 -> view 1 s2 - unacked", 0),
            ("ping s1 0\nexpect view 1 s1 - acked", 1),
            ("ping s1 0\n\n# comment\nexpect stored view 2 s1 - unacked", 3),
            ("ping s1 0\nexpect stored none", 1),
            ("ping s1 0\nexpect saved 1/acked", 1),
            ("ping s1 0\nexpect saves 2", 1),
            ("ping s1 0\nexpect servers s1:idle:alive", 1),
            ("ping s1 0\nexpect servers s1:primary:dead", 1),
            ("ping s1 0\nadvance 5\nexpect servers s1:primary:alive:age=4", 2),
            ("ping s1 0\nexpect servers s1:primary:alive:vn=1", 1),
            ("ping s1 0\nexpect servers none", 1),
            ("ping s1 0\nexpect events joined:s1", 1),
            ("ping s1 0\nexpect events none", 1),
            ("frobnicate", 0),
            ("ping s1", 0),
            ("tick 2 pinging", 0),
            ("ping s1 0\nmonitor deadPings=2", 1),
        ]
        for (text, line) in wrong {
            let script = MonitorScript()
            script.run(text + "\nexpect view 99 - - acked")
            XCTAssertEqual(script.failures.count, 1, "script \(text.debugDescription): \(script.failures)")
            XCTAssertEqual(script.failures.first?.lineIndex, line, "script \(text.debugDescription)")
        }
    }
}
