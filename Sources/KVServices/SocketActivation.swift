#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import KVTransport

/// The listening socket systemd passed us, if any (`LISTEN_PID` is ours and
/// `LISTEN_FDS` ≥ 1): fd 3, already bound and listening.
public enum SocketActivation {
    public static let firstPassedFD: Int32 = 3

    public static func passedListener() -> FrameListener.Source? {
        guard let pidText = getenv("LISTEN_PID"), let pid = Int32(String(cString: pidText)), pid == getpid(),
            let fdsText = getenv("LISTEN_FDS"), let fds = Int(String(cString: fdsText)), fds >= 1
        else { return nil }
        return .inherited(fd: firstPassedFD)
    }

    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
