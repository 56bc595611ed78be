import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `/metrics`: served only when asked for, parsed by Prometheus's own tools, and scraped by a
/// real Prometheus whose counters follow what happens on the mount.
@Suite(.serialized)
struct MetricsTests {
    @Test func nothingIsServedUnlessAsked() throws {
        let pool = try TestPool()
        try pool.mount()
        let pid = try #require(pool.daemonPid)
        #expect(try Observe.listeningTCPSockets(of: pid) == 0)
        try pool.unmount()
        let port = try Observe.freePort()
        try pool.mount(options: ["-o", "metrics=\(port)"])
        #expect(try Observe.listeningTCPSockets(of: try #require(pool.daemonPid)) == 1)
        #expect(Observe.get("http://127.0.0.1:\(port)/metrics") != nil, "PORT alone listens on 127.0.0.1")
        try pool.unmount()
    }

    @Test func badAddressIsAClearError() throws {
        let pool = try TestPool()
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-f", "-o", "metrics=10.0.0:99999"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("metrics address must be HOST:PORT"), "\(result.output)")
        #expect(!pool.isMounted)
    }

    @Test func configKeyServesMetricsAndPromtoolAcceptsThem() throws {
        let port = try Observe.freePort()
        let pool = try TestPool(extraConfig: "metrics = \"127.0.0.1:\(port)\"")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try Fixtures.write(pool.path("a.txt"), "hello")
        _ = try String(contentsOfFile: pool.path("a.txt"), encoding: .utf8)
        #expect(access(pool.path("missing"), F_OK) != 0)
        let text = try #require(Observe.get("http://127.0.0.1:\(port)/metrics"))
        #expect(Observe.sample(text, "estuary_request_duration_seconds_count", ["op=\"create\""]) == 1, "\(text)")
        #expect((Observe.sample(text, "estuary_silo_written_bytes_total", ["silo=\"fast0\""]) ?? 0) >= 5, "\(text)")
        #expect(Observe.sample(text, "estuary_silo_up", ["silo=\"bulk1\""]) == 1)
        #expect(Observe.sample(text, "estuary_move_jobs", ["state=\"queued\""]) == 0)
        #expect((Observe.sample(text, "process_resident_memory_bytes") ?? 0) > 0)
        // Both silos are followed live: how far behind each is, and what waits.
        #expect(Observe.sample(text, "estuary_silo_watch_behind_seconds", ["silo=\"bulk1\""]) != nil, "\(text)")
        #expect(Observe.sample(text, "estuary_silo_watch_waiting_changes", ["silo=\"fast0\""]) != nil, "\(text)")
        #expect(Observe.get("http://127.0.0.1:\(port)/nothing-here") == nil)   // 404 (curl -f fails)
        // Junk and other methods get an error reply, and the endpoint keeps serving.
        let junk = try Shell.sh("printf 'BREW /coffee\\r\\n\\r\\n' | timeout 10 bash -c 'cat > /dev/tcp/127.0.0.1/\(port)'; "
                                + "curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:\(port)/metrics")
        #expect(junk.stdout == "405", "\(junk.output)")
        #expect(Observe.get("http://127.0.0.1:\(port)/metrics") != nil)
        guard let promtool = Observe.program("/usr/bin/promtool", package: "prometheus") else { return }
        let file = pool.root + "/metrics.txt"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try Shell.sh("\(promtool) check metrics < \(file)")
        #expect(check.status == 0, "promtool: \(check.output)")
    }

    /// Bytes written through a handle count for the silo holding the file, also after a move
    /// switched the handle to the copy on another silo.
    @Test func bytesCountForTheSiloTheFileMovedTo() throws {
        let port = try Observe.freePort()
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "metrics = \"127.0.0.1:\(port)\"")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let fd = open(pool.path("kept-open.bin"), O_CREAT | O_RDWR, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        let block = [UInt8](repeating: 7, count: 100_000)
        #expect(write(fd, block, block.count) == block.count)
        #expect(fsync(fd) == 0)
        #expect(try pool.estuary(["move", pool.path("kept-open.bin"), "--to", "bulk", "--wait"]).status == 0)
        let written = { (silo: String) in
            Observe.sample(Observe.get("http://127.0.0.1:\(port)/metrics") ?? "", "estuary_silo_written_bytes_total", ["silo=\"\(silo)\""]) ?? 0
        }
        let (fastBefore, bulkBefore) = (written("fast0"), written("bulk0"))
        #expect(fastBefore >= 100_000)
        #expect(pwrite(fd, block, block.count, 100_000) == block.count)
        #expect(fsync(fd) == 0)   // with the kernel's write-back cache, the write reaches the daemon here
        #expect(written("bulk0") - bulkBefore == 100_000, "the write after the move counts for bulk0")
        #expect(written("fast0") == fastBefore, "and not for fast0, which no longer holds the file")
    }

