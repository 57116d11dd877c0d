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
}
