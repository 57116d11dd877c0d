import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The open connections of one listener: counted, capped, and closed together.
///
/// The cap keeps a flood of connections from exhausting file descriptors (systemd's
/// default soft limit is 1,024), which would stop the daemon from opening the links it
/// needs itself: its pings to the monitor, its forwards to the backup.
public final class ConnectionRegistry: Sendable {
    public let limit: Int
    private let open = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    public init(limit: Int) {
        self.limit = limit
    }

    /// Registers `child` unless `limit` connections are already open; it is forgotten
    /// when it closes.
    public func admit(_ child: any Channel) -> Bool {
        let id = ObjectIdentifier(child)
        let admitted = open.withLockedValue { open in
            guard open.count < limit else { return false }
            open[id] = child
            return true
        }
        if admitted {
            child.closeFuture.whenComplete { [open] _ in _ = open.withLockedValue { $0.removeValue(forKey: id) } }
        }
        return admitted
    }

    public var count: Int { open.withLockedValue { $0.count } }

    /// Closes every connection open now.
    public func closeAll() async {
        let channels = open.withLockedValue { Array($0.values) }
        for channel in channels { try? await channel.close() }
    }
}

extension ServerBootstrap {
    /// Binds `source`'s address, or adopts the listening socket systemd passed.
    public func listen(on source: FrameListener.Source) async throws -> any Channel {
        switch source {
        case .bind(let address):
            try await bind(host: address.host, port: address.port).get()
        case .inherited(let fd):
            try await withBoundSocket(fd).get()
        }
    }
}
