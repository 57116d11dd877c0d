/// Which member the next request goes to: the preferred one, until a request to it finds
/// it unreachable or unable to serve; then the next in the list, round and round.
struct EndpointRotation {
    let endpoints: [EtcdEndpoint]
    private(set) var preferred = 0

    init(endpoints: [EtcdEndpoint]) {
        self.endpoints = endpoints
    }

    /// Moves the preference past `index` after a request to it failed, unless another
    /// failure moved it already: requests in flight together that fail together move it
    /// once, not once each, which could skip a healthy member or come back to the dead one.
    /// Returns whether it moved.
    @discardableResult
    mutating func moveOn(from index: Int) -> Bool {
        guard index == preferred, endpoints.count > 1 else { return false }
        preferred = (index + 1) % endpoints.count
        return true
    }
}
