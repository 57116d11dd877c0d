import KVCheck
import KVClient
import KVProtocol
import NIOCore

/// One client session of the load: its own `KVClient` (own client id, sequence numbers
/// and connections), sending one operation at a time until the stop flag is set.
struct ChaosSession: Sendable {
    /// The session's number in the history (1, 2, ...; 0 is the final reads).
    let number: Int
    let configuration: KVClient.Configuration
    let workload: ChaosWorkload
    let seed: UInt64
    let operationTimeout: TimeAmount
    /// The least time between the starts of two operations (zero: no pause). Bounds the
    /// history's length, which the checker's cost grows with.
    let pace: TimeAmount
    let history: SharedHistory
    let stop: StopFlag

    func run() async {
        let client = KVClient(configuration: configuration)
        defer { client.close() }
        var random = SplitMix64(seed: seed &+ UInt64(number) &* 0xD1B5_4A32_D192_ED03)
        var count = 0
        var nextStart = NIODeadline.now()
        while !stop.isSet {
            let now = NIODeadline.now()
            if nextStart > now { try? await Task.sleep(nanoseconds: UInt64((nextStart - now).nanoseconds)) }
            // After a stall the session goes on at its pace rather than catching up in a burst.
            nextStart = max(nextStart, NIODeadline.now()) + pace
            count += 1
            let (key, call) = workload.next(&random, session: number, number: count)
            let ticket = history.invoke(session: UInt64(number), key: key, call)
            do {
                let response = try await client.perform(call, on: key, deadline: NIODeadline.now() + operationTimeout)
                history.complete(ticket, call, response)
            } catch {
                history.abandon(ticket, call, error)
            }
        }
    }
}
