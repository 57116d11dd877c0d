import KVProtocol

/// Redis's glob patterns (KEYS, SCAN MATCH): `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\`
/// to quote, matched byte by byte.
enum GlobPattern {
    static func matches(_ pattern: Bytes, _ string: Bytes) -> Bool {
        matches(pattern[...], string[...], depth: 0)
    }

    private static func matches(_ pattern: ArraySlice<UInt8>, _ string: ArraySlice<UInt8>, depth: Int) -> Bool {
        // Each '*' recurses once per remaining byte; Redis bounds the nesting the same way.
        guard depth < 1000 else { return false }
        var p = pattern.startIndex
        var s = string.startIndex
        while p < pattern.endIndex {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                while p + 1 < pattern.endIndex && pattern[p + 1] == UInt8(ascii: "*") { p += 1 }
                if p + 1 == pattern.endIndex { return true }
                var rest = s
                while rest <= string.endIndex {
                    if matches(pattern[(p + 1)...], string[rest...], depth: depth + 1) { return true }
                    rest += 1
                }
                return false
            case UInt8(ascii: "?"):
                guard s < string.endIndex else { return false }
                s += 1
            case UInt8(ascii: "["):
                guard s < string.endIndex else { return false }
                p += 1
                let negate = p < pattern.endIndex && pattern[p] == UInt8(ascii: "^")
                if negate { p += 1 }
                var matched = false
                while p < pattern.endIndex && pattern[p] != UInt8(ascii: "]") {
                    if pattern[p] == UInt8(ascii: "\\") && p + 1 < pattern.endIndex {
                        p += 1
                        if pattern[p] == string[s] { matched = true }
                    } else if p + 2 < pattern.endIndex && pattern[p + 1] == UInt8(ascii: "-")
                        && pattern[p + 2] != UInt8(ascii: "]")
                    {
                        let (low, high) = (min(pattern[p], pattern[p + 2]), max(pattern[p], pattern[p + 2]))
                        if string[s] >= low && string[s] <= high { matched = true }
                        p += 2
                    } else if pattern[p] == string[s] {
                        matched = true
                    }
                    p += 1
                }
                if negate { matched.toggle() }
                guard matched else { return false }
                s += 1
            case UInt8(ascii: "\\") where p + 1 < pattern.endIndex:
                p += 1
                guard s < string.endIndex, pattern[p] == string[s] else { return false }
                s += 1
            default:
                guard s < string.endIndex, pattern[p] == string[s] else { return false }
                s += 1
            }
            if p < pattern.endIndex { p += 1 }
        }
        return s == string.endIndex
    }
}
