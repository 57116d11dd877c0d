import Histogram
import NIOCore

/// The result of `kvctl bench` as people and scripts read it: a small table, or one
/// JSON object whose field names are documented in kvctl(1). Latencies are in
/// microseconds.
struct LatencyReport {
    struct Row {
        var operation: BenchOperation
        var ops: UInt64
        var opsPerSecond: Double
        var p50: UInt64
        var p90: UInt64
        var p99: UInt64
        var p999: UInt64
        var max: UInt64
        var mean: Double
    }

    let plan: BenchPlan
    let outcome: BenchOutcome
    let rows: [Row]

    init(plan: BenchPlan, outcome: BenchOutcome) {
        self.plan = plan
        self.outcome = outcome
        let seconds = Double(outcome.measured.nanoseconds) / 1e9
        rows = plan.workload.operations.map { operation in
            let histogram = outcome.tally.latencies[operation] ?? Histogram<UInt64>()
            let ops = histogram.totalCount
            // An empty histogram has no meaningful maximum: report zeros.
            return Row(
                operation: operation, ops: ops, opsPerSecond: Double(ops) / seconds,
                p50: ops == 0 ? 0 : histogram.valueAtPercentile(50),
                p90: ops == 0 ? 0 : histogram.valueAtPercentile(90),
                p99: ops == 0 ? 0 : histogram.valueAtPercentile(99),
                p999: ops == 0 ? 0 : histogram.valueAtPercentile(99.9),
                max: ops == 0 ? 0 : histogram.maxRecorded, mean: ops == 0 ? 0 : histogram.mean)
        }
    }

    var totalOps: UInt64 { rows.reduce(0) { $0 + $1.ops } }
    var seconds: Double { Double(outcome.measured.nanoseconds) / 1e9 }
    var totalErrors: UInt64 { outcome.tally.errors.values.reduce(0, +) }

    // MARK: - Text

    var text: [String] {
        let workload = plan.workload
        var lines = [
            "\(plan.sessions) sessions over \(plan.connections) connection\(plan.connections == 1 ? "" : "s"), "
                + "mix \(workload.mixDescription), \(workload.keys.count) keys, \(workload.valueSize)-byte values",
            "measured \(Self.fixed(seconds, 3)) s after \(Self.fixed(Double(plan.warmup.nanoseconds) / 1e9, 1)) s "
                + "of warm-up: \(totalOps) ops, \(Self.fixed(Double(totalOps) / seconds, 1)) ops/s, "
                + "\(totalErrors) errors, \(outcome.tally.getMisses) get misses",
            "",
        ]
        let table =
            [["OP", "OPS", "OPS/S", "P50", "P90", "P99", "P99.9", "MAX", "MEAN"]]
            + rows.map { row in
                [
                    row.operation.rawValue, "\(row.ops)", Self.fixed(row.opsPerSecond, 1), "\(row.p50)", "\(row.p90)",
                    "\(row.p99)", "\(row.p999)", "\(row.max)", Self.fixed(row.mean, 1),
                ]
            }
        let widths = (0..<table[0].count).map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            // The operation name left-aligned, the numbers right-aligned.
            let cells = zip(row, widths).enumerated().map { column, cell in
                let padding = String(repeating: " ", count: cell.1 - cell.0.count)
                return column == 0 ? cell.0 + padding : padding + cell.0
            }
            lines.append(cells.joined(separator: "  "))
        }
        lines.append("")
        lines.append("latencies in microseconds, closed loop (each session waits for its answer)")
        for kind in BenchErrorKind.allCases {
            guard let count = outcome.tally.errors[kind], count > 0 else { continue }
            lines.append("errors (\(kind.rawValue)): \(count), first: \(outcome.tally.firstError[kind] ?? "")")
        }
        return lines
    }

    // MARK: - JSON

    var json: String {
        let workload = plan.workload
        let mix = JSON.object(BenchOperation.allCases.map { ($0.rawValue, "\(workload.weight(of: $0))") })
        let errors = JSON.object(
            BenchErrorKind.allCases.map { ($0.rawValue, "\(outcome.tally.errors[$0] ?? 0)") })
        let operations = JSON.object(
            rows.map { row in
                (
                    row.operation.rawValue,
                    JSON.object([
                        ("ops", "\(row.ops)"), ("ops_per_s", Self.fixed(row.opsPerSecond, 1)),
                        ("p50_us", "\(row.p50)"), ("p90_us", "\(row.p90)"), ("p99_us", "\(row.p99)"),
                        ("p999_us", "\(row.p999)"), ("max_us", "\(row.max)"), ("mean_us", Self.fixed(row.mean, 1)),
                    ])
                )
            })
        return JSON.object([
            ("sessions", "\(plan.sessions)"), ("connections", "\(plan.connections)"),
            ("keys", "\(workload.keys.count)"), ("value_size", "\(workload.valueSize)"), ("mix", mix),
            ("warmup_s", Self.fixed(Double(plan.warmup.nanoseconds) / 1e9, 3)),
            ("duration_s", Self.fixed(seconds, 3)), ("ops", "\(totalOps)"),
            ("ops_per_s", Self.fixed(Double(totalOps) / seconds, 1)), ("get_misses", "\(outcome.tally.getMisses)"),
            ("errors", "\(totalErrors)"), ("errors_by_kind", errors), ("operations", operations),
        ])
    }

    /// `value` with `digits` decimals (no Foundation formatter here).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite, value >= 0, value < 1e15 else { return "0" }
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = UInt64((value * Double(scale)).rounded())
        guard digits > 0 else { return "\(scaled)" }
        let fraction = String(scaled % scale)
        return "\(scaled / scale)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
