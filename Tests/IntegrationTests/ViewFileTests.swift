import Foundation
import KVProtocol
import KVServices
import KVTestSupport
import KVTransport
import XCTest

/// The monitor's view file (docs/DESIGN.md §2.6): what is saved is read back, and a file
/// that is not a view the monitor could have saved stops the monitor from starting, rather
/// than letting it begin again from view 0 (which could make an empty server primary).
final class ViewFileTests: XCTestCase {
    func testASavedViewIsReadBackAndNoFileIsNoView() throws {
        let store = FileViewStore(directory: try makeScratch().directory)
        XCTAssertNil(try store.load(), "no file: no view yet")
        let view = View(viewnum: 7, primary: "127.0.0.1:7101", backup: "", acked: true)
        try store.save(view)
        XCTAssertEqual(try store.load(), view)
        let next = View(viewnum: 8, primary: "127.0.0.1:7101", backup: "127.0.0.1:7102")
        try store.save(next)
        XCTAssertEqual(try store.load(), next)
        let named = View(viewnum: 9, primary: "127.0.0.1:7101", backup: "", acked: true, cluster: 0xfeed)
        try store.save(named)
        XCTAssertEqual(try store.load(), named, "the cluster id is not kept")
    }

    func testTheMonitorRefusesToStartFromAFileThatIsNotAView() async throws {
        let impossible = [
            "garbage\n",
            "kvservice-view 1\nviewnum 3\nprimary 127.0.0.1:7101\nbackup -\n",  // no acked line
            "kvservice-view 1\nviewnum x\nprimary 127.0.0.1:7101\nbackup -\nacked 1\n",
            "kvservice-view 1\nviewnum 3\nprimary -\nbackup 127.0.0.1:7102\nacked 1\n",  // no primary
            "kvservice-view 1\nviewnum 3\nprimary 127.0.0.1:7101\nbackup 127.0.0.1:7101\nacked 0\n",  // twice
            "kvservice-view 1\nviewnum 0\nprimary 127.0.0.1:7101\nbackup -\nacked 0\n",  // view 0 names one
            "kvservice-view 1\nviewnum 3\nprimary 127.0.0.1:7101\nbackup -\nacked 1\ncluster 00zz\n",
            "kvservice-view 1\nviewnum 3\nprimary 127.0.0.1:7101\nbackup -\nacked 1\ncluster 0000000000000000\n",
            "kvservice-view 1\nviewnum 0\nprimary -\nbackup -\nacked 0\ncluster 000000000000000a\n",
        ]
        for text in impossible {
            let directory = try makeScratch().directory
            try text.write(toFile: directory + "/view", atomically: true, encoding: .utf8)
            let configuration = MonitorNode.Configuration(
                listen: .bind(PeerAddress(host: "127.0.0.1", port: 0)), stateDirectory: directory)
            do {
                let monitor = try await MonitorNode.start(
                    configuration: configuration, group: Shared.group, logger: Shared.logger)
                await monitor.stop()
                XCTFail("the monitor started from \(text.debugDescription)")
            } catch let error as FileViewStore.StoreError {
                XCTAssertTrue(error.description.contains(directory + "/view"), "\(error) does not name the file")
            }
        }
    }
}
