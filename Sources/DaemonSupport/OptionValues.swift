import ArgumentParser
import KVTransport
import NIOCore

/// A duration on a command line: "100ms", "1.5s", "2m", "250us"; a bare number is
/// milliseconds.
public struct DurationOption: Sendable, CustomStringConvertible {
    public let amount: TimeAmount

    public init(_ amount: TimeAmount) {
        self.amount = amount
    }

    /// For `@Option(transform:)`, with an error that shows the expected form.
    public static func parse(_ argument: String) throws -> DurationOption {
        guard let amount = DurationText.parse(argument) else {
            throw ValidationError("\"\(argument)\" is not a duration such as 100ms, 1.5s or 2m")
        }
        return DurationOption(amount)
    }

    public var description: String { DurationText.describe(amount) }
}

extension PeerAddress {
    /// For `@Option(transform:)`, with an error that shows the expected form.
    public static func parse(_ argument: String) throws -> PeerAddress {
        guard let address = PeerAddress(argument) else {
            throw ValidationError("\"\(argument)\" is not HOST:PORT")
        }
        return address
    }

    /// A comma-separated list ("A,B,C"), for `@Option(transform:)`, with an error that
    /// names the item refused.
    public static func parseList(_ argument: String) throws -> [PeerAddress] {
        do {
            return try PeerAddress.list(argument)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
