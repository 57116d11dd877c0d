import KVEtcd
import KVTestSupport
import NIOCore
import XCTest

/// The error a future failed with; fails the test if it succeeded or failed with
/// something other than an `EtcdError`. The client bounds every request by its timeout,
/// so awaiting the future is itself bounded.
func etcdError<Value: Sendable>(
    _ future: EventLoopFuture<Value>, file: StaticString = #filePath, line: UInt = #line
) async -> EtcdError? {
    do {
        _ = try await future.get()
        XCTFail("expected a failure, got a success", file: file, line: line)
    } catch let error as EtcdError {
        return error
    } catch {
        XCTFail("expected an EtcdError, got \(error)", file: file, line: line)
    }
    return nil
}

/// How a watch ended, waiting at most `timeout` seconds for it to end.
func endOf(
    _ watch: EtcdWatch, within timeout: Double, file: StaticString = #filePath, line: UInt = #line
) async throws -> EtcdError? {
    let ending = Locked<Result<Void, any Error>?>(nil)
    watch.ended.whenComplete { ending.set($0) }
    try await waitUntil("the watch ends", timeout: timeout, file: file, line: line) { ending.get() != nil }
    switch ending.get() {
    case .failure(let error as EtcdError): return error
    case .failure(let error):
        XCTFail("the watch ended with \(error), not an EtcdError", file: file, line: line)
    case .success:
        XCTFail("the watch's ended future succeeded", file: file, line: line)
    case nil: break
    }
    return nil
}

/// Whether an error says the member could not be reached or could not serve: what a
/// request to a member without quorum may get.
func isUnreachableOrUnavailable(_ error: EtcdError?) -> Bool {
    switch error {
    case .unreachable, .unavailable: true
    default: false
    }
}
