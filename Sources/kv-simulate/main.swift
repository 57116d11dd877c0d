import KVSimulation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// kv-simulate: runs simulated schedules of kvservice, one per seed, and stops at the
/// first failure with the command that replays it.
let usage = """
    usage: kv-simulate [--seeds N] [--first S] [--seed S] [--steps N] [--etcd M] [--verbose] [--keep-going]
      --seeds N    run N schedules, seeds S, S+1, ... (default 1000)
      --first S    the first seed of --seeds (default 1)
      --seed S     run only seed S (replay a failure)
      --steps N    client operations per session in each schedule (default \(SimulationOptions.defaultSteps))
      --etcd M     M monitors sharing one view in a simulated etcd (default: one monitor, no etcd)
      --verbose    print every event of the trace as it happens (best with --seed)
      --keep-going after a failure, go on with the next seed; list every failing seed
    Exit status: 0 every schedule passed, 1 one failed, 64 usage error.
    """

func usageError(_ message: String) -> Never {
    print("kv-simulate: \(message)\n\(usage)")
    exit(64)
}

var seeds: UInt64 = 1_000
var first: UInt64 = 1
var steps = SimulationOptions.defaultSteps
var etcdMonitors = 0
var verbose = false
var keepGoing = false
var arguments = CommandLine.arguments.dropFirst()

@MainActor func number(after flag: String) -> UInt64 {
    guard let text = arguments.popFirst(), let value = UInt64(text) else { usageError("\(flag) needs a number") }
    return value
}

while let argument = arguments.popFirst() {
    switch argument {
    case "--seeds": seeds = number(after: argument)
    case "--first": first = number(after: argument)
    case "--seed":
        first = number(after: argument)
        seeds = 1
    case "--steps": steps = Int(clamping: max(1, number(after: argument)))
    case "--etcd": etcdMonitors = Int(clamping: min(7, number(after: argument)))
    case "--verbose": verbose = true
    case "--keep-going": keepGoing = true
    case "--help", "-h":
        print(usage)
        exit(0)
    default: usageError("unknown argument \(argument)")
    }
}

var options = SimulationOptions(steps: steps)
options.etcdMonitors = etcdMonitors
if verbose { options.traceSink = { print($0) } }
CrashReport.install()
var total = SimulationStatistics()
var failed: [UInt64] = []
var seed = first
while seed < first &+ seeds {
    CrashReport.prepare(
        seed: seed,
        replay: "scripts/simulate --seed \(seed)"
            + (steps == SimulationOptions.defaultSteps ? "" : " --steps \(steps)")
            + (etcdMonitors == 0 ? "" : " --etcd \(etcdMonitors)") + " --verbose")
    let report = Simulation.run(seed: seed, options: options)
    total.add(report.statistics)
    if let failure = report.failure, keepGoing {
        print("FAILED seed \(seed): \(failure.problem.split(separator: "\n").first ?? "")")
        failed.append(seed)
    } else if let failure = report.failure {
        if !verbose {
            print("last events before the failure:")
            for line in failure.trace { print("  \(line)") }
        }
        print("FAILED seed \(seed): \(failure.problem)")
        print("replay: \(failure.replayCommand)")
        exit(1)
    }
    if seeds == 1 { print("seed \(seed): passed (digest \(String(report.digest, radix: 16)))") }
    seed += 1
}
if !failed.isEmpty {
    print("\(failed.count) of \(seeds) schedules failed: seeds \(failed.map(String.init).joined(separator: " "))")
    print(
        "replay one: scripts/simulate --seed \(failed[0])"
            + (steps == SimulationOptions.defaultSteps ? "" : " --steps \(steps)")
            + (etcdMonitors == 0 ? "" : " --etcd \(etcdMonitors)") + " --verbose")
    exit(1)
}
print("\(seeds) schedules passed (seeds \(first)...\(first &+ seeds &- 1), \(steps) operations per client)")
print(total.summary)
