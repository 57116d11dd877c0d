/// The faults a schedule injects, for the statistics.
public enum FaultKind: String, CaseIterable, Sendable {
    case serverCrash = "server crash"
    case serverRestart = "server restart"
    case monitorCrash = "monitor crash"
    case monitorRestart = "monitor restart"
    case leave = "planned leave"
    case leaveExit = "exit after leave"
    case switchover = "switchover request"
    case primaryCutFromMonitor = "primary cut off from the monitor"
    case serverIsolated = "server isolated"
    case linksBlocked = "one-way links blocked"
    case lossyPeriod = "lossy period"
    case storeFailing = "monitor store failing"
    case monitorCutFromEtcd = "monitor cut off from etcd"
    case etcdWithoutQuorum = "etcd without quorum"
    case etcdLeaderChange = "etcd leader change (leases renewed)"
}
