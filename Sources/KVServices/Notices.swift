import KVProtocol
import KVStorage
import KVTransport
import Logging
import MonitorCore
import ServerCore

/// Turns the cores' notices into log records with structured fields. Field names are
/// lower-case here; the journald handler upper-cases them (KV_VIEWNUM, ...).
enum Notices {
    /// A message this daemon does not take (a ping sent to a server, a data request sent to
    /// the monitor): logged as bad input and answered with an error, which ends the
    /// connection.
    static func refuseUnexpected(_ frame: Frame, from responder: Responder, by daemon: String, logger: Logger) {
        logger.warning(
            "unexpected message for a \(daemon)",
            metadata: [
                "kv_peer": "\(responder.peer)", "kv_event": "bad-input", "kv_type": "\(frame.message.typeCode)",
            ])
        responder.respond(
            .error(code: .unexpectedMessage, message: "a \(daemon) does not take \(frame.message.typeCode)"))
    }

    static func viewMetadata(_ view: View) -> Logger.Metadata {
        [
            "kv_viewnum": "\(view.viewnum)",
            "kv_primary": "\(view.primary.isEmpty ? "-" : view.primary)",
            "kv_backup": "\(view.backup.isEmpty ? "-" : view.backup)",
            "kv_cluster": "\(view.cluster == 0 ? "-" : ClusterID.text(view.cluster))",
        ]
    }

    static func log(_ notice: ElectionNotice, logger: Logger) {
        switch notice {
        case .becameLeader(let token, let view):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "leader-elected"
            metadata["kv_token"] = "\(token)"
            logger.notice(
                "elected leader of the monitors; deciding views from view \(view.viewnum)", metadata: metadata)
        case .steppedDown(let reason):
            logger.warning(
                "stepped down as leader: \(reason)",
                metadata: ["kv_event": "leader-stepped-down", "kv_reason": "\(reason)"])
        case .viewImported(let view):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "view-imported"
            logger.notice("imported view \(view.viewnum) from the state directory into etcd", metadata: metadata)
        case .following(let leader):
            logger.info(
                leader.isEmpty ? "following: no leader known" : "following the leader \(leader)",
                metadata: ["kv_leader": "\(leader.isEmpty ? "-" : leader)", "kv_event": "following"])
        case .storeUnavailable(let error):
            logger.error(
                "etcd does not answer: no view can change until it does (\(error))",
                metadata: ["kv_event": "etcd-unavailable", "kv_reason": "\(error)"])
        case .storeAvailable:
            logger.notice("etcd answers again", metadata: ["kv_event": "etcd-available"])
        }
    }

    static func log(_ notice: MonitorNotice, logger: Logger) {
        switch notice {
        case .viewChanged(let from, let to, let reason):
            var metadata = viewMetadata(to)
            metadata["kv_event"] = "view-change"
            metadata["kv_previous_viewnum"] = "\(from.viewnum)"
            metadata["kv_reason"] = "\(reason.rawValue)"
            let founded = from.cluster == 0 && to.cluster != 0 ? " (cluster \(ClusterID.text(to.cluster)))" : ""
            logger.notice("new view \(to.viewnum): \(reason.rawValue)\(founded)", metadata: metadata)
        case .viewAcknowledged(let view):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "view-acknowledged"
            logger.info("view \(view.viewnum) acknowledged by its primary", metadata: metadata)
        case .persistFailed(let wanted, let error):
            var metadata = viewMetadata(wanted)
            metadata["kv_event"] = "persist-failed"
            logger.error("cannot store view \(wanted.viewnum), keeping the current one: \(error)", metadata: metadata)
        case .serverJoined(let address):
            logger.info("server \(address) pinged for the first time", metadata: ["kv_peer": "\(address)"])
        case .serverDied(let address):
            logger.warning(
                "server \(address) missed its pings", metadata: ["kv_peer": "\(address)", "kv_event": "server-dead"])
        case .serverRestarted(let address, let role):
            logger.warning(
                "\(role) \(address) restarted (pinged with view 0)",
                metadata: ["kv_peer": "\(address)", "kv_role": "\(role)", "kv_event": "server-restarted"])
        case .serverLeaving(let address, let role):
            logger.notice(
                "\(role) \(address) is shutting down and asks to be relieved",
                metadata: ["kv_peer": "\(address)", "kv_role": "\(role)", "kv_event": "leaving"])
        case .switchoverRefused(let refusal):
            logger.info("switchover refused: \(refusal)", metadata: ["kv_event": "switchover-refused"])
        case .reviveRefused(let address, let reason):
            logger.warning(
                "kvctl revive of \(address) refused: \(reason)",
                metadata: ["kv_event": "revive-refused", "kv_peer": "\(address)"])
        case .foreignData(let address, let claim, let cluster):
            let this = cluster == 0 ? "this monitor has no view yet" : "this cluster is \(ClusterID.text(cluster))"
            let advice =
                "it gets no role until kvctl revive \(address) --accept-data-loss adopts its data, "
                + "or its data directory is cleared"
            logger.error(
                "server \(address) holds data of another cluster (\(claim)); \(this): \(advice)",
                metadata: ["kv_event": "foreign-data", "kv_peer": "\(address)"])
        case .waitingForRevival(let view, let reason):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "waiting-for-revival"
            logger.critical("\(reason)", metadata: metadata)
        }
    }

