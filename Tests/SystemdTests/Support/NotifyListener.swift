import Foundation
import KVTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One sd_notify datagram as the service manager would see it.
struct Notification: Sendable {
    /// Seconds since the listener started (receive time).
    var time: Double
    /// The sender's pid (SCM_CREDENTIALS), 0 if unknown.
    var pid: pid_t
    var text: String

    var fields: [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }

    var isWatchdog: Bool { fields["WATCHDOG"] == "1" }
    var isReady: Bool { fields["READY"] == "1" }
    var isStopping: Bool { fields["STOPPING"] == "1" }
    var status: String? { fields["STATUS"] }
}

/// A stand-in for the service manager's notification socket: an AF_UNIX datagram
/// socket bound at a path, passed to a daemon as NOTIFY_SOCKET. A reader thread records
/// every datagram with its sender's pid; `onMessage` runs on that thread at the moment a
/// datagram is read (to check something "right when READY=1 arrives").
final class NotifyListener: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [Notification] = []
    private var stopped = false
    private var markers = 0
    private let start = Date()
    private var thread: Thread?
    private var _onMessage: (@Sendable (Notification) -> Void)?

    var onMessage: (@Sendable (Notification) -> Void)? {
        get { lock.withLock { _onMessage } }
        set { lock.withLock { _onMessage = newValue } }
    }

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = Self.unixAddress(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        let thread = Thread { [self] in readLoop() }
        self.thread = thread
        thread.start()
    }

    static func unixAddress(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        return address
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let controlSize = 256
        let control = UnsafeMutableRawPointer.allocate(byteCount: controlSize, alignment: 8)
        defer { control.deallocate() }
        while !lock.withLock({ stopped }) {
            var pid: pid_t = 0
            let count = buffer.withUnsafeMutableBytes { raw -> Int in
                var vector = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = control
                    header.msg_controllen = controlSize
                    let count = recvmsg(fd, &header, Int32(MSG_CMSG_CLOEXEC))
                    guard count >= 0 else { return count }
                    // Credentials give the sender; any passed fds are closed at once
                    // (systemd-notify --ready waits until they are).
                    var cmsg = CMSG_FIRSTHDR_(&header)
                    while let current = cmsg {
                        let dataOffset = MemoryLayout<cmsghdr>.stride
                        let data = UnsafeMutableRawPointer(current) + dataOffset
                        if current.pointee.cmsg_level == SOL_SOCKET {
                            if current.pointee.cmsg_type == scmCredentials {
                                pid = data.loadUnaligned(as: pid_t.self)  // struct ucred starts with the pid
                            } else if current.pointee.cmsg_type == Int32(SCM_RIGHTS) {
                                let fdCount = (Int(current.pointee.cmsg_len) - dataOffset) / MemoryLayout<Int32>.size
                                for index in 0..<max(0, fdCount) {
                                    close(data.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))
                                }
                            }
                        }
                        cmsg = CMSG_NXTHDR_(&header, current)
                    }
                    return count
                }
            }
            guard count >= 0 else { continue }  // EAGAIN after the receive timeout: check `stopped`.
            let text = String(decoding: buffer[0..<count], as: UTF8.self)
            let notification = Notification(time: Date().timeIntervalSince(start), pid: pid, text: text)
            // The callback runs before the datagram becomes visible in `messages`, so a test
            // that waits for a message also sees what its callback recorded (seen once in 20
            // runs the other way round: a READY=1 found before its probe had run).
            let callback = lock.withLock { _onMessage }
            callback?(notification)
            lock.withLock { received.append(notification) }
        }
    }

    var now: Double { Date().timeIntervalSince(start) }

    /// Every datagram so far, markers included.
    var all: [Notification] { lock.withLock { received } }
    /// Every datagram from the daemons (markers removed).
    var messages: [Notification] { all.filter { $0.fields["KV_TEST_MARKER"] == nil } }

    /// The STATUS= in force when READY=1 arrived: READY=1's own, or the last one sent
    /// before it (READY=1 comes alone when a STATUS= already went out).
    var statusAtReady: String? {
        let messages = messages
        guard let ready = messages.firstIndex(where: \.isReady) else { return nil }
        return messages[...ready].last { $0.status != nil }?.status
    }

    /// The first message satisfying `predicate`, once it has arrived. After `seconds` it
    /// fails the test, naming `what` with `detail` and every message so far, and throws.
    func first(
        _ what: String, within seconds: Double, detail: (() -> String)? = nil, file: StaticString = #filePath,
        line: UInt = #line, where predicate: (Notification) -> Bool
    ) async throws -> Notification {
        var found: Notification?
        try await waitUntil(
            "\(what) arrives", timeout: seconds,
            detail: { "messages \(self.messages.map(\.text))" + (detail.map { "\n\($0())" } ?? "") }, file: file,
            line: line
        ) {
            found = messages.first(where: predicate)
            return found != nil
        }
        return found!
    }

    /// Sends a marker datagram to the socket and waits until the reader has read it:
    /// the socket is FIFO, so everything sent before this call has been read too. Returns
    /// the number of datagrams (markers included) read before the marker.
    @discardableResult
    func sync(within seconds: Double = 5, file: StaticString = #filePath, line: UInt = #line) async throws -> Int {
        let number = lock.withLock { () -> Int in
            markers += 1
            return markers
        }
        let sender = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(sender) }
        var address = Self.unixAddress(path)
        let text = Array("KV_TEST_MARKER=\(number)".utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(sender, text, text.count, 0, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        var index: Int?
        try await waitUntil("marker \(number) is read back", timeout: seconds, file: file, line: line) {
            index = all.firstIndex { $0.fields["KV_TEST_MARKER"] == "\(number)" }
            return index != nil
        }
        return index!
    }

    /// Stops the reader (it notices within its 50 ms receive timeout) and removes the
    /// socket.
    func stop() async {
        lock.withLock { stopped = true }
        try? await waitUntil("the notify listener's reader thread ends", timeout: 2) { thread?.isFinished ?? true }
        close(fd)
        unlink(path)
    }
}

