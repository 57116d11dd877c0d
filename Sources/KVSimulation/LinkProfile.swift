/// How the simulated network treats a message on any link, in microseconds and
/// thousandths. Each message gets its own delay, so messages on one link overtake one
/// another (reordering) whenever the delay range is wider than the gap between them.
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
