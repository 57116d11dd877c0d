import Foundation
import KVProtocol
import MonitorCore
import XCTest

/// A tiny interpreter for monitor test scripts, in the spirit of etcd raft's testdata:
/// each line is one command, and expectations sit next to the steps that cause them.
///
/// The clock is a plain number of milliseconds owned by the script; nothing sleeps.
///
///     # a comment (anywhere on a line); blank lines are ignored
///     monitor deadPings=3 cluster=9
///                                create the monitor (cluster: the id it gives a cluster
///                                it founds); optional, must come first (otherwise one
///                                with the default config is created)
///     ping s1 0                  s1 pings with view number 0 at the current clock
///     ping s1 0 -> view 1 s1 - unacked
///                                ... and the reply must be exactly that view
///     ping s1 0 -> held          ... and the reply is held (a save is in flight)
///     expect answer s1 view 2 s1 s2 unacked
///                                the last answer s1 got (a held one arrives later)
///     tick                       one tick: the clock moves 100 ms, then tick(at:)
///     tick 5 every 0 pinging s1:2 s2
///                                5 rounds of: s1 pings 2, s2 pings with the view number
///                                it last received (0 if none), the clock moves `every`
///                                ms (default 100), one tick
///     advance 3600000            move the clock without ticking
///     store fail | store ok      make the store's saves fail, or work again
///     store hold                 from now on a save stays in flight until `store release`
///     store release              complete the save in flight, if any (then saves complete
///                                at once again, as they do by default)
///     restart monitor [cluster=9]
///                                a new MonitorCore restored from the store's last view (a
///                                save in flight is lost, as a crash before its rename);
///                                cluster: the new process's id for a cluster it names
///     drain                      discard the events so far
///     leave s1 | stay s1         from now on s1's pings (ping and tick) say it is
///                                leaving (shutting down), or no longer do
///     incarnation s1 7           from now on s1's pings carry incarnation 7 (a restart
///                                of the server process shows as a new one)
///     claim s1 primary 4 s1 s2 [cluster 9] | claim s1 none
///                                from now on s1's pings carry this claim (role, view
///                                number, primary, backup, cluster (default 0): what its
///                                data directory holds)
///     switchover [from <n>] -> view 3 s2 s1 unacked | -> refused <kind>
///                                an admin's switchover request (`from`: the view it is
///                                for; default the current one) and its result; kind is
///                                noPrimary, viewChanged, notAcknowledged, noBackup,
///                                backupUnavailable, backupUnconfirmed or notSaved
///     revive s3 [from <n>] -> view 3 s3 s2 unacked | -> refused|retry [text]
///                                an operator's revive of s3 (`kvctl revive`) and its
///                                result; a refusal's reason must contain the text
///
///     expect view 2 s1 s2 acked  the view in force ("-" is no server); views are compared
///                                without their cluster, which answers are checked to
///                                carry to servers that ping with an incarnation only
///     expect cluster 9 | expect cluster none
///                                the cluster id of the view in force
///     expect stored view 2 s1 s2 acked | expect stored none
///                                the last view the store saved
///     expect saved 1/unacked 1/acked 2/unacked
///                                every view the store saved, in order
///     expect saves 3             how many views the store saved
///     expect servers s1:primary:alive:age=0:vn=2 s2:idle:dead | expect servers none
///                                servers(at: clock), all of them, in address order;
///                                age (ms since the last ping) and vn (view number of
///                                the last ping) are checked only when given
///     expect events joined:s1 changed:1:s1:-:firstPrimary | expect events none
///                                the events since the last check, in order, then drop
///                                them. Tokens: joined:A  died:A  restarted:A:ROLE
///                                leaving:A:ROLE  acked:N  changed:N:P:B:REASON
///                                persistFailed:N:P:B:ACK (changed and persistFailed name
///                                the new view; REASON is firstPrimary, primaryFailed,
///                                backupFailed, backupAdded, primaryLeft, backupLeft,
///                                switchover or revived) switchoverRefused:KIND waiting:N
///                                reviveRefused:A foreign:A
///
/// Saves complete as soon as the core asks for them unless the script holds them; a
/// completion is fed back to the core as `viewSaved` or `viewNotSaved` at once.
///
/// After every step the interpreter also checks invariants that hold whatever the
/// scenario (docs/DESIGN.md §2): every view answered is the view in force when it is
/// answered (or no view, to a server the view names); the view in force is the last one the store saved (saved before it is
/// handed out), and at most one save is in flight; view numbers go up by one
/// per new view and never down; a new view starts unacknowledged; a viewChanged event
/// starts from the view that was in force; moving on from an unacknowledged view keeps
/// the primary; a new primary was the primary or backup of the previous view; and a
/// server whose last ping said it is leaving is never made the new backup.
///
/// It also keeps its own count of the ticks since each server's last ping (a restarted
/// monitor starts the count afresh for the primary and backup of its view, and forgets the
/// rest), and checks after every step that `servers` lists exactly those servers, each
/// alive while at most `deadPings` ticks have passed since its last ping and dead from the
/// `deadPings + 1`-th: a server that pinged between ticks t and t+1 dies at tick
/// t+1+deadPings, having missed `deadPings` pings. A death is reported, once, by exactly
/// the tick that causes it.
final class MonitorScript {
    struct Failure: CustomStringConvertible {
        /// 0-based line in the script text.
        let lineIndex: Int
        let line: String
        let message: String

