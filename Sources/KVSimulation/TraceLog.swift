/// The simulation's trace: the last `capacity` events, for a failure's report, and
/// every event as it happens when a sink is set (`--verbose`).
///
/// Entries are kept as values and turned into text only when someone reads them: a
/// schedule records thousands and almost always passes.
struct TraceLog {
    private let capacity: Int
    private let sink: (@Sendable (String) -> Void)?
    private let names: [String]
    private var ring: [(time: UInt64, entry: TraceEntry)] = []
    private var next = 0

    init(capacity: Int, sink: (@Sendable (String) -> Void)?, names: [String]) {
        self.capacity = max(1, capacity)
        self.sink = sink
        self.names = names
        ring.reserveCapacity(self.capacity)
    }

    mutating func record(_ time: UInt64, _ entry: TraceEntry) {
        if let sink { sink(line(time, entry)) }
        if ring.count < capacity {
            ring.append((time, entry))
        } else {
            ring[next] = (time, entry)
            next = (next + 1) % capacity
        }
    }

    /// The kept entries as text, oldest first.
    var lines: [String] {
        let ordered = ring.count < capacity ? ring : Array(ring[next...] + ring[..<next])
        return ordered.map { line($0.time, $0.entry) }
    }

    private func line(_ time: UInt64, _ entry: TraceEntry) -> String {
        "\(Self.format(time: time))  \(entry.text(names: names))"
    }

    /// Simulated microseconds as seconds with six decimals.
    static func format(time: UInt64) -> String {
        let fraction = String(time % 1_000_000)
        return "\(time / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)s"
    }
}
