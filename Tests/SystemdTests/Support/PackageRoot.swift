import Foundation
import KVTestSupport
import XCTest

extension XCTestCase {
    /// The directory holding Package.swift, above the build directory: where the test
    /// scripts are.
    static func packageRoot() throws -> String {
        var directory = Binaries.directory
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory.path
            }
            directory.deleteLastPathComponent()
        }
        throw XCTSkip("no Package.swift above \(Binaries.directory.path): not run from a source tree")
    }
}
