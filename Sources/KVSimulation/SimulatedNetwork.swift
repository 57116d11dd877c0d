/// Links between every pair of nodes: per-message delay, loss, duplication and delay
/// spikes from a `LinkProfile`, and partitions as sets of blocked directed links.
///
/// Partitions may overlap: each blocked link counts the partitions that block it, and a
/// link is open again once all of them healed. A message is lost when its link is
/// blocked as it is sent or as it would arrive (a partition that begins while it is on
/// the way catches it).
struct SimulatedNetwork {
    var profile: LinkProfile
    /// Extra loss and duplication during a lossy period (0 outside one).
    var lossyPermille = 0
    /// A node whose links lose messages only to partitions, never to chance.
    var reliableNode: Int?
    private var blockedCounts: [Int: Int] = [:]
    private var partitions: [UInt64: [Int]] = [:]
    private var nextPartition: UInt64 = 1
    private let nodes: Int

    init(profile: LinkProfile, nodes: Int) {
        self.profile = profile
        self.nodes = nodes
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

    /// The arrival delays of the copies of one message sent now: none when it is lost,
    /// two when it is duplicated.
    func delays(from: Int, to: Int, random: inout SimulationRandom) -> [UInt64] {
        if isBlocked(from: from, to: to) { return [] }
        let reliable = reliableNode == from || reliableNode == to
        if !reliable && random.chance(permille: profile.lossPermille + lossyPermille) { return [] }
        var copies = [delay(&random)]
        if random.chance(permille: profile.duplicatePermille + lossyPermille / 4) { copies.append(delay(&random)) }
        return copies
    }

    private func delay(_ random: inout SimulationRandom) -> UInt64 {
        var delay = random.between(profile.minDelay, profile.maxDelay)
        if random.chance(permille: profile.spikePermille) { delay += random.between(0, profile.spikeMaxDelay) }
        return delay
    }
}
