import KVClient
import KVProtocol
import KVTransport
import NIOCore

/// What one monitor says of itself, asked with `monitorInfo` (docs/PROTOCOL.md).
struct MonitorReport: Sendable {
    enum Answer: Sendable {
        case status(MonitorStatus)
        /// It refuses `monitorInfo` as a message it does not take, and answers `getView`
        /// with `view`: a monitor older than the message, so one that runs alone (with a
        /// view file), since followers came with it.
        case noMonitorInfo(view: View)
        /// No answer: what went wrong.
        case unreachable(String)
    }

    let address: String
    let answer: Answer

    var reachable: Bool {
        if case .unreachable = answer { return false }
        return true
    }

    /// "sole", "leader", "follower", "unknown" (it does not take `monitorInfo`), or nil
    /// when it does not answer.
    var role: String? {
        switch answer {
        case .status(let status): "\(status.role)"
        case .noMonitorInfo: "unknown"
        case .unreachable: nil
        }
    }

    /// Whether it decides views. A monitor whose role is unknown counts as sole when it
    /// is the only one configured: it predates several monitors, so it can be no
    /// follower, and that is the single-monitor service as it always was. Among several,
    /// it cannot be told apart from a stray old process, so it does not count.
    func decides(alone: Bool) -> Bool {
        switch answer {
        case .status(let status): status.decides
        case .noMonitorInfo: alone
        case .unreachable: false
        }
    }

    /// The view it holds, when it said.
    var view: View? {
        switch answer {
        case .status(let status): status.view
        case .noMonitorInfo(let view): view
        case .unreachable: nil
        }
    }

    /// The leader it names ("" for none, or when it does not say).
    var namedLeader: String {
        if case .status(let status) = answer { return status.leader }
        return ""
    }

    var storeReachable: Bool? {
        if case .status(let status) = answer { return status.storeReachable }
        return nil
    }
}

/// Every configured monitor's report, asked concurrently, and what they make together:
/// for `kvctl monitors` and `kvctl status` (docs/DESIGN.md §4.3).
struct MonitorSurvey: Sendable {
    let reports: [MonitorReport]

    /// Asks each of `addresses` for its `monitorInfo` at once, each bounded by `timeout`
    /// (the whole survey too, about: a monitor that refuses the message is asked its view
    /// within what remains of its bound).
    static func take(_ addresses: [String], client: KVClient, timeout: TimeAmount) async -> MonitorSurvey {
        await withTaskGroup(of: (Int, MonitorReport).self) { group in
            for (position, address) in addresses.enumerated() {
                group.addTask { (position, await ask(address, client: client, timeout: timeout)) }
            }
            var reports: [MonitorReport?] = Array(repeating: nil, count: addresses.count)
            for await (position, report) in group { reports[position] = report }
            return MonitorSurvey(reports: reports.map { $0! })
        }
    }

    private static func ask(_ address: String, client: KVClient, timeout: TimeAmount) async -> MonitorReport {
        let deadline = NIODeadline.now() + timeout
        do {
            let reply = try await client.ask(monitor: address, .monitorInfo, timeout: timeout)
            guard case .monitorInfoReply(let status) = reply else {
                return MonitorReport(address: address, answer: .unreachable("unexpected reply \(reply.typeCode)"))
            }
            return MonitorReport(address: address, answer: .status(status))
        } catch TransportError.peerError(let code, _) where code == .unexpectedMessage || code == .unknownMessageType {
            // A monitor from before `monitorInfo` answers the view request every monitor
            // takes; anything else that refuses both (a kv-server, say) is no monitor.
            let remaining = max(.milliseconds(1), deadline - NIODeadline.now())
            do {
                let reply = try await client.ask(monitor: address, .getView, timeout: remaining)
                guard case .viewReply(let view) = reply else {
                    return MonitorReport(address: address, answer: .unreachable("unexpected reply \(reply.typeCode)"))
                }
                return MonitorReport(address: address, answer: .noMonitorInfo(view: view))
            } catch {
                return MonitorReport(
                    address: address,
                    answer: .unreachable("refuses monitorInfo, then getView: \(ErrorDescription.of(error))"))
            }
        } catch {
            return MonitorReport(address: address, answer: .unreachable(ErrorDescription.of(error)))
        }
    }

    var reachable: [MonitorReport] { reports.filter(\.reachable) }

    /// The monitors that decide views now: one in a sound control plane.
    var deciding: [MonitorReport] { reports.filter { $0.decides(alone: reports.count == 1) } }

    /// What is wrong with the control plane, in words; empty when every monitor answers
    /// and exactly one decides.
    var problems: [String] {
        var problems = reports.filter { !$0.reachable }.map { "monitor \($0.address) does not answer" }
        if reports.count > 1 {
            for report in reports where report.role == "unknown" {
                problems.append("monitor \(report.address) does not say its role (a monitor older than monitorInfo)")
            }
        }
        let deciding = deciding
        if deciding.isEmpty {
            problems.append("no monitor leads (the view cannot change)")
        } else if deciding.count > 1 {
            problems.append("several monitors say they lead: \(deciding.map(\.address).joined(separator: ", "))")
        }
        return problems
    }

    /// Monitors that answer but cannot reach their store (etcd without quorum, or a sole
    /// monitor's failed save): no view can change through them. `status` counts these as
    /// degraded; `monitors` reports them without changing its exit status.
    var storeProblems: [String] {
        reports.filter { $0.storeReachable == false }.map { "monitor \($0.address) cannot reach its store" }
    }

    /// 0: every monitor answers and exactly one decides; 1: degraded; 2: none answers.
    var exitStatus: Int32 {
        if reachable.isEmpty { return 2 }
        return problems.isEmpty ? 0 : 1
    }
}
