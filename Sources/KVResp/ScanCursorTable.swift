import KVProtocol
import NIOConcurrencyHelpers

/// SCAN's cursors. A walk resumes from a key (the range operation's `next`), but Redis
/// clients read a cursor as an unsigned 64-bit decimal number (redis-cli, go-redis), so
/// each key to resume from is kept here under a number.
///
/// One table serves the whole endpoint, not one connection: a client pool sends the
/// calls of one SCAN loop over whichever connections are free. It is a fixed ring of
/// slots, so its memory is bounded whatever clients do; a cursor is `lap << 14 | slot`
/// with laps counted from 1, so it is never 0 (which ends a SCAN) and a slot reused on a
/// later lap makes the older cursor unknown ("ERR invalid cursor") instead of resuming
/// someone else's walk. Cursors live in this process only: they do not survive a restart
/// or a failover, as Redis's do not (its hash seed is per process).
final class ScanCursorTable: Sendable {
    static let slotBits = 14
    static let slotCount = 1 << slotBits

    private struct Ring {
        var keys: [Bytes?] = Array(repeating: nil, count: ScanCursorTable.slotCount)
        var laps: [UInt64] = Array(repeating: 0, count: ScanCursorTable.slotCount)
        var nextSlot = 0
        var lap: UInt64 = 1
    }

    private let ring = NIOLockedValueBox(Ring())

    init() {}

    /// A new cursor that resumes at `key`.
    func cursor(resumingAt key: Bytes) -> UInt64 {
        ring.withLockedValue { ring in
            let (slot, lap) = (ring.nextSlot, ring.lap)
            ring.keys[slot] = key
            ring.laps[slot] = lap
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
