import KVProtocol

/// Redis's glob patterns (KEYS, SCAN MATCH): `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\`
/// to quote, matched byte by byte.
///
/// Iterative, backtracking only to the last `*`: the work is at most the pattern's
/// length times the key's, whatever the pattern (a recursive matcher is exponential in
/// the stars, and one hostile pattern would stall the primary's loop).
enum GlobPattern {
    static func matches(_ pattern: Bytes, _ string: Bytes) -> Bool {
        var p = 0
        var s = 0
        // Where to resume after the last star: the pattern after it, and the next byte
        // of the string it should swallow.
        var star: (pattern: Int, string: Int)?
        while s < string.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
                if p == pattern.count { return true }
                star = (p, s)
                continue
            }
            if p < pattern.count, let next = matchOne(pattern, p, string[s]) {
                p = next
                s += 1
                continue
            }
            guard let resume = star else { return false }
            star = (resume.pattern, resume.string + 1)
            p = resume.pattern
            s = resume.string + 1
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// Whether the pattern element at `p` (not a star) matches `byte`; the index after the
    /// element if it does.
    private static func matchOne(_ pattern: Bytes, _ start: Int, _ byte: UInt8) -> Int? {
        var p = start
        switch pattern[p] {
        case UInt8(ascii: "?"):
            return p + 1
        case UInt8(ascii: "\\") where p + 1 < pattern.count:
            return pattern[p + 1] == byte ? p + 2 : nil
        case UInt8(ascii: "["):
            p += 1
            let negate = p < pattern.count && pattern[p] == UInt8(ascii: "^")
            if negate { p += 1 }
            var matched = false
            while p < pattern.count && pattern[p] != UInt8(ascii: "]") {
                if pattern[p] == UInt8(ascii: "\\") && p + 1 < pattern.count {
                    p += 1
                    if pattern[p] == byte { matched = true }
                } else if p + 2 < pattern.count && pattern[p + 1] == UInt8(ascii: "-")
                    && pattern[p + 2] != UInt8(ascii: "]")
                {
                    let (low, high) = (min(pattern[p], pattern[p + 2]), max(pattern[p], pattern[p + 2]))
                    if byte >= low && byte <= high { matched = true }
                    p += 2
                } else if pattern[p] == byte {
                    matched = true
                }
                p += 1
            }
            // An unterminated class ends the pattern, as in Redis.
            return matched != negate ? min(p + 1, pattern.count) : nil
        default:
            return pattern[p] == byte ? p + 1 : nil
        }
    }
}
