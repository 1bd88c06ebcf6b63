// HTTP(S) for the registry client, on libcurl. One HttpClient is one connection cache
// (a curl easy handle: keep-alive and TLS sessions reused between requests); a thread
// uses its own. TLS is always verified, against the system's CAs or a site CA; plain
// HTTP only where the caller allows it for a registry the user named --insecure.
// Proxies come from https_proxy/http_proxy/no_proxy as curl reads them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

typedef void CURL;

namespace hpai {

struct HttpOptions {
  std::string ca_file;            // a site CA bundle (--ca-cert, SSL_CERT_FILE); "" = the system's
  bool allow_plain_http = false;  // http:// URLs (and redirects to them) allowed
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // a transfer under 1 KiB/s for this long is broken
  std::string user_agent = "hpai";
};

struct HttpResponse;

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Accept: ...", "Authorization: ..."
  bool head = false;
  std::uint64_t range_from = 0;  // > 0: ask for the bytes from there on ("Range: bytes=N-")
  // The body of a 2xx answer goes to SINK when set (false aborts the transfer), else into
  // HttpResponse::body, at most MAX_BODY bytes (more is an error: no answer fills memory).
  std::function<bool(const char*, std::size_t)> sink;
  std::size_t max_body = 4 << 20;
  long timeout_s = 0;  // the whole transfer; 0: none (blobs: the stall check alone)
  // Called once the answer's status and headers are known, before its first body byte
  // (a resumed fetch learns here whether the server honoured the Range).
  std::function<void(long status, const HttpResponse&)> on_status;
  // True once the caller gave up (another layer failed): no more retries or waits.
  std::function<bool()> cancelled;
  // Called as body bytes arrive (the count of this transfer).
  std::function<void(std::uint64_t)> progress;
};

struct HttpResponse {
  long status = 0;    // 0: no HTTP answer (see error)
  std::string error;  // the transport's failure: "Couldn't connect to server", TLS, a stall
  bool tls_error = false;
  bool transient = false;                      // a failure that may pass: refused, reset, timed out, cut short
  bool aborted = false;                        // the sink said stop
  bool truncated = false;                      // the body was over max_body (an error body: cut at 64 KiB)
  std::string body;                            // of a non-2xx answer (bounded), or of a 2xx one without sink
  std::map<std::string, std::string> headers;  // of the last answer; names lower case
  std::string url;                             // after redirects
  std::uint64_t body_bytes = 0;
  std::string header(const std::string& lower_name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpResponse perform(const HttpRequest& request);
  const HttpOptions& options() const { return options_; }

 private:
  HttpOptions options_;
  std::string ca_pem_;  // options_.ca_file's content
  CURL* curl_ = nullptr;
};

}  // namespace hpai
