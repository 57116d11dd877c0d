/// Whether stretches of a file are all zeros: what a write that never reached the disk
/// leaves behind (docs/STORAGE.md, "Torn tail or damage"), and the space prepared ahead of
/// a log's records ("Prepared space").
public enum ZeroBytes {
    /// 64 KiB of zeros, for `StorageFileSystem.prepare`.
    public static let piece = [UInt8](repeating: 0, count: 64 << 10)

    static func allZero(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        while index + 8 <= range.upperBound {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < range.upperBound {
            if bytes[index] != 0 { return false }
            index += 1
        }
        return true
    }

    /// Whether one of the 512-byte sectors (aligned to the file's start) that overlap
    /// `range` is all zeros, counting only the part of a sector the file has.
    static func anySectorZero(_ bytes: UnsafeRawBufferPointer, overlapping range: Range<Int>) -> Bool {
        let size = RecordLayout.sectorSize
        var sector = range.lowerBound / size * size
        while sector < range.upperBound, sector < bytes.count {
            if allZero(bytes, sector..<min(sector + size, bytes.count)) { return true }
            sector += size
        }
        return false
    }
}
