/// How a server process ends, and what its disk keeps of what was not synced.
enum ServerCrash {
    /// The process alone ends (kill -9, an exit, a failed fsync): the kernel's page
    /// cache keeps everything written, and the machine's boot id stays.
    case process
    /// The machine crashes or loses power: a new boot id, and the disk loses what was not
    /// durable, in one of the ways the seed picks (`Simulation.crashMachine`).
    case machine
}
