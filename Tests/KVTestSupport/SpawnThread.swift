import Foundation

/// The one thread that starts children which must die with the test process.
///
/// Such children are started under `setpriv --pdeathsig KILL`, so that the kernel kills
/// them when their parent goes, even by SIGKILL or a crash, when no teardown runs. But
/// the kernel's "parent" there is the *thread* that started the child, not the process: a
/// child started from one of Swift concurrency's threads would be killed when that thread
/// exits (an idle dispatch worker thread does after a few seconds), in the middle of a
/// test. This thread is started once and never ends, so its children die with the
/// process and only then.
enum SpawnThread {
    private static let worker = Worker()

    /// Runs `body` (a posix_spawn call) on the spawning thread and returns its result,
    /// blocking the caller meanwhile.
    static func run(_ body: @escaping () -> Int32) -> Int32 {
        worker.run(body)
    }

    private final class Job: @unchecked Sendable {
        let body: () -> Int32
        var result: Int32 = 0
        let done = DispatchSemaphore(value: 0)

        init(body: @escaping () -> Int32) { self.body = body }
    }

    private final class Worker: @unchecked Sendable {
        private let condition = NSCondition()
        private var pending: [Job] = []

        init() {
            let thread = Thread { [self] in serve() }
            thread.name = "kv-tests-spawn"
            thread.start()
        }

        func run(_ body: @escaping () -> Int32) -> Int32 {
            let job = Job(body: body)
            condition.withLock {
                pending.append(job)
                condition.signal()
            }
            job.done.wait()
            return job.result
        }

        private func serve() -> Never {
            while true {
                let job = condition.withLock {
                    while pending.isEmpty { condition.wait() }
                    return pending.removeFirst()
                }
                job.result = job.body()
                job.done.signal()
            }
        }
    }
}
