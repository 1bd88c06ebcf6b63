#include "hpai/registry/http_client.hpp"

#include <curl/curl.h>
#include <fcntl.h>

#include <algorithm>
#include <exception>
#include <mutex>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/path_text.hpp"

namespace hpai {

namespace {

// curl_global_init is not thread-safe before 7.84: once, before any handle.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("can't initialise libcurl");
  });
}

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  CURL* curl;
  bool success_body = false;  // the status is 2xx: bytes go to the sink
  bool decided = false;
  int header_lines = 0;
  std::exception_ptr failure;  // thrown in a callback: kept, rethrown after curl returns
};

size_t header_line(Transfer* t, std::string_view line) {
  if (line.starts_with("HTTP/")) {
    t->response->headers.clear();  // a new answer (after a redirect or 100 Continue)
    t->decided = false;
    t->header_lines = 0;
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string name = ascii_lower(std::string(line.substr(0, colon)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    // Headers are small and few; a server sending more (the same name again and again
    // included) is broken or hostile.
    if (++t->header_lines > 200 || value.size() > 65536) {
      t->response->error = "the server sent more than 200 header lines, or one over 64 KiB";
      return 0;
    }
    t->response->headers[name] = std::string(value);
  }
  return line.size();
}

size_t body_bytes(Transfer* t, const char* data, size_t n) {
  if (!t->decided) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    t->success_body = status >= 200 && status < 300;
    t->decided = true;
    if (t->request->on_status) t->request->on_status(status, *t->response);
  }
  t->response->body_bytes += n;
  if (t->success_body && t->request->sink) {
    if (!t->request->sink(data, n)) {
      t->response->aborted = true;
      return 0;
    }
  } else {
    // Error bodies are for messages only: 64 KiB of one is plenty, and the transfer
    // ends there (a server may send an endless one).
    const size_t max = t->success_body ? t->request->max_body : std::min<size_t>(t->request->max_body, 65536);
    if (t->response->body.size() + n > max) {
      t->response->body.append(data, max - t->response->body.size());
      t->response->truncated = true;
      return 0;
    }
    t->response->body.append(data, n);
  }
  if (t->request->progress && t->success_body) t->request->progress(t->response->body_bytes);
  return n;
}

// No exception may unwind through libcurl's C frames.
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  try {
    return header_line(t, std::string_view(data, size * count));
  } catch (...) {
    t->failure = std::current_exception();
    return 0;
  }
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  try {
    return body_bytes(t, data, size * count);
  } catch (...) {
    t->failure = std::current_exception();
    return 0;
  }
}

void set(CURL* c, CURLoption o, long v) {
  if (curl_easy_setopt(c, o, v) != CURLE_OK) throw Error("libcurl refused an option");
}
void set(CURL* c, CURLoption o, const char* v) {
  if (curl_easy_setopt(c, o, v) != CURLE_OK) throw Error("libcurl refused an option");
}

bool is_tls_error(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return true;
    default: return false;
  }
}

bool is_transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return true;
    default: return false;
  }
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  global_init();
  // The CA bundle is read here, bounded and only if it is a regular file, and handed to
  // curl as bytes: curl would open whatever the path names (a FIFO hangs it, /dev/zero
  // never ends).
  if (!options_.ca_file.empty()) {
    const std::string what = "CA bundle " + options_.ca_file + " (--ca-cert or SSL_CERT_FILE)";
    UniqueFd fd = open_regular(AT_FDCWD, options_.ca_file, Resolve::Host, what);
    if (!fd) throw Error("can't read " + what + ": no such file");
    ca_pem_ = read_bounded(fd.get(), 16 << 20, what);
  }
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw Error("can't create a libcurl handle");
}

HttpClient::~HttpClient() { curl_easy_cleanup(curl_); }

HttpResponse HttpClient::perform(const HttpRequest& req) {
  HttpResponse resp;
  Transfer t{&req, &resp, curl_, false, false, 0, nullptr};
  CURL* c = curl_;
  curl_easy_reset(c);  // keeps the connection cache, drops the last request's options
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  set(c, CURLOPT_URL, req.url.c_str());
  const char* protocols = options_.allow_plain_http ? "http,https" : "https";
  set(c, CURLOPT_PROTOCOLS_STR, protocols);
  set(c, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  // Blobs may be redirected to object storage; curl drops our Authorization for
  // another host (CURLOPT_UNRESTRICTED_AUTH stays off).
  set(c, CURLOPT_FOLLOWLOCATION, 1L);
  set(c, CURLOPT_MAXREDIRS, 5L);
  set(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  set(c, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
  set(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  set(c, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_s);
  set(c, CURLOPT_SSL_VERIFYPEER, 1L);
  set(c, CURLOPT_SSL_VERIFYHOST, 2L);
  struct curl_blob ca {
    ca_pem_.data(), ca_pem_.size(), CURL_BLOB_NOCOPY
  };
  if (!options_.ca_file.empty() && curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca) != CURLE_OK)
    throw Error("libcurl refused the CA bundle " + options_.ca_file);
  set(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
  set(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  if (req.head) set(c, CURLOPT_NOBODY, 1L);
  if (req.timeout_s > 0) set(c, CURLOPT_TIMEOUT, req.timeout_s);
  std::string range;
  if (req.range_from > 0) {
    range = std::to_string(req.range_from) + "-";
    set(c, CURLOPT_RANGE, range.c_str());
  }
  struct curl_slist* headers = nullptr;
  for (const auto& h : req.headers) {
    struct curl_slist* next = curl_slist_append(headers, h.c_str());
    if (next == nullptr) {
      curl_slist_free_all(headers);
      throw Error("out of memory building an HTTP request");
    }
    headers = next;
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, static_cast<struct curl_slist*>(nullptr));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  char* url = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url != nullptr) resp.url = url;
  if (t.failure) std::rethrow_exception(t.failure);
  if (resp.truncated && (resp.status < 200 || resp.status >= 300)) {
    // A bounded error body: the status is the answer.
  } else if (resp.truncated) {
    resp.status = 0;  // a 2xx answer larger than asked for is no answer
    resp.error = "the answer is larger than " + std::to_string(req.max_body) + " bytes";
  } else if (resp.aborted) {
    resp.status = 0;
    if (resp.error.empty()) resp.error = "transfer stopped";
  } else if (rc != CURLE_OK) {
    if (resp.error.empty()) resp.error = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    resp.tls_error = is_tls_error(rc);
    resp.transient = is_transient(rc);
    // An answer cut short, or a redirect curl refused to follow, is no answer.
    resp.status = 0;
  }
  return resp;
}

}  // namespace hpai
