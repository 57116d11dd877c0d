import KVProtocol
import MonitorCore

/// `MonitorCore` with a store whose saves complete at once, for tests that call the core
/// directly: every answer and notice is collected, each save is fed back as `viewSaved`
/// (or `viewNotSaved` while `failure` is set).
struct ImmediateStore {
    var core: MonitorCore
    private(set) var saved: [View] = []
    var failure: String?
    /// Notices since the last `drainNotices()`.
    private var notices: [MonitorNotice] = []
    private var answers: [ReplyToken: Message] = [:]
    private var nextToken: UInt64 = 1

    init(config: MonitorConfig = MonitorConfig()) {
        core = MonitorCore(config: config)
    }

    /// A ping and its answer (nil while held).
    @discardableResult
    mutating func ping(from address: String, viewnum: UInt64, leaving: Bool = false, at now: UInt64) -> View? {
        let token = ReplyToken(nextToken)
        nextToken += 1
        step(.ping(from: address, viewnum: viewnum, leaving: leaving, token), at: now)
        guard case .viewReply(let view) = answers.removeValue(forKey: token) else { return nil }
        return view
    }

    mutating func tick(at now: UInt64) {
        step(.tick, at: now)
    }

    mutating func drainNotices() -> [MonitorNotice] {
        defer { notices.removeAll() }
        return notices
    }

    private mutating func step(_ event: MonitorEvent, at now: UInt64) {
        for effect in core.step(event, at: now) {
            switch effect {
            case .reply(let token, let message):
                answers[token] = message
            case .saveView(let view):
                if let failure {
                    step(.viewNotSaved(view, error: failure), at: now)
                } else {
                    saved.append(view)
                    step(.viewSaved(view), at: now)
                }
            case .notice(let notice):
                notices.append(notice)
            }
        }
    }
}
