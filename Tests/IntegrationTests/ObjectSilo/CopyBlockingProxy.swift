import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP proxy in front of the test S3 server that answers server-side copies (requests
/// carrying x-amz-copy-source) with 500 InternalError while `blocked`, and passes every other
/// request through unchanged (the Host header too, so signatures still verify). A daemon
/// behind it keeps its bucket silo online (listings and health checks pass) while no copy of
/// a rename can finish: a rename stays half done for as long as a test needs.
final class CopyBlockingProxy {
    let endpoint: String
    private let process: Process
    private let flag: String

    private static let script = #"""
    import http.client, http.server, os, sys
    upstream_host, upstream_port, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        def log_message(self, *args): pass
        def relay(self):
            length = int(self.headers.get('Content-Length') or 0)
            body = self.rfile.read(length) if length else b''
            if os.path.exists(flag) and 'x-amz-copy-source' in self.headers:
                error = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>copies blocked by the test</Message></Error>'
                self.send_response(500)
                self.send_header('Content-Type', 'application/xml')
                self.send_header('Content-Length', str(len(error)))
                self.end_headers()
                self.wfile.write(error)
                return
            up = http.client.HTTPConnection(upstream_host, upstream_port, timeout=60)
            up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in ('expect', 'connection'): up.putheader(name, value)
            up.endheaders(body)
            answer = up.getresponse()
            data = answer.read()
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.getheaders():
                lower = name.lower()
                if lower in ('transfer-encoding', 'connection'): continue
                if lower == 'content-length' and self.command != 'HEAD': continue
                self.send_header(name, value)
            if self.command != 'HEAD': self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if self.command != 'HEAD': self.wfile.write(data)
            up.close()
        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay
    import threading, time
    parent = os.getppid()
    def orphaned():
        # Gone with the test process, however it ended.
        while os.getppid() == parent: time.sleep(1)
        os._exit(0)
    threading.Thread(target=orphaned, daemon=True).start()
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    with open(sys.argv[4] + '.tmp', 'w') as f: f.write(str(server.server_address[1]))
    os.rename(sys.argv[4] + '.tmp', sys.argv[4])
    server.serve_forever()
    """#

    private let directory: String

    /// `upstream` is the server's endpoint (http://127.0.0.1:PORT).
    init(upstream: String) throws {
        guard let url = URL(string: upstream), let host = url.host, let port = url.port else { throw TestFailure("bad endpoint \(upstream)") }
        directory = NSTemporaryDirectory() + "estuary-proxy-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        flag = directory + "/block-copies"
        let scriptPath = directory + "/copy-proxy.py"
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let portFile = directory + "/port"
        process.arguments = [scriptPath, host, String(port), flag, portFile]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // It writes the port it listens on once it does.
        var listening: Int?
        for _ in 0..<600 where listening == nil && process.isRunning {
            listening = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            if listening == nil { usleep(50_000) }
        }
        guard let listening else { throw TestFailure("the copy-blocking proxy did not start") }
        endpoint = "http://127.0.0.1:\(listening)"
    }

    var blocked: Bool {
        get { FileManager.default.fileExists(atPath: flag) }
        set {
            if newValue { FileManager.default.createFile(atPath: flag, contents: nil) } else { try? FileManager.default.removeItem(atPath: flag) }
        }
    }

    func stop() {
        guard process.isRunning else { return }
        // SIGKILL: the test process's children may inherit SIGTERM blocked.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
