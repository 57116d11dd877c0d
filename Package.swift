// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "kvservice",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kv-monitor", targets: ["kv-monitor"]),
        .executable(name: "kv-server", targets: ["kv-server"]),
        .executable(name: "kvctl", targets: ["kvctl"]),
        .library(name: "KVClient", targets: ["KVClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // libsystemd, for the daemons' systemd face.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // sd_notify, socket activation, the watchdog and a journald LogHandler.
        .target(
            name: "KVSystemd",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]
        ),
        // Wire messages, their binary codec and the PutHash function. Pure Swift, no I/O.
        .target(name: "KVProtocol"),
        // The view service's rules as a deterministic state machine.
        .target(name: "MonitorCore", dependencies: ["KVProtocol"]),
        // The key/value server's replication logic as a deterministic state machine.
        .target(name: "ServerCore", dependencies: ["KVProtocol"]),
        // A data directory's file formats and recovery from them: bytes in, values out. No I/O.
        .target(name: "KVStorage", dependencies: ["KVProtocol", "ServerCore", "CCRC32C"]),
        // CRC-32C with the CPU's instruction (SSE 4.2), for KVStorage's checksums.
        .target(name: "CCRC32C"),
        // Runs the monitor and server cores in an environment (clock, timers, network,
        // storage): the same driver code in the daemons (NIO) and in the simulator.
        // Its drivers are generic over the environment; cross-module optimisation lets the
        // daemons' module specialise them for SwiftNIO (unspecialised, the request path
        // asked the runtime for generic metadata a few times per request: scripts/bench
        // --callgrind, docs/PERFORMANCE.md).
        .target(
            name: "NodeDriver", dependencies: ["KVProtocol", "MonitorCore", "ServerCore"],
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
        ),
        // A client session's decisions (view caching, retries, deadline) as a deterministic
        // state machine, run by KVClient and by the simulator.
        .target(name: "ClientCore", dependencies: ["KVProtocol"]),
        // TCP framing, connections, listeners, authentication (SwiftNIO).
        .target(
            name: "KVTransport",
            dependencies: [
                "KVProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // TLS for the transport's links and the Redis-protocol port (swift-nio-ssl): the
        // certificate files, the contexts built from them and swapped on reload, and the
        // handlers that go first in a connection's pipeline.
        .target(
            name: "KVTLS",
            dependencies: [
                "KVTransport",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The client library: view caching, retries, at-most-once sequence numbers.
        .target(
            name: "KVClient",
            dependencies: [
                "ClientCore", "KVProtocol", "KVTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // A client for etcd's v3 JSON gateway (KV, transactions, leases, watches) over
        // SwiftNIO's HTTP/1.1 client codec, for a monitor that keeps its view in etcd.
        .target(
            name: "KVEtcd",
            dependencies: [
                "KVTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Prometheus metrics: the daemons' swift-metrics objects and the HTTP endpoint.
        .target(
            name: "KVMetrics",
            dependencies: [
                "KVProtocol", "KVTransport", "NodeDriver",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The daemons' runtimes: the drivers in their SwiftNIO environment (channels, timers,
        // the view file on a thread pool), behind listeners.
        .target(
            name: "KVServices",
            dependencies: [
                "KVProtocol", "MonitorCore", "ServerCore", "NodeDriver", "KVTransport", "KVMetrics", "KVEtcd", "KVStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A Redis-protocol (RESP2 and RESP3) front end for a kv-server: parser, encoder, commands
        // compiled to transactions, MULTI/EXEC/WATCH, SCAN cursors, listener.
        .target(
            name: "KVResp",
            dependencies: [
                "KVProtocol", "KVTransport", "KVServices",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // kvctl's commands, as a library so tests can parse and run them in-process.
        .target(
            name: "KVCtl",
            dependencies: [
                "KVProtocol", "KVClient", "KVTransport", "KVTLS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // What both daemons' command lines share: logging flags, the listening socket, metrics.
        .target(
            name: "DaemonSupport",
            dependencies: [
                "KVSystemd", "KVTransport", "KVMetrics", "KVTLS",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "kv-monitor",
            dependencies: [
                "KVTLS", "KVServices", "KVSystemd", "KVTransport", "DaemonSupport", "KVProtocol", "NodeDriver",
                "KVMetrics", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "kv-server",
            dependencies: [
                "KVTLS", "KVServices", "KVSystemd", "KVTransport", "DaemonSupport", "KVProtocol", "KVResp", "ServerCore",
                "KVMetrics", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "kvctl",
            dependencies: ["KVCtl", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Test support: a linearizability checker for histories of key/value operations,
        // and their text file format. Pure Swift, no I/O.
        .target(name: "KVCheck", dependencies: ["KVProtocol"]),
        // Checks a history file saved by a chaos run (not installed by the package).
        .executableTarget(name: "kv-history-check", dependencies: ["KVCheck"]),
        // Test support: a deterministic simulator running the monitor, server and client
        // cores over a simulated network and clock from one seed. Pure Swift, no I/O.
        .target(
            name: "KVSimulation",
            dependencies: [
                "KVProtocol", "MonitorCore", "ServerCore", "NodeDriver", "ClientCore", "KVCheck", "KVStorage",
            ]
        ),
        // Runs simulated schedules from the command line (not installed by the package).
        .executableTarget(name: "kv-simulate", dependencies: ["KVSimulation"]),
        // The load of scripts/chaos: concurrent sessions recording a history (not installed).
        .executableTarget(
            name: "kv-chaos-client",
            dependencies: [
                "KVClient", "KVCheck", "KVProtocol", "KVTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // What the test targets share: one in-process cluster fixture (monitor, servers, the
        // proxies in front of them, clients), a TCP proxy with faults, one bounded wait, one
        // free-port probe, one way to run the built executables, the event loop group and
        // logger. May use Foundation and XCTest; nothing in Sources depends on it.
        .target(
            name: "KVTestSupport",
            dependencies: [
                "KVProtocol", "KVTransport", "KVClient", "KVServices", "KVMetrics", "ServerCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/KVTestSupport"
        ),
        .testTarget(
            name: "KVProtocolTests",
            dependencies: [
                "KVProtocol", "KVTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "KVCheckTests", dependencies: ["KVCheck", "KVProtocol"]),
        .testTarget(name: "MonitorCoreTests", dependencies: ["MonitorCore", "KVProtocol"]),
        .testTarget(name: "ServerCoreTests", dependencies: ["ServerCore", "KVProtocol"]),
        .testTarget(name: "KVStorageTests", dependencies: ["KVStorage", "KVProtocol", "ServerCore"]),
        // The RESP decoder, encoder, each command's transaction and reply, MULTI/EXEC, reply
        // ordering, without a server.
        .testTarget(
            name: "KVRespTests",
            dependencies: [
                "KVResp", "KVProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ClientCoreTests", dependencies: ["ClientCore", "KVProtocol"]),
        // The drivers' own rules (which monitor a server pings, one ping in flight), over a
        // scripted environment.
        .testTarget(name: "NodeDriverTests", dependencies: ["NodeDriver", "ServerCore", "KVProtocol"]),
        .testTarget(name: "SimulationTests", dependencies: ["KVSimulation"]),
        .testTarget(
            name: "KVCtlTests",
            dependencies: [
                "KVTestSupport", "KVCtl", "KVProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "KVTestSupport", "KVProtocol", "KVTransport", "KVClient", "KVServices", "KVResp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The Prometheus endpoints of in-process nodes and of the kv-server executable.
        .testTarget(
            name: "MetricsTests",
            dependencies: [
                "KVTestSupport", "KVMetrics", "KVClient", "KVTransport", "KVProtocol",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The etcd client against real etcd members on loopback (/usr/bin/etcd), in plain
        // HTTP and in TLS (KVTLS's layer), and its parts.
        .testTarget(
            name: "KVEtcdTests",
            dependencies: [
                "KVEtcd", "KVTestSupport", "KVTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Several kv-monitor processes sharing one view in a real 3-member etcd cluster,
        // with kv-server processes and clients: failures of monitors, of etcd members, of
        // etcd's quorum, of the way between a monitor and etcd (docs/DESIGN.md §2.10).
        .testTarget(
            name: "ControlPlaneTests",
            dependencies: [
                "KVTestSupport", "KVProtocol", "KVClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // TLS: the material's checks at load, handshakes over loopback between a listener
        // and connections with good and bad certificates (made with openssl), reload.
        .testTarget(
            name: "KVTLSTests",
            dependencies: [
                "KVTLS", "KVTransport", "KVProtocol", "KVTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The daemons' systemd face: sd_notify, socket activation, journald, the units.
        .testTarget(
            name: "SystemdTests",
            dependencies: [
                "KVTestSupport", "KVSystemd", "KVProtocol", "KVTransport", "DaemonSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
