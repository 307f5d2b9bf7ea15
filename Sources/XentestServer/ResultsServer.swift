import FlyingFox
import FlyingSocks
import Foundation

/// The results service over HTTP (FlyingFox): every request goes to `ResultsService`; a body longer than the upload
/// limit is refused from its Content-Length before a byte of it is read, and one without a length is read only up
/// to the limit.
public struct ResultsServer: Sendable {
    /// The service it serves.
    public let service: ResultsService
    /// The IPv4 address to listen on (`127.0.0.1`, `0.0.0.0`).
    public let host: String
    /// The port; 0 for one the system chooses.
    public let port: UInt16

    /// A server for `service` on `host:port`.
    public init(service: ResultsService, host: String, port: UInt16) {
        self.service = service
        self.host = host
        self.port = port
    }

    /// Starts listening; `listening` is called with the port once the socket is bound. Runs until cancelled.
    public func run(listening: @escaping @Sendable (UInt16) -> Void) async throws {
        let address = try sockaddr_in.inet(ip4: host, port: port)
        // FlyingFox's own log stays off: failures reach the caller as errors, and requests are not logged.
        let server = HTTPServer(config: HTTPServer.Configuration(address: address, timeout: 60, logger: .disabled))
        let service = service
        await server.appendRoute("*") { request in await Self.respond(request, service) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [host, port] in
                do { try await server.run() } catch let error as SocketError {
                    throw ListenFailed(description: "cannot listen on \(host):\(port): \(error)")
                }
            }
            group.addTask {
                try await server.waitUntilListening()
                if case .ip4(_, let port) = await server.listeningAddress { listening(port) }
            }
            try await group.waitForAll()
        }
    }

    static func respond(_ request: HTTPRequest, _ service: ResultsService) async -> HTTPResponse {
        let limit = service.uploads.maxBodyBytes
        if let length = request.headers[HTTPHeader("Content-Length")].flatMap(Int.init), length > limit {
            return response(.error(413, service.uploads.tooLarge(length).message), closing: true)
        }
        let authorization = request.headers[HTTPHeader("Authorization")] ?? ""
        let bearer = authorization.hasPrefix("Bearer ") ? String(authorization.dropFirst(7)) : nil
        let body = request.bodySequence
        let answer = await service.respond(method: request.method.rawValue, path: request.path, bearer: bearer) {
            var data = Data()
            for try await chunk in body {
                data.append(chunk)
                if data.count > limit { throw service.uploads.tooLarge(data.count) }
            }
            return data
        }
        return response(answer, closing: false)
    }

    static func response(_ answer: ServiceResponse, closing: Bool) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers[HTTPHeader("Content-Type")] = answer.contentType
        headers[HTTPHeader("Content-Security-Policy")] = Pages.policy
        headers[HTTPHeader("X-Content-Type-Options")] = "nosniff"
        headers[HTTPHeader("Cache-Control")] = "no-store"
        if closing { headers[HTTPHeader("Connection")] = "close" }
        for (name, value) in answer.headers { headers[HTTPHeader(name)] = value }
        return HTTPResponse(
            statusCode: HTTPStatusCode(answer.status, phrase: phrase(answer.status)),
            headers: headers,
            body: answer.body
        )
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 422: "Unprocessable Content"
        default: "Internal Server Error"
        }
    }
}

/// The server could not take its address (in use, not this machine's, not allowed).
public struct ListenFailed: Error, CustomStringConvertible {
    /// What went wrong, with the address.
    public var description: String
}
