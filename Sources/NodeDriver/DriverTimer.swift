/// A timer an environment scheduled for a driver.
public protocol DriverTimer {
    /// The action will not run (any more).
    func cancel()
}
