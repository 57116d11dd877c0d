import KVEtcd
import XCTest

final class EtcdEndpointTests: XCTestCase {
    func testParseAcceptsHTTPURLsAndHostPort() throws {
        XCTAssertEqual(try EtcdEndpoint.parse("http://127.0.0.1:2379"), EtcdEndpoint(host: "127.0.0.1", port: 2379))
        XCTAssertEqual(try EtcdEndpoint.parse("127.0.0.1:2379"), EtcdEndpoint(host: "127.0.0.1", port: 2379))
        XCTAssertEqual(
            try EtcdEndpoint.parse("HTTP://etcd-1.example:1/"), EtcdEndpoint(host: "etcd-1.example", port: 1))
        XCTAssertEqual(try EtcdEndpoint.parse("[::1]:65535"), EtcdEndpoint(host: "::1", port: 65535))
        XCTAssertEqual(try EtcdEndpoint.parse("http://[fe80::1]:2379"), EtcdEndpoint(host: "fe80::1", port: 2379))
        XCTAssertEqual(try EtcdEndpoint.parse("http://127.0.0.1:2379").description, "http://127.0.0.1:2379")
        XCTAssertEqual(try EtcdEndpoint.parse("[::1]:2379").description, "http://[::1]:2379")
    }

    func testParseTakesHTTPSAsTLS() throws {
        let endpoint = try EtcdEndpoint.parse("https://127.0.0.1:2379")
        XCTAssertEqual(endpoint, EtcdEndpoint(host: "127.0.0.1", port: 2379, secure: true))
        XCTAssertEqual(endpoint.description, "https://127.0.0.1:2379")
        XCTAssertNotEqual(endpoint, try EtcdEndpoint.parse("http://127.0.0.1:2379"))
    }

    func testParseRefusesWhatIsNotAnEndpoint() {
        for text in [
            "", "127.0.0.1", "http://127.0.0.1", ":2379", "host:", "host:0", "host:65536", "host:abc", "host:+1",
            "host:-1", "unix:///run/etcd.sock", "ftp://host:21", "http://host:2379/v3", "http://user@host:2379",
            "::1:2379", "[::1]2379", "[::1", "http://host:2379?x=1", "two words:2379",
        ] {
            XCTAssertThrowsError(try EtcdEndpoint.parse(text), "accepted \"\(text)\"") { error in
                XCTAssertTrue("\(error)".contains("\"\(text)\""), "the error names the text: \(error)")
            }
        }
    }
}
