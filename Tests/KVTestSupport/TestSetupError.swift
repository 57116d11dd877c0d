/// Something a test needs could not be set up (as opposed to a failed check).
package struct TestSetupError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
