import Foundation

/// The built executables (kv-monitor, kv-server, kvctl) sit next to the test bundle in
/// the build directory.
package enum Binaries {
    package static var directory: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !directory.path.hasSuffix(".xctest") && directory.path != "/" {
            if FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("kvctl").path) { break }
            directory.deleteLastPathComponent()
        }
        if directory.path.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.standardizedFileURL
    }

    package static var monitor: String { directory.appendingPathComponent("kv-monitor").path }
    package static var server: String { directory.appendingPathComponent("kv-server").path }
    package static var kvctl: String { directory.appendingPathComponent("kvctl").path }

    /// The test bundle's executable (Linux: `NAME.xctest` is itself an executable), used
    /// to run one helper test inside a private namespace.
    package static var testBundle: String {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        while !url.path.hasSuffix(".xctest") && url.path != "/" { url.deleteLastPathComponent() }
        return url.path
    }

    /// Locates a system tool, or nil.
    package static func tool(_ name: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/lib/systemd", "/usr/lib/systemd"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
