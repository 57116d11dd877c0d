/// A client session's timing, in the caller's time unit (nanoseconds in `KVClient`,
/// microseconds in the simulator): the core only adds and compares these values.
public struct ClientConfig: Sendable {
    /// The pause between attempts: the monitor's ping interval, so a retry does not come
    /// before the view could have changed.
    public var retryInterval: UInt64
    /// How long one attempt (a view request or a data request) may wait for its answer.
    public var attemptTimeout: UInt64
    /// The shortest attempt worth making when the deadline is close.
    public var minimumAttemptTimeout: UInt64

    public init(retryInterval: UInt64, attemptTimeout: UInt64, minimumAttemptTimeout: UInt64) {
        self.retryInterval = retryInterval
        self.attemptTimeout = attemptTimeout
        self.minimumAttemptTimeout = minimumAttemptTimeout
    }
}
