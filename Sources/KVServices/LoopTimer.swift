import NIOCore
import NodeDriver

/// A driver's timer on its event loop. The action runs on the loop, as the driver's
/// every other callback does.
struct LoopTimer: DriverTimer {
    private let cancelAction: @Sendable () -> Void

    func cancel() { cancelAction() }

    static func once(on loop: any EventLoop, after delay: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        let action = NIOLoopBound(action, eventLoop: loop)
        let task = loop.scheduleTask(in: .nanoseconds(Int64(clamping: delay))) { action.value() }
        return LoopTimer { task.cancel() }
    }

    static func repeating(
        on loop: any EventLoop, initialDelay: UInt64, every interval: UInt64, _ action: @escaping () -> Void
    ) -> LoopTimer {
        let action = NIOLoopBound(action, eventLoop: loop)
        let task = loop.scheduleRepeatedTask(
            initialDelay: .nanoseconds(Int64(clamping: initialDelay)), delay: .nanoseconds(Int64(clamping: interval))
        ) { _ in action.value() }
        return LoopTimer { task.cancel() }
    }
}
