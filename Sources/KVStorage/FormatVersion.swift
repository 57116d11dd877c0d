/// The version written in every log header, snapshot header and manifest. A reader
/// refuses any other: an unknown layout read as this one would be silent corruption.
enum FormatVersion {
    static let current: UInt16 = 1
}