    /// - Parameter durationMillis: for a completed transfer, how long it took (the core has
    ///   no clock; the runtime measures).
    static func log(_ notice: ServerNotice, logger: Logger, durationMillis: UInt64? = nil) {
        switch notice {
        case .viewChanged(let from, let to):
            var metadata = viewMetadata(to)
            metadata["kv_event"] = "view-change"
            metadata["kv_previous_viewnum"] = "\(from.viewnum)"
            logger.info("learned view \(to.viewnum)", metadata: metadata)
        case .roleChanged(let from, let to, let view):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = from == .backup && to == .primary ? "promotion" : "role-change"
            metadata["kv_role"] = "\(to)"
            metadata["kv_previous_role"] = "\(from)"
            logger.notice("role \(from) -> \(to) in view \(view.viewnum)", metadata: metadata)
        case .waitingOutLease(let view, let milliseconds):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "lease-wait"
            metadata["kv_wait_ms"] = "\(milliseconds)"
            logger.notice(
                "named primary of view \(view.viewnum); serving in \(milliseconds) ms, once the read lease it granted as backup has run out",
                metadata: metadata)
        case .refusedPrimary(let view, let reason):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "refused-primary"
            logger.error("named primary of view \(view.viewnum) but refusing: \(reason)", metadata: metadata)
        case .transferStarted(let backup, let viewnum, let keys, let duplicates):
            logger.notice(
                "state transfer to \(backup) started",
                metadata: [
                    "kv_event": "transfer-start", "kv_peer": "\(backup)", "kv_viewnum": "\(viewnum)",
                    "kv_keys": "\(keys)",
                    "kv_duplicates": "\(duplicates)",
                ])
        case .transferCompleted(let backup, let viewnum, let keys, let bytes, let chunks):
            var metadata: Logger.Metadata = [
                "kv_event": "transfer-end", "kv_peer": "\(backup)", "kv_viewnum": "\(viewnum)",
                "kv_keys": "\(keys)", "kv_bytes": "\(bytes)", "kv_chunks": "\(chunks)",
            ]
            if let durationMillis { metadata["kv_duration_ms"] = "\(durationMillis)" }
            logger.notice(
                "state transfer to \(backup) complete\(durationMillis.map { " in \($0) ms" } ?? "")", metadata: metadata
            )
        case .transferRestarted(let backup, let viewnum, let reason):
            logger.warning(
                "state transfer to \(backup) restarted: \(reason)",
                metadata: ["kv_event": "transfer-restart", "kv_peer": "\(backup)", "kv_viewnum": "\(viewnum)"])
        case .transferResumed(let backup, let fromChunk, let reason):
            logger.info(
                "state transfer to \(backup) resumed from chunk \(fromChunk): \(reason)",
                metadata: ["kv_event": "transfer-resume", "kv_peer": "\(backup)", "kv_chunk": "\(fromChunk)"])
        case .peerUnreachable(let peer, let address, let seconds, let reason, let reminder):
            let silent = String(Int(seconds.rounded()))
            let still = reminder ? ", still" : ""
            let effect =
                peer == "monitor"
                ? "no view change reaches this server, and the monitor may take it for dead"
                : "replies to clients wait for it"
            logger.warning(
                "\(peer) \(address) has answered nothing for \(silent) s (\(reason))\(still): \(effect)",
                metadata: ["kv_event": "peer-unreachable", "kv_peer": "\(address)", "kv_peer_role": "\(peer)"])
        case .peerReachable(let peer, let address, let seconds):
            let after = seconds > 0 ? " after \(Int(seconds.rounded())) s" : ""
            logger.notice(
                "\(peer) \(address) answers again\(after)",
                metadata: ["kv_event": "peer-reachable", "kv_peer": "\(address)", "kv_peer_role": "\(peer)"])
        case .transferReceived(let from, let viewnum, let keys):
            logger.notice(
                "received the whole state from \(from)",
                metadata: [
                    "kv_event": "transfer-received", "kv_peer": "\(from)", "kv_viewnum": "\(viewnum)",
                    "kv_keys": "\(keys)",
                ])
        case .fenced(let backup, let viewnum, let verdict):
            logger.warning(
                "backup \(backup) refused this primary (\(verdict)); not serving until a newer view",
                metadata: [
                    "kv_event": "forward-failed", "kv_peer": "\(backup)", "kv_viewnum": "\(viewnum)",
                    "kv_reason": "\(verdict)",
                ])
        case .rejectedFromPrimary(let from, let viewnum, let verdict):
            logger.info(
                "refused a message from \(from) for view \(viewnum): \(verdict)",
                metadata: [
                    "kv_event": "rejected-request", "kv_peer": "\(from)", "kv_viewnum": "\(viewnum)",
                    "kv_reason": "\(verdict)",
                ])
        case .forwardResent(let backup, let batches, let reason):
            logger.info(
                "resending \(batches) batches to \(backup): \(reason)",
                metadata: ["kv_event": "forward-retry", "kv_peer": "\(backup)"])
        case .leaving(let role, let view):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "leaving"
            metadata["kv_role"] = "\(role)"
            logger.notice("shutting down: asking the monitor to hand over this \(role)'s role", metadata: metadata)
        case .adoptedData(let keys):
            logger.warning(
                "the operator accepted this server's data (\(keys) keys) as the state to serve, whatever it lacks",
                metadata: ["kv_event": "data-adopted", "kv_keys": "\(keys)"])
        case .adoptRefused(let reason):
            logger.warning(
                "refused to adopt its data as the state to serve: \(reason)", metadata: ["kv_event": "data-adopted"])
        case .diskFull:
            logger.warning(
                """
                the data directory's disk is full: updates are refused (retry later) and replies wait until it \
                takes the log's records again; the records are kept in memory and retried every second
                """,
                metadata: ["kv_event": "disk-full"])
        case .diskNoLongerFull:
            logger.notice(
                "the data directory's disk takes writes again: updates are accepted",
                metadata: ["kv_event": "disk-space-returned"])
        case .servingAdoptedData(let view, let keys):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "revived"
            logger.critical(
                "primary of view \(view.viewnum) with the data the operator accepted (\(keys) keys); updates it lacks are lost",
                metadata: metadata)
        case .revived(let view, let claim):
            var metadata = viewMetadata(view)
            metadata["kv_event"] = "revived"
            logger.notice(
                "revived as primary of view \(view.viewnum) with the data directory's state (\(claim))",
                metadata: metadata)
        }
    }

    static func storageOpened(
        _ opening: StorageEngine<POSIXDataDirectory>.Opening, directory: String, logger: Logger
    ) {
        if opening.damage != nil {
            logger.error(
                "data directory \(directory): \(opening.report)",
                metadata: ["kv_event": "storage-damaged", "kv_data_dir": "\(directory)"])
        } else {
            logger.notice(
                "data directory \(directory): \(opening.report)",
                metadata: ["kv_event": "storage-opened", "kv_data_dir": "\(directory)"])
        }
    }
}
