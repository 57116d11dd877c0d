import KVProtocol

extension Txn {
    /// Why a server would refuse this transaction as sent, or nil. Checked before it is
    /// sent: a server answers a frame it cannot decode by closing the connection, which
    /// the session would take for a failure and retry until its deadline.
    var sendingProblem: String? {
        if let problem { return problem }
        let request = ClientRequest(txn: self, clientID: 0, seq: 0)
        let size = MessageCodec.encode(Frame(requestID: 0, message: .request(request))).count
        guard size <= Limits.maxFrameSize else {
            return "a transaction of \(size) bytes exceeds the frame limit of \(Limits.maxFrameSize)"
        }
        return nil
    }
}
