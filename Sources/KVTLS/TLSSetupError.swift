/// Why TLS material could not be used: said with the file it is about, for the operator.
public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
