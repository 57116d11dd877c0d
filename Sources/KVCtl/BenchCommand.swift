import ArgumentParser
import KVProtocol
import NIOCore

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput and latency with many concurrent client sessions.",
        discussion: """
            Runs --sessions client sessions, each with its own client id, over --connections shared \
            connections. Each session sends one operation at a time, drawn from --mix on a key drawn \
            from --keys (closed loop). When the mix has gets, every key is written once before the \
            run so gets find a value; gets that still find none are counted as get misses. \
            Operations during --warmup are not measured. Reports operations per second and latency \
            percentiles in microseconds per operation. --timeout bounds each operation (default 10 \
            s). Exit 0 when every operation succeeded, 1 when some failed, 2 when the service \
            could not be reached before the run.
            """)

    @OptionGroup var options: ClientOptions

    @Option(help: "Concurrent client sessions.") var sessions = 50

    @Option(help: "Operation weights, OP=WEIGHT,... with OP one of get, put, puthash.")
    var mix = BenchWorkload.defaultMix

    @Option(help: "How many distinct keys the operations use.") var keys = 10_000

    @Option(help: "Bytes in each value put (puthash appends them before hashing).") var valueSize = 100

    @Option(help: "Seconds to measure (default 10; not with --ops).") var duration: Double?

    @Option(help: "Measure exactly this many operations instead of a duration.") var ops: Int?

    @Option(help: "Seconds of unmeasured operations before measuring.") var warmup: Double = 1

    @Option(help: "Connections (per server) the sessions share.") var connections = 1

    @Flag(help: "Print one JSON object.") var json = false

    /// Per operation, retries included, when --timeout is not given: a benchmark must end.
    static let defaultOperationTimeout = 10.0

    func validate() throws {
        guard (1...100_000).contains(sessions) else { throw ValidationError("--sessions must be from 1 to 100000") }
        guard (1...sessions).contains(connections) else {
            throw ValidationError("--connections must be from 1 to --sessions (\(sessions))")
        }
        guard (1...10_000_000).contains(keys) else { throw ValidationError("--keys must be from 1 to 10000000") }
        guard (0...Limits.maxValueSize).contains(valueSize) else {
            throw ValidationError("--value-size must be from 0 to \(Limits.maxValueSize) bytes")
        }
        if duration != nil && ops != nil { throw ValidationError("give --duration or --ops, not both") }
        if let duration, !(duration > 0 && duration < 1e6) {
            throw ValidationError("--duration must be a positive number of seconds")
        }
        if let ops, ops < 1 { throw ValidationError("--ops must be at least 1") }
        guard warmup >= 0 && warmup < 1e6 else { throw ValidationError("--warmup must be 0 or more seconds") }
        do {
            _ = try BenchWorkload.parseMix(mix)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        let plan = BenchPlan(
            monitors: options.monitorAddresses, sessions: sessions, connections: connections,
            workload: try BenchWorkload(mix: mix, keyCount: keys, valueSize: valueSize),
            warmup: Self.seconds(warmup),
            limit: ops.map { .operations($0) } ?? .duration(Self.seconds(duration ?? 10)),
            operationTimeout: Self.seconds(options.givenTimeout ?? Self.defaultOperationTimeout),
            secret: try options.loadSecret(), tls: try options.loadTLS())
        let outcome: BenchOutcome
        do {
            outcome = try await BenchRunner.run(plan)
        } catch let error as BenchUnavailable {
            Output.error(error.description)
            throw ExitCode(ExitStatus.timedOut)
        }
        let report = LatencyReport(plan: plan, outcome: outcome)
        if json {
            Output.line(report.json)
        } else {
            for line in report.text { Output.line(line) }
        }
        if report.totalErrors > 0 {
            Output.error("\(report.totalErrors) operations failed")
            throw ExitCode.failure
        }
    }

    private static func seconds(_ value: Double) -> TimeAmount {
        .nanoseconds(Int64(value * 1e9))
    }
}
