import NIOCore
import NIOPosix
import NodeDriver

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension PeerFailure {
    /// What a failed request over a `PeerLink` means to the driver. Only a connection
    /// that every address of the peer refused, or that no route leads to, is
    /// `unreachable`: nothing listens there. A timeout (of the connection attempt too: the
    /// host may be slow, or a partition may heal) or a lost connection is `noAnswer`.
    init(_ error: any Error) {
        if let error = error as? NIOConnectionError, !error.connectionErrors.isEmpty {
            let causes = error.connectionErrors.map(\.error)
            let why = "cannot connect: " + Self.describe(causes[0])
            self = causes.allSatisfy(Self.isUnreachable) ? .unreachable(why) : .noAnswer(why)
        } else if Self.isUnreachable(error) {
            self = .unreachable("cannot connect: " + Self.describe(error))
        } else {
            self = .noAnswer(Self.describe(error))
        }
    }

    private static func isUnreachable(_ error: any Error) -> Bool {
        guard let error = error as? IOError else { return false }
        return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode)
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }
}
