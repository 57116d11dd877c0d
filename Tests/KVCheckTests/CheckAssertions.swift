import KVCheck
import KVProtocol
import XCTest

func assertLinearizable(
    _ history: [HistoryOperation], _ message: @autoclosure () -> String = "", file: StaticString = #filePath,
    line: UInt = #line
) {
    let result = LinearizabilityChecker().check(history)
    XCTAssertEqual(result, .linearizable, "\(message())\n\(result)", file: file, line: line)
}

/// Asserts that `key` is the key found not linearizable and returns the explanation
/// (empty, after a failure, when the verdict is another).
@discardableResult
func assertNotLinearizable(
    _ history: [HistoryOperation], key: String, _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) -> String {
    let result = LinearizabilityChecker().check(history)
    guard case .notLinearizable(let failedKey, let explanation) = result else {
        XCTFail("expected a violation on \(key), got \(result). \(message())", file: file, line: line)
        return ""
    }
    XCTAssertEqual(failedKey.utf8String, key, message(), file: file, line: line)
    return explanation
}