// SCM_CREDENTIALS and struct ucred need _GNU_SOURCE, so Glibc does not export them.
private let scmCredentials: Int32 = 2

// The CMSG_* macros are not imported into Swift.
private func CMSG_FIRSTHDR_(_ header: UnsafeMutablePointer<msghdr>) -> UnsafeMutablePointer<cmsghdr>? {
    guard header.pointee.msg_controllen >= MemoryLayout<cmsghdr>.size, let control = header.pointee.msg_control else {
        return nil
    }
    return control.assumingMemoryBound(to: cmsghdr.self)
}

private func CMSG_NXTHDR_(_ header: UnsafeMutablePointer<msghdr>, _ cmsg: UnsafeMutablePointer<cmsghdr>)
    -> UnsafeMutablePointer<cmsghdr>?
{
    let length = Int(cmsg.pointee.cmsg_len)
    guard length >= MemoryLayout<cmsghdr>.size, let control = header.pointee.msg_control else { return nil }
    let aligned = (length + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
    let next = UnsafeMutableRawPointer(cmsg) + aligned
    let end = control + Int(header.pointee.msg_controllen)
    guard next + MemoryLayout<cmsghdr>.size <= end else { return nil }
    let nextHeader = next.assumingMemoryBound(to: cmsghdr.self)
    guard next + Int(nextHeader.pointee.cmsg_len) <= end else { return nil }
    return nextHeader
}

extension XCTestCase {
    /// A notification listener in `scratch`'s directory, stopped when the test ends.
    func makeNotifyListener(_ scratch: TestScratch, _ name: String = "notify") throws -> NotifyListener {
        let listener = try NotifyListener(path: scratch.path("\(name).sock"))
        addTeardownBlock { await listener.stop() }
        return listener
    }
}
