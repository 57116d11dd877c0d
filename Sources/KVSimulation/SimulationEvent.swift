/// Everything the simulation can schedule. Events aimed at a process carry the
/// incarnation they were scheduled for, so a timer of a crashed process never fires in
/// its restarted successor.
enum SimulationEvent {
    /// A message reaches its destination.
    case arrive(Packet)
    /// A request's answer did not come in time.
    case exchangeTimedOut(exchange: UInt64)
    case serverTick(server: Int, incarnation: UInt64)
    case monitorTick(incarnation: UInt64)
    /// A client session's pause or think time is over.
    case clientWake(client: Int, wake: UInt64)
    /// A leaving server stops waiting for the monitor to relieve it, and exits.
    case leaveTimedOut(server: Int, incarnation: UInt64)
    case restartServer(server: Int)
    case restartMonitor
    case healPartition(id: UInt64)
    case endLossyPeriod(id: UInt64)
    /// Time for the fault planner to pick the next fault.
    case planFault
    /// The admin's switchover attempt pauses before asking again.
    case adminRetry
    /// Every client finished: heal everything and let the service settle.
    case endOfFaults
    /// The settled service is read back, key by key.
    case finalReads
}
