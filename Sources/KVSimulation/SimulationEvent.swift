import NodeDriver

/// Everything the simulation can schedule. Events aimed at a process carry the
/// incarnation they were scheduled for (timers: their owner), so nothing of a crashed
/// process reaches its restarted successor.
enum SimulationEvent {
    /// A message reaches its destination.
    case arrive(Packet)
    /// A request's answer did not come in time.
    case exchangeTimedOut(exchange: UInt64)
    /// A timer a driver (or the simulated store) set.
    case timer(id: UInt64)
    /// A client session's pause or think time is over.
    case clientWake(client: Int, wake: UInt64)
    /// A leaving server's leave ended: it exits.
    case serverExit(server: Int, incarnation: UInt64, outcome: LeaveOutcome)
    case restartServer(server: Int)
    /// The machine crash armed on a server's disk is due: if no disk operation met it,
    /// the machine crashes now.
    case diskCrashDue(server: Int, incarnation: UInt64)
    /// The failure armed on a server's next fdatasync is called off if no sync met it.
    case syncFailureExpires(server: Int, incarnation: UInt64)
    case restartMonitor(node: Int)
    /// A monitor cut off from etcd reaches it again (one cut-off ends).
    case etcdReachable(monitor: Int)
    case etcdQuorumBack
    case healPartition(id: UInt64)
    case endLossyPeriod(id: UInt64)
    /// The monitor's store works again (after the failure numbered `id`).
    case storeRecovers(id: UInt64)
    /// Every machine loses power (planned at a moment of danger, not by the planner).
    case powerCut
    /// Time for the fault planner to pick the next fault.
    case planFault
    /// The admin's switchover attempt pauses before asking again.
    case adminRetry
    /// Every client finished: heal everything and let the service settle.
    case endOfFaults
    /// The settled service is read back, key by key.
    case finalReads
}