    /// A client that connects and says nothing must not hold up the scrapes behind it.
    @Test func aSilentClientDoesNotHoldUpScrapes() throws {
        let port = try Observe.freePort()
        let pool = try TestPool(extraConfig: "metrics = \"127.0.0.1:\(port)\"")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        usleep(100_000)   // accepted, now waiting for a request that never comes
        // curl gives up after 3 s; the silent client is only dropped after 5 s.
        let scrape = try Shell.run("/usr/bin/curl", ["-s", "-f", "-m", "3", "http://127.0.0.1:\(port)/metrics"])
        #expect(scrape.status == 0, "a scrape while another client is silent: curl exit \(scrape.status)")
        #expect(scrape.stdout.contains("estuary_build_info"))
    }

    @Test func prometheusScrapesTheMountAndSeesCountersMove() throws {
        guard let prometheus = Observe.program("/usr/bin/prometheus", package: "prometheus") else { return }
        let port = try Observe.freePort()
        // Watermarks on the fast tier, so the dashboard's watermark series exist too.
        let pool = try TestPool(extraConfig: "extent_size = \"64KiB\"\n[tiers.fast]\nhigh = 90\nlow = 70")
        try pool.mount(options: ["-o", "metrics=127.0.0.1:\(port)"])
        defer { _ = try? pool.unmount() }
        let webPort = try Observe.freePort()
        let config = pool.root + "/prometheus.yml"
        try """
        global:
          scrape_interval: 1s
        scrape_configs:
          - job_name: estuary
            static_configs:
              - targets: ['127.0.0.1:\(port)']
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: prometheus)
        server.arguments = ["--config.file=\(config)", "--storage.tsdb.path=\(pool.root)/tsdb",
                            "--web.listen-address=127.0.0.1:\(webPort)"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let api = "http://127.0.0.1:\(webPort)"
        #expect(Observe.waitFor(60) { Observe.get(api + "/-/ready") != nil }, "prometheus did not become ready")

        func query(_ expression: String) -> Double? {
            let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
            guard let body = Observe.get(api + "/api/v1/query?query=" + encoded),
                  let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
                  let value = result.first?["value"] as? [Any], let text = value.last as? String else { return nil }
            return Double(text)
        }

        #expect(Observe.waitFor(60) { query("up{job=\"estuary\"}") == 1 }, "prometheus never scraped the mount")
        for i in 0..<20 { try Fixtures.write(pool.path("file\(i).txt"), String(repeating: "x", count: 1000 + i)) }
        try Data(repeating: 7, count: 300_000).write(to: URL(fileURLWithPath: pool.path("big.bin")))
        #expect(Observe.waitFor(60) { (query("sum(estuary_request_duration_seconds_count{op=\"create\"})") ?? 0) >= 21 },
                "creates did not show in prometheus: \(String(describing: query("sum(estuary_request_duration_seconds_count{op=\"create\"})")))")
        #expect(Observe.waitFor(60) { (query("estuary_silo_written_bytes_total{silo=\"fast0\"}") ?? 0) >= 300_000 })

        let move = try pool.estuary(["move", pool.path("big.bin"), "--to", "bulk", "--wait"])
        #expect(move.status == 0, "\(move.output)")
        #expect(Observe.waitFor(60) { (query("estuary_move_jobs{state=\"done\"}") ?? 0) >= 1 }, "the move never showed as done")
        #expect(Observe.waitFor(60) { (query("estuary_moved_bytes_total") ?? 0) >= 300_000 },
                "moved bytes: \(String(describing: query("estuary_moved_bytes_total")))")
        #expect(Observe.waitFor(60) { (query("estuary_index_entries") ?? 0) >= 21 })

        // Every query of the Grafana dashboard parses in this Prometheus and finds data.
        let dashboard = PackageTests.repository + "/examples/grafana-estuary.json"
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dashboard))) as? [String: Any]
        let panels = try #require(json?["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.count > 15)
        for expression in expressions {
            let concrete = expression.replacingOccurrences(of: "$instance", with: ".*").replacingOccurrences(of: "$__rate_interval", with: "1m")
            let encoded = concrete.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? concrete
            let body = Observe.get(api + "/api/v1/query?query=" + encoded) ?? ""
            #expect(body.contains("\"status\":\"success\""), "\(concrete): \(body)")
            // A quantile or rate over a fresh series may be empty; the series behind it is not.
            let metric = concrete.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") })
                .first { $0.hasPrefix("estuary_") || $0.hasPrefix("process_") }.map(String.init) ?? ""
            #expect((query("count(\(metric)) or vector(0)") ?? 0) > 0 || metric.hasSuffix("_bucket") || metric.contains("errors"),
                    "the dashboard's \(metric) has no series")
        }
    }
}
