import KVProtocol
import KVTransport
import NIOCore
import XCTest

/// A stand-in for one of several kv-monitors, on a real TCP port, answering as its
/// script says (docs/PROTOCOL.md, "Monitor messages"): a follower sends pings, server
/// listings and switchovers to the leader it names (`notLeader`) and answers view
/// requests from the view it holds, if any; a leader answers pings and view requests
/// with its view and listings with its servers; every one answers `monitorInfo` with its
/// role, unless scripted as a monitor older than that message. It decides nothing: a
/// test plays the rest of the control plane (a real `MonitorNode` as the leader, say).
/// The script can change while it runs; what it received is counted.
package final class ScriptedMonitor: Sendable {
    package struct Script: Sendable {
        package var role: MonitorStatus.Role
        /// The leader it names (a leader names itself when this is empty).
        package var leader: String
        /// The view it holds: a follower's last read one (nil: none yet), a leader's in force.
        package var view: View?
        /// What a leader lists to `listServers`.
        package var servers: [ServerInfo]
        /// False: it refuses `monitorInfo` as an unexpected message, as a monitor from
        /// before that message does.
        package var answersMonitorInfo: Bool
        package var storeReachable: Bool

        package init(
            role: MonitorStatus.Role, leader: String = "", view: View? = nil, servers: [ServerInfo] = [],
            answersMonitorInfo: Bool = true, storeReachable: Bool = true
        ) {
            self.role = role
            self.leader = leader
            self.view = view
            self.servers = servers
            self.answersMonitorInfo = answersMonitorInfo
            self.storeReachable = storeReachable
        }

        /// A follower that names `leader` ("" for none) and holds `view`, if any.
        package static func follower(leader: String, view: View? = nil) -> Script {
            Script(role: .follower, leader: leader, view: view)
        }

        /// The leader, with its view and the servers it lists.
        package static func leader(view: View, servers: [ServerInfo] = []) -> Script {
            Script(role: .leader, view: view, servers: servers)
        }
    }

    private struct State {
        var script: Script
        var received: [MessageType: Int] = [:]
    }

    package let address: String
    private let listener: FrameListener
    private let state: Locked<State>

    private init(address: String, listener: FrameListener, state: Locked<State>) {
        self.address = address
        self.listener = listener
        self.state = state
    }

    /// Starts it on a free port of 127.0.0.1. Prefer `XCTestCase.makeScriptedMonitor`,
    /// which also stops it when the test ends.
    package static func start(_ script: Script, secret: SharedSecret? = nil) async throws -> ScriptedMonitor {
        let state = Locked(State(script: script))
        let address = Locked("")
        let listener = try await FrameListener.start(
            source: .bind(PeerAddress(host: "127.0.0.1", port: 0)), group: Shared.group, logger: Shared.logger,
            secret: secret
        ) { frame, responder in
            let answer = state.update { state -> Message in
                state.received[frame.message.typeCode, default: 0] += 1
                return Self.answer(to: frame.message, script: state.script, address: address.get())
            }
            responder.respond(answer)
        }
        guard let port = listener.localAddress?.port else {
            await listener.closeAll()
            throw TestSetupError("scripted monitor has no local address")
        }
        address.set("127.0.0.1:\(port)")
        return ScriptedMonitor(address: address.get(), listener: listener, state: state)
    }

    private static func answer(to message: Message, script: Script, address: String) -> Message {
        let decides = script.role != .follower
        let view = script.view ?? .initial
        switch message {
        case .monitorInfo where script.answersMonitorInfo:
            let leader = script.role == .leader && script.leader.isEmpty ? address : script.leader
            return .monitorInfoReply(
                MonitorStatus(role: script.role, leader: leader, view: view, storeReachable: script.storeReachable))
        case .ping, .listServers, .switchover, .getView:
            if case .getView = message, let held = script.view { return .viewReply(held) }
            guard decides else { return .notLeader(leader: script.leader) }
            switch message {
            case .listServers: return .serversReply(view: view, servers: script.servers)
            case .switchover: return .error(code: .unexpectedMessage, message: "a scripted monitor does no switchover")
            default: return .viewReply(view)
            }
        default:
            return .error(code: .unexpectedMessage, message: "a monitor does not take \(message.typeCode)")
        }
    }

    /// Changes the script; the next request is answered by the new one.
    package func update(_ change: @Sendable (inout Script) -> Void) {
        state.update { change(&$0.script) }
    }

    /// How many messages of `type` it received.
    package func received(_ type: MessageType) -> Int {
        state.get().received[type] ?? 0
    }

    /// Stops listening and closes every connection.
    package func stop() async {
        await listener.closeAll()
    }
}

extension XCTestCase {
    /// A scripted monitor stopped when the test ends, however it ends.
    package func makeScriptedMonitor(_ script: ScriptedMonitor.Script) async throws -> ScriptedMonitor {
        let monitor = try await ScriptedMonitor.start(script)
        addTeardownBlock { await monitor.stop() }
        return monitor
    }
}
