/// How a cluster id (`View.cluster`) is written for people and in the monitor's view
/// file: 16 lowercase hex digits, as etcd prints its cluster ids.
public enum ClusterID {
    public static func text(_ cluster: UInt64) -> String {
        let digits = String(cluster, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The inverse of `text`, nil for anything else (0 is no cluster, never written).
    public static func parse(_ text: some StringProtocol) -> UInt64? {
        guard text.count == 16, text.allSatisfy(\.isHexDigit), let value = UInt64(text, radix: 16), value != 0 else {
            return nil
        }
        return value
    }
}
