import Foundation
import KVSystemd
import KVTestSupport
import XCTest

/// The unit files and the message catalog in systemd/, checked offline with the host's
/// systemd tools.
final class UnitFileTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static var systemdDirectory: URL { repository.appendingPathComponent("systemd") }

    /// Highest acceptable `systemd-analyze security` exposure per unit.
    static let exposureThresholds: [(unit: String, threshold: Double)] = [
        ("kv-server@7101.service", 1.1), ("kv-monitor.service", 0.3),
        // kv-monitor.service with systemd/kv-monitor-etcd.conf: network for etcd.
        ("kv-monitor-etcd.service", 1.2),
    ]

    private func analyze() throws -> String {
        guard let path = Binaries.tool("systemd-analyze") else { throw XCTSkip("systemd-analyze is not installed") }
        return path
    }

    /// Copies the units into `scratch`, pointing ExecStart= at the built binaries (verify
    /// checks that the command exists) and instantiating the templates as kv-server@7101.
    private func stageUnits(_ scratch: TestScratch) throws -> String {
        let directory = scratch.path("units")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.systemdDirectory.path)
            .filter { $0.hasSuffix(".service") || $0.hasSuffix(".socket") }
        XCTAssertEqual(
            Set(files), ["kv-monitor.service", "kv-monitor.socket", "kv-server@.service", "kv-server@.socket"])
        for file in files {
            var text = try String(contentsOf: Self.systemdDirectory.appendingPathComponent(file), encoding: .utf8)
            XCTAssertTrue(text.contains("ExecStart=/usr/bin/kv-") || file.hasSuffix(".socket"), file)
            text = text.replacingOccurrences(of: "ExecStart=/usr/bin/", with: "ExecStart=\(Binaries.directory.path)/")
            let names = file.contains("@.") ? [file, file.replacingOccurrences(of: "@.", with: "@7101.")] : [file]
            for name in names { try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8) }
            if file == "kv-monitor.service" {
                // The drop-in's settings after the unit's own, as systemd applies it
                // (a second [Service] section continues the first).
                let dropIn = try String(
                    contentsOf: Self.systemdDirectory.appendingPathComponent("kv-monitor-etcd.conf"), encoding: .utf8)
                try (text + "\n" + dropIn).write(
                    toFile: "\(directory)/kv-monitor-etcd.service", atomically: true, encoding: .utf8)
            }
        }
        return directory
    }

    /// A MANPATH holding the repository's man pages, so verify's Documentation=man:...
    /// check finds them; nil when the repository has none.
    private func manPath(_ scratch: TestScratch) throws -> String? {
        let source = Self.repository.appendingPathComponent("man")
        guard let pages = try? FileManager.default.contentsOfDirectory(atPath: source.path), !pages.isEmpty else {
            return nil
        }
        let root = scratch.path("man")
        for page in pages {
            guard let section = page.split(separator: ".").last, let number = section.first, number.isNumber else {
                continue
            }
            let directory = "\(root)/man\(number)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: "\(directory)/\(page)", withDestinationPath: source.appendingPathComponent(page).path)
        }
        return root
    }

    func testUnitsVerifyWithoutAnyMessage() async throws {
        let analyze = try analyze()
        let scratch = try makeScratch()
        let directory = try stageUnits(scratch)
        let man = try manPath(scratch)
        var environment: [String: String] = ["SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""]
        var options = ["verify"]
        if let man {
            environment["MANPATH"] = man
        } else {
            // Without man pages in the repository, Documentation= cannot be checked here.
            options.append("--man=no")
        }
        for unit in ["kv-monitor.socket", "kv-monitor.service", "kv-server@7101.socket", "kv-server@7101.service"] {
            let result = try await scratch.run(
                "verify-\(unit)", analyze, options + ["\(directory)/\(unit)"], environment: environment, timeout: 30)
            XCTAssertEqual(result.stderr, "", "systemd-analyze verify \(unit) complained:\n\(result.stderr)")
            XCTAssertEqual(
                result.status, 0, "systemd-analyze verify \(unit): status \(result.status)\n\(result.stderr)")
        }
    }

    func testSecurityExposureWithinThresholds() async throws {
        let analyze = try analyze()
        let scratch = try makeScratch()
        let directory = try stageUnits(scratch)
        var report: [String] = []
        for (unit, threshold) in Self.exposureThresholds {
            // --threshold counts in tenths of the printed exposure level (1.1 -> 11).
            let result = try await scratch.run(
                "security-\(unit)", analyze,
                [
                    "security", "--offline=yes", "--no-pager", "--threshold=\(Int((threshold * 10).rounded()))",
                    "\(directory)/\(unit)",
                ],
                environment: ["SYSTEMD_LOG_COLOR": "0", "SYSTEMD_COLORS": "0"], timeout: 30)
            let line = result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level for \(unit):") }
            let figure = line.flatMap { line in
                line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
            }
            XCTAssertNotNil(figure, "no exposure figure for \(unit):\n\(result.stdout)\n\(result.stderr)")
            guard let figure else { continue }
            report.append("\(unit): \(figure) (threshold \(threshold))")
            XCTAssertLessThanOrEqual(figure, threshold, "\(unit) exposure \(figure) > \(threshold)")
            XCTAssertEqual(result.status, 0, "--threshold=\(threshold) failed for \(unit)\n\(result.stderr)")
        }
        print("systemd-analyze security: " + report.joined(separator: "; "))
    }

    // MARK: - The catalog

    /// (id, Subject:) of each catalog entry, in file order.
    private func catalogEntries() throws -> [(id: String, subject: String?)] {
        let text = try String(
            contentsOf: Self.systemdDirectory.appendingPathComponent("kvservice.catalog"), encoding: .utf8)
        var entries: [(id: String, subject: String?)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-- ") {
                entries.append((String(line.dropFirst(3)), nil))
            } else if line.hasPrefix("Subject: "), let last = entries.indices.last, entries[last].subject == nil {
                entries[last].subject = String(line.dropFirst("Subject: ".count))
            }
        }
        return entries
    }

    func testCatalogHasOneEntryPerMessageID() async throws {
        let entries = try catalogEntries()
        let ids = entries.map(\.id)
        XCTAssertEqual(ids.count, Set(ids).count, "an id appears twice: \(ids)")
        XCTAssertEqual(Set(ids), Set(MessageIDs.byEvent.values), "catalog ids differ from MessageIDs.byEvent")
        for entry in entries {
            XCTAssertEqual(entry.id.count, 32, "\(entry.id): an entry line is '-- ' and 32 hex digits")
            XCTAssertTrue(entry.id.allSatisfy(\.isHexDigit), entry.id)
            XCTAssertFalse((entry.subject ?? "").isEmpty, "\(entry.id) has no Subject:")
        }
    }

    func testJournalctlCompilesTheCatalog() async throws {
        guard let journalctl = Binaries.tool("journalctl") else { throw XCTSkip("journalctl is not installed") }
        let scratch = try makeScratch()
        let root = scratch.path("root")
        let catalogDirectory = "\(root)/usr/lib/systemd/catalog"
        try FileManager.default.createDirectory(atPath: catalogDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Self.systemdDirectory.appendingPathComponent("kvservice.catalog").path,
            toPath: "\(catalogDirectory)/kvservice.catalog")
        let update = try await scratch.run("update-catalog", journalctl, ["--update-catalog", "--root=\(root)"])
        XCTAssertEqual(update.status, 0, update.stderr)
        XCTAssertEqual(update.stderr, "", "journalctl --update-catalog complained")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/var/lib/systemd/catalog/database"))

        let list = try await scratch.run(
            "list-catalog", journalctl, ["--root=\(root)", "--list-catalog", "--no-pager"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let listed = Dictionary(
            list.stdout.split(separator: "\n").map { line -> (String, String) in
                let parts = line.split(separator: " ", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }, uniquingKeysWith: { $1 })
        let subjects = Dictionary(try catalogEntries().map { ($0.id, $0.subject ?? "") }, uniquingKeysWith: { $1 })
        for (event, id) in MessageIDs.byEvent {
            XCTAssertEqual(
                listed[id], subjects[id].map { "kvservice: \($0)" }, "\(event) (\(id)) as journalctl lists it")
        }
        XCTAssertEqual(listed.count, MessageIDs.byEvent.count, list.stdout)
    }
}
