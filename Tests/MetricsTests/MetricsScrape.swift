import Foundation
import NIOCore
import NIOPosix

/// A minimal HTTP/1.1 client for the tests: one request, `Connection: close`, the whole
/// answer read until the server closes.
struct HTTPAnswer {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

enum MetricsScrape {
    static func request(
        _ method: String = "GET", _ path: String, at address: String, group: any EventLoopGroup,
        timeout: TimeAmount = .seconds(5)
    ) async throws -> HTTPAnswer {
        let parts = address.split(separator: ":")
        let host = String(parts[0])
        let port = Int(parts[1])!
        let received = group.next().makePromise(of: [UInt8].self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Collector(done: received))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            received.fail(error)
            throw error
        }
        let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { timer.cancel() }
        let text = "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n"
        try await channel.writeAndFlush(channel.allocator.buffer(string: text)).get()
        let bytes = try await received.futureResult.get()
        return try parse(String(decoding: bytes, as: UTF8.self))
    }

    struct BadAnswer: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ text: String) throws -> HTTPAnswer {
        guard let split = text.range(of: "\r\n\r\n") else { throw BadAnswer(description: "no header end: \(text)") }
        let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusWords = head[0].split(separator: " ")
        guard statusWords.count >= 2, let status = Int(statusWords[1]) else {
            throw BadAnswer(description: "bad status line: \(head[0])")
        }
        let headers = head.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return HTTPAnswer(status: status, headers: headers, body: String(text[split.upperBound...]))
    }

    /// `GET /metrics`, parsed into samples.
    static func metrics(at address: String, group: any EventLoopGroup) async throws -> Samples {
        let answer = try await request("GET", "/metrics", at: address, group: group)
        guard answer.status == 200 else { throw BadAnswer(description: "status \(answer.status): \(answer.body)") }
        return Samples(text: answer.body)
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private var bytes: [UInt8] = []
        private let done: EventLoopPromise<[UInt8]>

        init(done: EventLoopPromise<[UInt8]>) { self.done = done }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed(bytes)  // a no-op after a failure
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            done.fail(error)
            context.close(promise: nil)
        }
    }
}

/// Samples of the Prometheus text format, by name and labels (label order ignored).
struct Samples {
    private var values: [String: Double] = [:]
    let text: String

    init(text: String) {
        self.text = text
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            values[Self.key(String(line[..<space]))] = value
        }
    }

    /// `series` as in `kvservice_requests_total{op="put",result="ok"}`; nil if absent.
    subscript(_ series: String) -> Double? { values[Self.key(series)] }

    private static func key(_ series: String) -> String {
        guard let brace = series.firstIndex(of: "{"), series.hasSuffix("}") else { return series }
        let name = series[..<brace]
        let labels = series[series.index(after: brace)..<series.index(before: series.endIndex)]
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.sorted()
        return labels.isEmpty ? String(name) : "\(name){\(labels.joined(separator: ","))}"
    }
}
