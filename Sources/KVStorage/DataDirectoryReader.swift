/// Read access to a data directory, all that recovery needs of it. The I/O layer
/// implements it over the file system; tests, over a dictionary.
public protocol DataDirectoryReader {
    /// The names of the files in the directory.
    func fileNames() throws -> [String]
    /// A file's whole contents, or nil if there is no such file.
    func contents(of name: String) throws -> [UInt8]?
}
