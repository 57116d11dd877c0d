import KVProtocol
import NIOConcurrencyHelpers

/// SCAN's cursors. A walk resumes from a key (the range operation's `next`), but Redis
/// clients read a cursor as an unsigned 64-bit decimal number (redis-cli, go-redis), so
/// each key to resume from is kept here under a number.
///
/// One table serves the whole endpoint, not one connection: a client pool sends the
/// calls of one SCAN loop over whichever connections are free. It is a fixed ring of
/// slots, large enough that a SCAN loop paused between pages survives 262,144 other SCAN
/// calls (a fast `redis-cli --scan` of a million keys makes 100,000), with the keys it
/// holds bounded to 64 MiB (beyond that the oldest cursors go first); a cursor is
/// `lap << 18 | slot` with laps counted from 1, so it is never 0 (which ends a SCAN) and a slot reused on a
/// later lap makes the older cursor unknown ("ERR invalid cursor") instead of resuming
/// someone else's walk. Cursors live in this process only: they do not survive a restart
/// or a failover, as Redis's do not (its hash seed is per process).
final class ScanCursorTable: Sendable {
    static let slotBits = 18
    static let slotCount = 1 << slotBits
    static let maxKeyBytes = 64 << 20

    private struct Ring {
        var keys: [Bytes?] = Array(repeating: nil, count: ScanCursorTable.slotCount)
        var laps: [UInt64] = Array(repeating: 0, count: ScanCursorTable.slotCount)
        var nextSlot = 0
        var lap: UInt64 = 1
        var keyBytes = 0

        mutating func clear(_ slot: Int) {
            keyBytes -= keys[slot]?.count ?? 0
            keys[slot] = nil
            laps[slot] = 0
        }
    }

    private let ring = NIOLockedValueBox(Ring())

    init() {}

    /// A new cursor that resumes at `key`.
    func cursor(resumingAt key: Bytes) -> UInt64 {
        ring.withLockedValue { ring in
            let (slot, lap) = (ring.nextSlot, ring.lap)
            ring.clear(slot)
            ring.keys[slot] = key
            ring.laps[slot] = lap
            ring.keyBytes += key.count
            // Over the budget: the oldest cursors (the slots written longest ago) go.
            var oldest = (slot + 1) % Self.slotCount
            while ring.keyBytes > Self.maxKeyBytes && oldest != slot {
                ring.clear(oldest)
                oldest = (oldest + 1) % Self.slotCount
            }
            ring.nextSlot += 1
            if ring.nextSlot == Self.slotCount {
                ring.nextSlot = 0
                ring.lap += 1
            }
            return lap << UInt64(Self.slotBits) | UInt64(slot)
        }
    }

    /// The key `cursor` resumes at; nil for a cursor this table never gave or has reused.
    func key(for cursor: UInt64) -> Bytes? {
        let slot = Int(cursor & UInt64(Self.slotCount - 1))
        let lap = cursor >> UInt64(Self.slotBits)
        return ring.withLockedValue { ring in
            ring.laps[slot] == lap && lap != 0 ? ring.keys[slot] : nil
        }
    }
}
