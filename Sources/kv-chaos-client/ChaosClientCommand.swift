import ArgumentParser
import KVCheck
import KVClient
import KVTransport
import NIOCore
import UnixSignals

/// The load of a chaos run (`scripts/chaos`): concurrent client sessions on a few keys,
/// every operation recorded in a history that `kv-history-check` then checks. Test
/// support, not part of the installed package.
@main
struct ChaosClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv-chaos-client",
        abstract: "Concurrent kvservice clients recording a history for the linearizability checker.",
        discussion: """
            Runs --sessions client sessions, each sending gets, puts, puthashes and deletes on --keys keys \
            one at a time, until --duration has passed or SIGTERM/SIGINT arrives. An operation that gets no \
            answer within --op-timeout is recorded with an unknown outcome. Then it reads every key once \
            (all within --final-timeout), writes the history to --history (kv-history-check's format) and \
            prints a one-line JSON summary. Exit 0; 1 if the service gave an answer it never should \
            (invalid or stale request); 2 if a final read got no answer; 3 if the history cannot be written.
            """)

    @Option(help: "The monitor (HOST:PORT).")
    var monitor: String = "127.0.0.1:7100"

    @Option(help: "Where to write the history.")
    var history: String

    @Option(help: "Concurrent client sessions.")
    var sessions: Int = 8

    @Option(help: "Number of keys (k0, k1, ...); few keys make sessions contend.")
    var keys: Int = 10

    @Option(help: "Seconds of load (SIGTERM or SIGINT stops it earlier).")
    var duration: Double = 60

    @Option(help: "Seconds an operation may take before it counts as unknown.")
    var opTimeout: Double = 3

    @Option(help: "Seconds the final reads of every key may take together.")
    var finalTimeout: Double = 30

    @Option(
        help: ArgumentHelp(
            "At most this many operations a second, all sessions together (0: as fast as answers come).",
            discussion: "The checker's cost grows quickly with the operations on one key, so long runs cap it."))
    var rate: Double = 0

    @Option(help: "Seed of the operations, keys and values drawn (default: random).")
    var seed: UInt64?

    @Option(help: "File holding the service's shared secret (default: none, authentication off).")
    var secretFile: String?

    @Option(
        help: ArgumentHelp(
            "Every this many seconds, print the counts so far on standard error (0: never).",
            discussion: "A line reads: progress ok=N unknown=N unexpected=N"))
    var progress: Double = 0

    func validate() throws {
        guard PeerAddress(monitor) != nil else { throw ValidationError("--monitor: \"\(monitor)\" is not HOST:PORT") }
        guard sessions >= 1 else { throw ValidationError("--sessions must be at least 1") }
        guard keys >= 1 else { throw ValidationError("--keys must be at least 1") }
        for (name, value) in [("duration", duration), ("op-timeout", opTimeout), ("final-timeout", finalTimeout)] {
            guard value > 0 && value < 1e7 else { throw ValidationError("--\(name) must be a positive number") }
        }
        guard rate >= 0 && rate < 1e9 else { throw ValidationError("--rate must be 0 or more") }
        guard progress >= 0 && progress < 1e7 else { throw ValidationError("--progress must be 0 or more seconds") }
    }

    func run() async throws {
        var system = SystemRandomNumberGenerator()
        let seed = seed ?? system.next()
        var client = KVClient.Configuration(monitor: monitor)
        do {
            client.secret = try secretFile.flatMap { try SharedSecret.load(path: $0) }
        } catch {
            TextFile.standardError("\(error)")
            throw ExitCode(64)
        }
        let workload = ChaosWorkload(keyCount: keys)
        let history = SharedHistory()
        let stop = StopFlag()
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let signalWatch = Task {
            for await _ in signals {
                stop.set()
                return
            }
        }
        let durationNanos = UInt64(duration * 1e9)
        let timer = Task {
            try? await Task.sleep(nanoseconds: durationNanos)
            stop.set()
        }
        let progressNanos = UInt64(progress * 1e9)
        let progressReport = Task {
            // A driving script watches these lines to see the service serve again after a fault.
            guard progressNanos > 0 else { return }
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: progressNanos)
                let counts = history.tally.operations
                TextFile.standardError(
                    "progress ok=\(counts.ok) unknown=\(counts.unknown) unexpected=\(counts.unexpected)")
            }
        }
        defer {
            signalWatch.cancel()
            timer.cancel()
            progressReport.cancel()
        }
        let started = NIODeadline.now()
        let operationTimeout = Self.amount(opTimeout)
        let pace = rate > 0 ? Self.amount(Double(sessions) / rate) : .zero
        await withTaskGroup(of: Void.self) { group in
            for number in 1...sessions {
                let session = ChaosSession(
                    number: number, configuration: client, workload: workload, seed: seed,
                    operationTimeout: operationTimeout, pace: pace, history: history, stop: stop)
                group.addTask { await session.run() }
            }
        }
        await readEveryKey(workload, client, into: history)
        let seconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9

        let header = "# kv-chaos-client: seed \(seed), \(sessions) sessions, \(keys) keys, monitor \(monitor)"
        let lines = history.operations.map(HistoryFile.line(for:))
        do {
            try TextFile.save(([HistoryFile.header, header] + lines).joined(separator: "\n") + "\n", to: self.history)
        } catch {
            TextFile.standardError("\(error)")
            throw ExitCode(3)
        }
        let tally = history.tally
        TextFile.standardOutput(tally.json(seconds: seconds, history: self.history))
        if tally.operations.unexpected + tally.finalReads.unexpected > 0 {
            for (message, count) in tally.unexpectedErrors {
                TextFile.standardError("unexpected (\(count)x): \(message)")
            }
            throw ExitCode(1)
        }
        if tally.finalReads.unknown > 0 {
            TextFile.standardError("\(tally.finalReads.unknown) final reads got no answer within \(finalTimeout) s")
            throw ExitCode(2)
        }
    }

    /// Reads every key once after the load, with a new session: the history then ends
    /// with each key's value, so an acknowledged write that the service lost shows up as
    /// a read the checker cannot explain.
    private func readEveryKey(
        _ workload: ChaosWorkload, _ configuration: KVClient.Configuration, into history: SharedHistory
    ) async {
        let client = KVClient(configuration: configuration)
        defer { client.close() }
        let deadline = NIODeadline.now() + Self.amount(finalTimeout)
        for key in workload.keys {
            let ticket = history.invoke(session: 0, key: key, .get)
            do {
                let response = try await client.perform(.get, on: key, deadline: deadline)
                history.complete(ticket, .get, response, isFinalRead: true)
            } catch {
                history.abandon(ticket, .get, error, isFinalRead: true)
            }
        }
    }

    private static func amount(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1e9)) }
}