        var description: String { "script line \(lineIndex + 1) `\(line)`: \(message)" }
    }

    private struct ScriptError: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// Everything that went wrong; the script stops at the first line that fails.
    private(set) var failures: [Failure] = []
    let store = ScriptStore()
    private(set) var core: MonitorCore?
    private var nextToken: UInt64 = 1
    /// Who sent the request of each token not yet answered, and the answers given.
    private var askers: [ReplyToken: String] = [:]
    private var answers: [ReplyToken: Message] = [:]
    private var config = MonitorConfig()
    /// The script's clock, in milliseconds.
    private(set) var now: UInt64 = 0
    /// The view number each server last received in a ping reply, and that view.
    private var received: [String: UInt64] = [:]
    private var lastAnswer: [String: View] = [:]
    /// Notices from the core not yet checked by `expect events`.
    private var events: [MonitorNotice] = []
    /// Notices of the current command not yet checked against the invariants.
    private var fresh: [MonitorNotice] = []
    /// The view in force after the previous step.
    private var lastView: View = .initial
    /// The interpreter's own liveness model: for every server the monitor knows, the ticks
    /// since its last ping (or since a restarted monitor took it over from the saved view).
    private var ticksSincePing: [String: UInt64] = [:]
    /// How often a tick left a server alive with exactly `deadPings` ticks since its last
    /// ping, and how many deaths were reported: shows a run reached the boundary from both sides.
    private(set) var aliveAtBoundary = 0
    private(set) var deaths = 0
    private var currentLine = (index: 0, text: "")
    /// Servers whose pings say they are leaving (`leave`), and those whose last ping
    /// that reached the monitor said so.
    private var leaving: Set<String> = []
    private var leavingAsSent: Set<String> = []
    /// What each server's pings carry from now on (`incarnation`, `claim` commands).
    private var incarnations: [String: UInt64] = [:]
    private var claims: [String: StateClaim] = [:]

    init() {}

    // MARK: Running

