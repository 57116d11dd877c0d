import KVProtocol
import KVTransport
import Logging
import MonitorCore
import NIOCore
import NIOPosix
import NodeDriver

/// The monitor driver's world in the daemon: the loop's timers and clock, the view file
/// written on a thread pool (so pings keep being answered while the disk syncs), the
/// logger. Used on `loop` only, which is what makes the unchecked `Sendable` sound.
final class NIOMonitorEnvironment: MonitorEnvironment, @unchecked Sendable {
    typealias Requester = Responder
    typealias Timer = LoopTimer

    let loop: any EventLoop
    private let store: FileViewStore?
    private let threadPool: NIOThreadPool
    private let logger: Logger
    var onViewChange: (@Sendable (View, Int) -> Void)?
    var onTick: (@Sendable (View, Int) -> Void)?

    /// - Parameter store: where the view is kept; nil keeps it in memory only (every save
    ///   succeeds at once).
    init(loop: any EventLoop, store: FileViewStore?, threadPool: NIOThreadPool, logger: Logger) {
        self.loop = loop
        self.store = store
        self.threadPool = threadPool
        self.logger = logger
    }

    var now: UInt64 { NIODeadline.now().uptimeNanoseconds }

    func save(_ view: View, completion: @escaping (String?) -> Void) {
        guard let store else {
            loop.assumeIsolatedUnsafeUnchecked().execute { completion(nil) }
            return
        }
        threadPool.runIfActive(eventLoop: loop) { try store.save(view) }.assumeIsolatedUnsafeUnchecked()
            .whenComplete { result in
                switch result {
                case .success: completion(nil)
                case .failure(let error): completion("\(error)")
                }
            }
    }

    func respond(to requester: Responder, with message: Message) {
        requester.respond(message)
    }

    /// The peer gets no answer and times out, as if the process had died.
    func abandon(_ requester: Responder) {}

    func scheduleRepeated(initialDelay: UInt64, every interval: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        LoopTimer.repeating(on: loop, initialDelay: initialDelay, every: interval, action)
    }

    func log(_ notice: MonitorNotice) {
        Notices.log(notice, logger: logger)
    }

    func viewChanged(_ core: MonitorCore, at now: UInt64) {
        onViewChange?(core.view, core.servers(at: now).filter(\.alive).count)
    }

    func ticked(_ core: MonitorCore, at now: UInt64) {
        onTick?(core.view, core.servers(at: now).filter(\.alive).count)
    }
}
