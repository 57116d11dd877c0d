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
    /// The view file whose view an elected monitor imports into etcd, if any.
    var importedFrom: FileViewStore?
    private let threadPool: NIOThreadPool
    private let logger: Logger
    var onViewChange: (@Sendable (MonitorReport) -> Void)?
    var onTick: (@Sendable (MonitorReport) -> Void)?

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
        let completion = NIOLoopBound(completion, eventLoop: loop)
        guard let store else {
            loop.execute { completion.value(nil) }
            return
        }
        let loop = self.loop
        let saved = threadPool.runIfActive(eventLoop: loop) { try store.save(view) }
        saveInFlight = saved
        saved.whenComplete { result in
            // Always as a task of its own: a pool that is not running fails the save at
            // once, which would otherwise complete inside the driver's call.
            loop.execute {
                switch result {
                case .success: completion.value(nil)
                case .failure(let error): completion.value("\(error)")
                }
            }
        }
    }

    /// The last save handed to the thread pool: a monitor that stops waits for it, so
    /// that the next one (in the same process: a test's restart) reads the file after it.
    private(set) var saveInFlight: EventLoopFuture<Void>?

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

    func log(_ notice: ElectionNotice) {
        Notices.log(notice, logger: logger)
    }

    func imported(_ view: View) {
        guard let importedFrom else { return }
        do {
            try importedFrom.retireImported()
        } catch {
            logger.warning("cannot rename the imported view file: \(error)", metadata: ["kv_event": "view-imported"])
        }
    }

    func viewChanged(_ report: MonitorReport) {
        onViewChange?(report)
    }

    func ticked(_ report: MonitorReport) {
        onTick?(report)
    }
}
