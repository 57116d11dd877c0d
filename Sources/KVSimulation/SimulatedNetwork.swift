/// Links between every pair of nodes: per-message delay, loss, duplication and delay
/// spikes from a `LinkProfile`, and partitions as sets of blocked directed links.
///
/// A link delivers in order, as one connection does, unless the schedule's network
/// reorders freely (`reordersFreely`): a message then never arrives before one sent
/// earlier on the same link. A delay spike (a retransmission, a reconnect) holds one
/// message back while later ones overtake it, and a duplicate (a resend on another
/// connection) arrives on its own time: both reorder either way.
///
/// Partitions may overlap: each blocked link counts the partitions that block it, and a
/// link is open again once all of them healed. A message is lost when its link is
/// blocked as it is sent or as it would arrive (a partition that begins while it is on
/// the way catches it).
struct SimulatedNetwork {
    var profile: LinkProfile
    /// Extra loss and duplication during a lossy period (0 outside one).
    var lossyPermille = 0
    /// Nodes whose links lose messages only to partitions, never to chance.
    var reliableNodes: Set<Int> = []
    private var blockedCounts: [Int: Int] = [:]
    private var partitions: [UInt64: [Int]] = [:]
    /// The latest in-order arrival on each link.
    private var lastArrival: [Int: UInt64] = [:]
    /// Every message's delay is its own, so messages sent close together overtake each
    /// other freely.
    let reordersFreely: Bool
    private var nextPartition: UInt64 = 1
    private let nodes: Int

    init(profile: LinkProfile, nodes: Int, reordersFreely: Bool) {
        self.profile = profile
        self.nodes = nodes
        self.reordersFreely = reordersFreely
    }

    private func link(_ from: Int, _ to: Int) -> Int { from * nodes + to }

    func isBlocked(from: Int, to: Int) -> Bool {
        (blockedCounts[link(from, to)] ?? 0) > 0
    }

    var hasPartitions: Bool { !partitions.isEmpty }

    /// Blocks the directed links `from -> to`; returns the partition's id for `heal`.
    mutating func partition(_ links: [(from: Int, to: Int)]) -> UInt64 {
        let id = nextPartition
        nextPartition += 1
        let keys = links.map { link($0.from, $0.to) }
        partitions[id] = keys
        for key in keys { blockedCounts[key, default: 0] += 1 }
        return id
    }

    mutating func heal(_ id: UInt64) {
        guard let keys = partitions.removeValue(forKey: id) else { return }
        for key in keys {
            blockedCounts[key]! -= 1
            if blockedCounts[key] == 0 { blockedCounts[key] = nil }
        }
    }

    mutating func healAll() {
        partitions.removeAll()
        blockedCounts.removeAll()
        lossyPermille = 0
    }

    /// The arrival times of the copies of one message sent at `now`: none when it is
    /// lost, two when it is duplicated.
    mutating func arrivals(from: Int, to: Int, at now: UInt64, random: inout SimulationRandom) -> [UInt64] {
        if isBlocked(from: from, to: to) { return [] }
        let reliable = reliableNodes.contains(from) || reliableNodes.contains(to)
        if !reliable && random.chance(permille: profile.lossPermille + lossyPermille) { return [] }
        var arrival = now + random.between(profile.minDelay, profile.maxDelay)
        if random.chance(permille: profile.spikePermille) {
            arrival += random.between(0, profile.spikeMaxDelay)
        } else if !reordersFreely {
            let key = link(from, to)
            arrival = max(arrival, lastArrival[key] ?? 0)
            lastArrival[key] = arrival
        }
        var copies = [arrival]
        if random.chance(permille: profile.duplicatePermille + lossyPermille / 4) {
            copies.append(now + random.between(profile.minDelay, profile.maxDelay + profile.spikeMaxDelay))
        }
        return copies
    }
}
