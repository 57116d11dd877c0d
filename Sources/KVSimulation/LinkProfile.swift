/// How the simulated network treats a message on any link, in microseconds and
/// thousandths (see `SimulatedNetwork` for the order messages arrive in).
struct LinkProfile {
    var minDelay: UInt64
    var maxDelay: UInt64
    var lossPermille: Int
    var duplicatePermille: Int
    /// A message is now and then held much longer (a retransmission, a stalled
    /// connection), which reorders it behind many later ones.
    var spikePermille: Int
    var spikeMaxDelay: UInt64
}
