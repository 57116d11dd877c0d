import KVTransport
import XCTest

/// `--monitor A,B,C` and `KV_MONITOR=A,B,C`: each item HOST:PORT, none empty, none twice.
final class PeerAddressListTests: XCTestCase {
    func testAListOfAddressesInItsOrder() throws {
        XCTAssertEqual(
            try PeerAddress.list("127.0.0.1:7100, [::1]:7200,monitor-3.example:7300").map(\.description),
            ["127.0.0.1:7100", "[::1]:7200", "monitor-3.example:7300"])
        XCTAssertEqual(try PeerAddress.list("h:1").map(\.description), ["h:1"])
    }

    func testEachRefusalNamesTheItem() {
        for (text, expected) in [
            ("h:1,nonsense", "\"nonsense\" is not HOST:PORT"),
            ("h:1,h:99999", "\"h:99999\" is not HOST:PORT"),
            ("h:1,,h:2", "empty address"),
            ("", "empty address"),
            ("h:1,h:2,", "empty address"),
            ("h:1, h:1", "\"h:1\" is given twice"),
        ] {
            XCTAssertThrowsError(try PeerAddress.list(text), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }
}
