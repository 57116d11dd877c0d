import CCRC32C

/// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final
/// xor 0xFFFFFFFF. Every record of a data directory carries one (docs/STORAGE.md).
///
/// It runs over every byte written and every byte recovered. With the CPU's own
/// instruction where it has one (SSE 4.2's crc32, module CCRC32C); else table-driven,
/// slicing by 8: eight 256-entry tables let the loop fold eight bytes per step with eight
/// independent lookups instead of one dependent lookup per byte.
public enum CRC32C {
    static let polynomial: UInt32 = 0x82F6_3B78

    /// The checksum of `bytes`. To checksum data that arrives in pieces, pass the checksum
    /// of what came before as `seed`: `checksum(b, seed: checksum(a))` is `checksum(a + b)`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard hasInstruction, let start = bytes.baseAddress else { return tableChecksum(bytes, seed: seed) }
        return ~kv_crc32c_instruction_update(~seed, start, bytes.count)
    }

    /// Whether the CPU computes CRC-32C itself (SSE 4.2 on x86-64): about 25 times fewer
    /// instructions than the tables for a record of an update.
    static let hasInstruction = kv_crc32c_instruction_available() != 0

    /// `checksum` without the CPU's instruction: where it has none, and in tests.
    static func tableChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        tables.withUnsafeBufferPointer { tables in
            ~update(~seed, bytes, tables.baseAddress!)
        }
    }

    public static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }

    /// `tables[k * 256 + b]` is the CRC register after feeding byte `b` followed by `k`
    /// zero bytes: what a byte `k` places before the end of an 8-byte word contributes.
    static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1 }
            tables[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// Feeds `bytes` into the register `crc` (not inverted on the way in or out).
    @inline(__always)
    private static func update(
        _ crc: UInt32, _ bytes: UnsafeRawBufferPointer, _ table: UnsafePointer<UInt32>
    ) -> UInt32 {
        guard var pointer = bytes.baseAddress else { return crc }
        var crc = crc
        var remaining = bytes.count
        while remaining >= 8 {
            // Little-endian, as the reflected CRC consumes the lowest byte first.
            let word = UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
            let low = UInt32(truncatingIfNeeded: word) ^ crc
            let high = UInt32(truncatingIfNeeded: word &>> 32)
            crc =
                table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low &>> 8) & 0xFF)]
                ^ table[5 * 256 + Int((low &>> 16) & 0xFF)] ^ table[4 * 256 + Int(low &>> 24)]
                ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high &>> 8) & 0xFF)]
                ^ table[1 * 256 + Int((high &>> 16) & 0xFF)] ^ table[Int(high &>> 24)]
            pointer += 8
            remaining &-= 8
        }
        while remaining > 0 {
            let byte = pointer.load(as: UInt8.self)
            crc = (crc &>> 8) ^ table[Int((crc ^ UInt32(byte)) & 0xFF)]
            pointer += 1
            remaining &-= 1
        }
        return crc
    }
}