    func run(_ script: String) {
        let lines = script.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let code = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = code.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.isEmpty { continue }
            currentLine = (index, raw.trimmingCharacters(in: .whitespaces))
            do {
                try execute(words)
            } catch let error as ScriptError {
                fail(error.message)
            } catch {
                fail("\(error)")
            }
            if !failures.isEmpty { return }
        }
    }

    private func execute(_ words: [String]) throws {
        switch words[0] {
        case "monitor":
            guard core == nil else { throw ScriptError("`monitor` must come before the monitor is used") }
            for option in words.dropFirst() {
                let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, ["deadPings", "cluster"].contains(parts[0]) else {
                    throw ScriptError("unknown monitor option `\(option)`")
                }
                if parts[0] == "deadPings" { config.deadPings = try number(parts[1]) }
                if parts[0] == "cluster" { config.newClusterID = try number(parts[1]) }
            }
            core = MonitorCore(config: config, now: now)
        case "ping":
            try ping(words)
        case "tick":
            try tick(words)
        case "advance":
            guard words.count == 2 else { throw ScriptError("usage: advance <ms>") }
            now += try number(words[1])
        case "store":
            guard words.count == 2 else { throw ScriptError("usage: store fail|ok|hold|release") }
            switch words[1] {
            case "fail": store.failure = DiskFull().description
            case "ok": store.failure = nil
            case "hold": store.holding = true
            case "release":
                store.holding = false
                if let pending = store.inFlight {
                    _ = monitor()
                    complete(pending)
                    collect(fromTick: false)
                }
            default: throw ScriptError("usage: store fail|ok|hold|release")
            }
        case "restart":
            guard words.count >= 2, words[1] == "monitor", words.count <= 3 else {
                throw ScriptError("usage: restart monitor [cluster=<n>]")
            }
            if words.count == 3 {
                guard words[2].hasPrefix("cluster=") else { throw ScriptError("usage: restart monitor [cluster=<n>]") }
                config.newClusterID = try number(String(words[2].dropFirst("cluster=".count)))
            }
            if core != nil { collect(fromTick: false) }
            store.inFlight = nil
            askers.removeAll()
            core = MonitorCore(config: config, restoredView: store.last, now: now)
            lastView = store.last ?? .initial
            check(
                core!.view == lastView, "restarted monitor has \(render(core!.view)), the store had \(render(lastView))"
            )
            // Its view's primary and backup get a full grace period; idle servers are forgotten.
            ticksSincePing = [:]
            for address in [lastView.primary, lastView.backup] where !address.isEmpty { ticksSincePing[address] = 0 }
            checkLiveness(died: [], fromTick: false)
        case "drain":
            if core != nil { collect(fromTick: false) }
            events.removeAll()
        case "expect":
            try expect(Array(words.dropFirst()))
        case "leave", "stay":
            guard words.count == 2 else { throw ScriptError("usage: \(words[0]) <server>") }
            if words[0] == "leave" { leaving.insert(words[1]) } else { leaving.remove(words[1]) }
        case "switchover":
            try switchover(Array(words.dropFirst()))
        case "revive":
            try revive(Array(words.dropFirst()))
        case "incarnation":
            guard words.count == 3 else { throw ScriptError("usage: incarnation <server> <n>") }
            incarnations[words[1]] = try number(words[2])
        case "claim":
            if words.count == 3 && words[2] == "none" {
                claims[words[1]] = nil
            } else {
                let usage = "usage: claim <server> primary|backup <viewnum> <primary> <backup> [cluster <n>] | none"
                guard words.count == 6 || (words.count == 8 && words[6] == "cluster"),
                    let role = ["primary": StateClaim.Role.primary, "backup": .backup][words[2]]
                else { throw ScriptError(usage) }
                claims[words[1]] = StateClaim(
                    role: role, viewnum: try number(words[3]), primary: words[4] == "-" ? "" : words[4],
                    backup: words[5] == "-" ? "" : words[5], cluster: words.count == 8 ? try number(words[7]) : 0)
            }
        default:
            throw ScriptError("unknown command `\(words[0])`")
        }
    }

    // MARK: Steps

    private func monitor() -> MonitorCore {
        if core == nil { core = MonitorCore(config: config, now: now) }
        return core!
    }

    /// One event through the core, its effects carried out: answers recorded, saves
    /// completed at once (unless held), notices kept for `collect`.
    private func step(_ event: MonitorEvent) {
        let effects = core!.step(event, at: now)
        for effect in effects {
            switch effect {
            case .reply(let token, let message):
                guard let asker = askers.removeValue(forKey: token) else {
                    check(false, "token \(token) answered twice or never asked")
                    continue
                }
                answers[token] = message
                if case .switchoverReply(let reply) = message {
                    check(
                        reply.view == core!.view,
                        "the switchover is answered with `\(render(reply.view))`, not the view in force "
                            + "`\(render(core!.view))`")
                }
                if case .viewReply(let view) = message {
                    // A server the view names may be told no view at all (view 0): one
                    // that restarted, until a saved view answers its restart.
                    let named = asker == core!.view.primary || asker == core!.view.backup
                    check(
                        view.withoutCluster == core!.view.withoutCluster || (view == .initial && named),
                        "\(asker) is answered `\(render(view))`, not the view in force `\(render(core!.view))`")
                    // Only servers that ping with an incarnation are of a version that
                    // takes the cluster id; anyone else's decoder refuses it.
                    let cluster = view.viewnum == 0 || (incarnations[asker] ?? 0) == 0 ? 0 : core!.view.cluster
                    check(
                        view.cluster == cluster,
                        "\(asker) is told cluster \(view.cluster), want \(cluster)")
                    received[asker] = view.viewnum
                    lastAnswer[asker] = view
                }
            case .saveView(let view):
                check(store.inFlight == nil, "a second save (`\(render(view))`) while one is in flight")
                store.inFlight = view
                if !store.holding { complete(view) }
            case .notice(let notice):
                fresh.append(notice)
            }
        }
    }

    /// The save of `view` ends: stored, or failed while the store fails.
    private func complete(_ view: View) {
        store.inFlight = nil
        if let failure = store.failure {
            step(.viewNotSaved(view, error: failure))
        } else {
            store.append(view)
            step(.viewSaved(view))
        }
    }

    private func ask(_ who: String) -> ReplyToken {
        defer { nextToken += 1 }
        askers[ReplyToken(nextToken)] = who
        return ReplyToken(nextToken)
    }

    private func ping(_ words: [String]) throws {
        let held = words.count == 5 && words[3] == "->" && words[4] == "held"
        guard words.count == 3 || held || (words.count == 9 && words[3] == "->") else {
            throw ScriptError(
                "usage: ping <server> <viewnum> [-> view <n> <primary> <backup> <acked|unacked> | -> held]")
        }
        let expected = words.count == 9 ? try parseView(words[4...]) : nil
        let reply = sendPing(from: words[1], viewnum: try number(words[2]))
        if held {
            check(reply == nil, "ping answered `\(reply.map(render) ?? "")`, want held")
        } else if let expected {
            check(
                reply?.withoutCluster == expected,
                "ping reply is `\(reply.map(render) ?? "held")`, want `\(render(expected))`")
        }
    }

    /// The answer, or nil while it is held.
    @discardableResult
    private func sendPing(from address: String, viewnum: UInt64) -> View? {
        _ = monitor()
        let isLeaving = leaving.contains(address)
        if isLeaving { leavingAsSent.insert(address) } else { leavingAsSent.remove(address) }
        let token = ask(address)
        ticksSincePing[address] = 0
        step(
            .ping(
                from: address, viewnum: viewnum, leaving: isLeaving, incarnation: incarnations[address] ?? 0,
                claim: claims[address], token))
        collect(fromTick: false)
        guard case .viewReply(let view) = answers[token] else { return nil }
        return view
    }

    private func switchover(_ words: [String]) throws {
        var rest = words[...]
        var from: UInt64?
        if rest.first == "from" {
            guard rest.count >= 2 else { throw ScriptError("usage: switchover [from <n>] -> ...") }
            from = try number(rest.dropFirst().first!)
            rest = rest.dropFirst(2)
        }
        guard rest.first == "->", rest.count >= 2 else {
            throw ScriptError("usage: switchover [from <n>] -> view ... | -> refused <kind>")
        }
        _ = monitor()
        let token = ask("admin")
        let notices = fresh.count
        step(.switchover(expectedViewnum: from ?? core!.view.viewnum, token))
        let refusals = fresh[notices...].compactMap { notice -> SwitchoverRefusal? in
            if case .switchoverRefused(let refusal) = notice { refusal } else { nil }
        }
        collect(fromTick: false)
        guard case .switchoverReply(let reply) = answers[token] else {
            check(false, "the switchover got no answer")
            return
        }
        if rest.dropFirst().first == "refused" {
            guard rest.count == 3 else { throw ScriptError("usage: switchover ... -> refused <kind>") }
            guard reply.status != .done, let refusal = refusals.last else {
                check(false, "switchover made `\(render(reply.view))`, want refused \(rest.last!)")
                return
            }
            let kind = name(refusal)
            check(kind == rest.last!, "switchover refused as \(kind) (\(refusal)), want \(rest.last!)")
            check(
                reply.status == (refusal.isTransient ? .retryLater : .refused) && reply.reason == "\(refusal)",
                "switchover answered \(reply.status) `\(reply.reason)` for \(refusal)")
        } else {
            let expected = try parseView(rest.dropFirst())
            if reply.status == .done {
                check(
                    reply.view.withoutCluster == expected,
                    "switchover made `\(render(reply.view))`, want `\(render(expected))`")
            } else {
                check(false, "switchover refused (\(reply.reason)), want `\(render(expected))`")
            }
        }
    }

    private func revive(_ words: [String]) throws {
        let usage = "usage: revive <server> [from <n>] -> view ... | -> refused|retry [words of the reason]"
        guard let address = words.first else { throw ScriptError(usage) }
        var rest = words.dropFirst()
        var from: UInt64?
        if rest.first == "from" {
            guard rest.count >= 2 else { throw ScriptError(usage) }
            from = try number(rest.dropFirst().first!)
            rest = rest.dropFirst(2)
        }
        guard rest.first == "->", rest.count >= 2 else { throw ScriptError(usage) }
        _ = monitor()
        let token = ask("admin")
        step(.revive(address: address, expectedViewnum: from ?? core!.view.viewnum, token))
        collect(fromTick: false)
        guard case .switchoverReply(let reply) = answers[token] else {
            check(false, "the revive got no answer")
            return
        }
        let outcome = rest.dropFirst().first!
        if outcome == "refused" || outcome == "retry" {
            let status: SwitchoverReply.Status = outcome == "refused" ? .refused : .retryLater
            let reason = rest.dropFirst(2).joined(separator: " ")
            check(
                reply.status == status && reply.reason.contains(reason),
                "revive answered \(reply.status) `\(reply.reason)`, want \(status) saying `\(reason)`")
        } else {
            let expected = try parseView(rest.dropFirst())
            check(
                reply.status == .done && reply.view == expected,
                "revive answered \(reply.status) `\(reply.reason)` with `\(render(reply.view))`, "
                    + "want `\(render(expected))`")
        }
    }

    private func name(_ refusal: SwitchoverRefusal) -> String {
        switch refusal {
        case .noPrimary: "noPrimary"
        case .viewChanged: "viewChanged"
        case .notAcknowledged: "notAcknowledged"
        case .noBackup: "noBackup"
        case .backupUnavailable: "backupUnavailable"
        case .backupUnconfirmed: "backupUnconfirmed"
        case .notSaved: "notSaved"
        case .saveInProgress: "saveInProgress"
        }
    }

    private func tick(_ words: [String]) throws {
        var rest = words.dropFirst()
        var rounds: UInt64 = 1
        var every: UInt64 = 100
        var pingers: [(address: String, viewnum: UInt64?)] = []
        if let first = rest.first, let n = UInt64(first) {
            rounds = n
            rest = rest.dropFirst()
        }
        if rest.first == "every" {
            guard rest.count >= 2 else { throw ScriptError("usage: tick [n] [every <ms>] [pinging ...]") }
            every = try number(rest.dropFirst().first!)
            rest = rest.dropFirst(2)
        }
        if rest.first == "pinging" {
            guard rest.count > 1 else { throw ScriptError("`pinging` whom?") }
            for token in rest.dropFirst() {
                let parts = token.split(separator: ":").map(String.init)
                guard parts.count == 1 || parts.count == 2 else { throw ScriptError("bad pinger `\(token)`") }
                pingers.append((parts[0], parts.count == 2 ? try number(parts[1]) : nil))
            }
            rest = []
        }
        guard rest.isEmpty else { throw ScriptError("usage: tick [n] [every <ms>] [pinging server[:viewnum] ...]") }
        _ = monitor()
        for _ in 0..<rounds {
            for pinger in pingers {
                sendPing(from: pinger.address, viewnum: pinger.viewnum ?? received[pinger.address] ?? 0)
            }
            now += every
            for address in ticksSincePing.keys { ticksSincePing[address]! += 1 }
            step(.tick)
            collect(fromTick: true)
            if !failures.isEmpty { return }
        }
    }

    /// Moves the notices of the command into `events` and checks the invariants.
    private func collect(fromTick: Bool) {
        var fresh = self.fresh
        self.fresh.removeAll()
        if fromTick {
            // `tick` reports the servers that died in dictionary order, which varies from
            // run to run; sort each run of deaths so scripts can list them by address.
            var start = 0
            while start < fresh.count {
                var end = start
                while end < fresh.count, case .serverDied = fresh[end] { end += 1 }
                if end > start + 1 { fresh[start..<end].sort { render($0) < render($1) } }
                start = end + 1
            }
        }
        checkLiveness(
            died: fresh.compactMap { if case let .serverDied(address) = $0 { address } else { nil } },
            fromTick: fromTick)
        var view = lastView
        for event in fresh {
            switch event {
            case let .viewChanged(from, to, reason):
                check(from == view, "viewChanged from `\(render(from))`, but `\(render(view))` was in force")
                check(to.viewnum == from.viewnum + 1, "view number went from \(from.viewnum) to \(to.viewnum)")
                check(!to.acked, "new view `\(render(to))` is already acknowledged")
                check(store.saved.contains(to), "view `\(render(to))` in force but never saved")
                check(
                    to.backup.isEmpty || to.backup == from.backup || !leavingAsSent.contains(to.backup),
                    "`\(render(to))`: its new backup said it is leaving")
                if from.viewnum > 0 {
                    // A revival may: its candidate's claim proves nothing was acknowledged
                    // in the unacknowledged view (docs/DESIGN.md §3.12, case 3).
                    check(
                        from.acked || to.primary == from.primary || reason == .revived || reason == .operatorRevival,
                        "moved on from unacknowledged `\(render(from))` to `\(render(to))` with a new primary")
                    check(
                        !to.primary.isEmpty
                            && (to.primary == from.primary || to.primary == from.backup || reason == .operatorRevival),
                        "`\(render(to))`: its primary was neither primary nor backup of `\(render(from))`")
                }
                view = to
            case let .viewAcknowledged(acked):
                var expected = view
                expected.acked = true
                check(
                    !view.acked && acked == expected,
                    "acknowledged `\(render(acked))` while `\(render(view))` was in force")
                view = acked
            default:
                break
            }
        }
        let current = core!.view
        check(
            current == view,
            "the view in force `\(render(current))` does not follow from the events (`\(render(view))`)")
        check(
            current.viewnum >= lastView.viewnum, "view number went down from \(lastView.viewnum) to \(current.viewnum)")
        if current.viewnum == 0 {
            check(store.last == nil, "no view in force, yet the store saved `\(store.last.map(render) ?? "")`")
        } else {
            check(store.last == current, "the view in force `\(render(current))` is not the last saved one")
        }
        lastView = current
        events += fresh
    }

    /// Checks `servers` and the deaths just reported against `ticksSincePing`.
    private func checkLiveness(died: [String], fromTick: Bool) {
        let deadPings = config.deadPings
        let dying = fromTick ? ticksSincePing.filter { $0.value == deadPings + 1 }.keys.sorted() : []
        check(
            died.sorted() == dying,
            "deaths reported: [\(died.joined(separator: " "))], want [\(dying.joined(separator: " "))] "
                + "(deadPings=\(deadPings), ticks since last ping: \(renderTicksSincePing()))")
        deaths += died.count
        let servers = core!.servers(at: now)
        let known = ticksSincePing.keys.sorted()
        guard servers.map(\.address) == known else {
            check(
                false,
                "the monitor knows [\(servers.map(\.address).joined(separator: " "))], want [\(known.joined(separator: " "))]"
            )
            return
        }
        for info in servers {
            let ticks = ticksSincePing[info.address]!
            let alive = ticks <= deadPings
            check(
                info.alive == alive,
                "\(info.address) is \(info.alive ? "alive" : "dead") \(ticks) ticks after its last ping, "
                    + "want \(alive ? "alive" : "dead") (deadPings=\(deadPings))")
            if fromTick && alive && ticks == deadPings { aliveAtBoundary += 1 }
        }
    }

    private func renderTicksSincePing() -> String {
        ticksSincePing.keys.sorted().map { "\($0)=\(ticksSincePing[$0]!)" }.joined(separator: " ")
    }

    // MARK: Expectations

    private func expect(_ words: [String]) throws {
        guard let what = words.first else { throw ScriptError("expect what?") }
        let args = Array(words.dropFirst())
        switch what {
        case "view":
            let expected = try parseView(words[...])
            let actual = monitor().view
            check(actual.withoutCluster == expected, "view is `\(render(actual))`, want `\(render(expected))`")
        case "stored":
            if args == ["none"] {
                check(store.last == nil, "store holds `\(store.last.map(render) ?? "")`, want none")
            } else {
                let expected = try parseView(args[...])
                check(
                    store.last?.withoutCluster == expected,
                    "store holds `\(store.last.map(render) ?? "none")`, want `\(render(expected))`")
            }
        case "saved":
            let actual = store.saved.map { "\($0.viewnum)/\($0.acked ? "acked" : "unacked")" }
            check(actual == args, "store saved \(actual.joined(separator: " ")), want \(args.joined(separator: " "))")
        case "saves":
            guard args.count == 1 else { throw ScriptError("usage: expect saves <n>") }
            let expected = try number(args[0])
            check(UInt64(store.saved.count) == expected, "store saved \(store.saved.count) views, want \(expected)")
        case "servers":
            try expectServers(args == ["none"] ? [] : args)
        case "answer":
            guard let server = args.first else { throw ScriptError("usage: expect answer <server> view ...") }
            let expected = try parseView(args.dropFirst())
            check(
                lastAnswer[server]?.withoutCluster == expected,
                "\(server) was last answered `\(lastAnswer[server].map(render) ?? "nothing")`, want `\(render(expected))`"
            )
        case "cluster":
            guard args.count == 1 else { throw ScriptError("usage: expect cluster <n>|none") }
            let expected = args[0] == "none" ? 0 : try number(args[0])
            check(monitor().view.cluster == expected, "view's cluster is \(monitor().view.cluster), want \(expected)")
        case "events":
            if core != nil { collect(fromTick: false) }
            let actual = events.map(render)
            let expected = args == ["none"] ? [] : args
            check(
                actual == expected,
                "events are [\(actual.joined(separator: " "))], want [\(expected.joined(separator: " "))]")
            events.removeAll()
        default:
            throw ScriptError("unknown expectation `\(what)`")
        }
    }

    private func expectServers(_ specs: [String]) throws {
        let actual = monitor().servers(at: now)
        let rendered = actual.map {
            "\($0.address):\($0.role):\($0.alive ? "alive" : "dead"):age=\($0.lastPingAgeMillis):vn=\($0.viewnum)"
        }
        let all = rendered.joined(separator: " ")
        guard actual.count == specs.count else {
            check(false, "servers are [\(all)], want [\(specs.joined(separator: " "))]")
            return
        }
        for (info, spec) in zip(actual, specs) {
            let fields = spec.split(separator: ":").map(String.init)
            guard fields.count >= 3 else {
                throw ScriptError("bad server `\(spec)`: want addr:role:alive|dead[:age=N][:vn=N]")
            }
            var ok = info.address == fields[0] && "\(info.role)" == fields[1]
            switch fields[2] {
            case "alive": ok = ok && info.alive
            case "dead": ok = ok && !info.alive
            default: throw ScriptError("bad liveness `\(fields[2])` in `\(spec)`")
            }
            for field in fields.dropFirst(3) {
                let kv = field.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw ScriptError("bad field `\(field)` in `\(spec)`") }
                let value = try number(kv[1])
                switch kv[0] {
                case "age": ok = ok && info.lastPingAgeMillis == value
                case "vn": ok = ok && info.viewnum == value
                default: throw ScriptError("unknown field `\(kv[0])` in `\(spec)`")
                }
            }
            if !ok {
                check(false, "servers are [\(all)], want [\(specs.joined(separator: " "))]")
                return
            }
        }
    }

    // MARK: Helpers

    private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fail(message()) }
    }

    private func fail(_ message: String) {
        failures.append(Failure(lineIndex: currentLine.index, line: currentLine.text, message: message))
    }

    private func number(_ text: String) throws -> UInt64 {
        guard let value = UInt64(text) else { throw ScriptError("expected a number, got `\(text)`") }
        return value
    }

    /// `view <n> <primary> <backup> <acked|unacked>`.
    private func parseView(_ words: ArraySlice<String>) throws -> View {
        let w = Array(words)
        guard w.count == 5, w[0] == "view", w[4] == "acked" || w[4] == "unacked" else {
            throw ScriptError(
                "expected `view <n> <primary> <backup> <acked|unacked>`, got `\(w.joined(separator: " "))`")
        }
        return View(
            viewnum: try number(w[1]), primary: w[2] == "-" ? "" : w[2], backup: w[3] == "-" ? "" : w[3],
            acked: w[4] == "acked")
    }

    func render(_ view: View) -> String {
        "view \(view.viewnum) \(name(view.primary)) \(name(view.backup)) \(view.acked ? "acked" : "unacked")"
    }

    func render(_ event: MonitorNotice) -> String {
        switch event {
        case let .viewChanged(_, to, reason):
            "changed:\(to.viewnum):\(name(to.primary)):\(name(to.backup)):\(name(reason))"
        case let .viewAcknowledged(view):
            "acked:\(view.viewnum)"
        case let .persistFailed(wanted, _):
            "persistFailed:\(wanted.viewnum):\(name(wanted.primary)):\(name(wanted.backup)):\(wanted.acked ? "acked" : "unacked")"
        case let .serverJoined(address):
            "joined:\(address)"
        case let .serverDied(address):
            "died:\(address)"
        case let .serverRestarted(address, role):
            "restarted:\(address):\(role)"
        case let .serverLeaving(address, role):
            "leaving:\(address):\(role)"
        case let .switchoverRefused(refusal):
            "switchoverRefused:\(name(refusal))"
        case let .waitingForRevival(view, _):
            "waiting:\(view.viewnum)"
        case let .reviveRefused(address, _):
            "reviveRefused:\(address)"
        case let .foreignData(address, _, _):
            "foreign:\(address)"
        }
    }

    private func name(_ address: String) -> String { address.isEmpty ? "-" : address }

    private func name(_ reason: ViewChangeReason) -> String {
        switch reason {
        case .firstPrimary: "firstPrimary"
        case .primaryFailed: "primaryFailed"
        case .backupFailed: "backupFailed"
        case .backupAdded: "backupAdded"
        case .primaryLeft: "primaryLeft"
        case .backupLeft: "backupLeft"
        case .switchover: "switchover"
        case .revived: "revived"
        case .operatorRevival: "operatorRevival"
        }
    }
}

/// The error a failing store reports.
struct DiskFull: Error, CustomStringConvertible {
    var description: String { "no space left on device" }
}

/// The script's view store: what was saved, the save in flight, and how saves end.
final class ScriptStore {
    private(set) var saved: [View] = []
    var inFlight: View?
    /// Saves fail with this error while set.
    var failure: String?
    /// Saves stay in flight until the script releases them.
    var holding = false

    var last: View? { saved.last }

    func append(_ view: View) { saved.append(view) }
}

extension XCTestCase {
    /// Runs a monitor script and reports each failure at its line in the Swift source.
    ///
    /// Write the call as `runMonitorScript("""` with the script starting on the next
    /// line, so that script line k is source line `line + k`.
    @discardableResult
    func runMonitorScript(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> MonitorScript {
        let script = MonitorScript()
        script.run(text)
        for failure in script.failures {
            XCTFail(failure.description, file: file, line: line + 1 + UInt(failure.lineIndex))
        }
        return script
    }
}
