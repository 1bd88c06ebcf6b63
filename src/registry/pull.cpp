#include "hpai/registry/pull.hpp"

#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "hpai/base/bounded_read.hpp"
#include "hpai/base/digest.hpp"
#include "hpai/base/error.hpp"
#include "hpai/base/json_source.hpp"
#include "hpai/base/log.hpp"
#include "hpai/base/untrusted_text.hpp"
#include "hpai/image/image_config.hpp"
#include "hpai/image/image_export.hpp"
#include "hpai/image/image_report.hpp"
#include "hpai/image/manifest.hpp"
#include "hpai/registry/blob_cache.hpp"
#include "hpai/registry/pull_progress.hpp"

namespace hpai {

namespace {

// Every type hpai reads, always: a registry that finds none it has in Accept converts to
// schema 1 (distribution 2.x) or answers MANIFEST_UNKNOWN.
const char* kAccept =
    "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

struct Manifest {
  std::string body;
  std::string media_type;
  std::string digest;
  nlohmann::json doc;
};

Manifest fetch_manifest(RegistrySession& s, HttpClient& http, const std::string& reference, const std::string& what) {
  HttpRequest req;
  req.url = s.url("manifests/" + reference);
  req.headers = {kAccept};
  req.max_body = 4 << 20;
  HttpResponse r = s.send(http, req);
  if (r.status < 200 || r.status >= 300) throw Error(s.failure(r, what));
  Manifest m;
  m.body = std::move(r.body);
  m.digest = "sha256:" + sha256_of(m.body);
  if (reference.starts_with("sha256:") && m.digest != reference)
    throw Error(what + ": the registry answered a manifest whose sha256 is " + m.digest +
                ", not the pinned digest; refusing it (corrupted or tampered with)");
  if (const std::string said = r.header("docker-content-digest"); said.starts_with("sha256:") && said != m.digest)
    throw Error(what + ": the registry says the manifest is " + said + " but its bytes hash to " + m.digest +
                " (corrupted on the way); nothing was pulled");
  m.media_type = r.header("content-type");
  m.media_type = m.media_type.substr(0, m.media_type.find(';'));
  while (!m.media_type.empty() && m.media_type.back() == ' ') m.media_type.pop_back();
  if (is_schema1_type(m.media_type))
    throw Error(what + " is a Docker schema 1 manifest (" + m.media_type +
                "), a format retired in 2019 that hpai does not unpack: push the image again with a current docker, "
                "podman or skopeo (schema 2 or OCI)");
  m.doc = parse_json(m.body, what);
  if (!m.doc.is_object()) throw Error(what + ": not a JSON object");
  if (m.doc.contains("schemaVersion") && m.doc.at("schemaVersion") == 1)
    throw Error(what +
                " is a Docker schema 1 manifest, a format retired in 2019 that hpai does not unpack: push the "
                "image again with a current docker, podman or skopeo (schema 2 or OCI)");
  // The body's mediaType wins over a generic Content-Type (application/json, octet-stream).
  if (m.doc.contains("mediaType") && m.doc.at("mediaType").is_string())
    if (std::string t = m.doc.at("mediaType").get<std::string>(); is_index_type(t) || is_image_manifest_type(t))
      m.media_type = t;
  if (!is_index_type(m.media_type) && !is_image_manifest_type(m.media_type)) {
    if (m.doc.contains("manifests"))
      m.media_type = kOciIndexType;
    else if (m.doc.contains("layers"))
      m.media_type = kOciManifestType;
    else
      throw Error(what + ": the registry answered \"" + printable(m.media_type) +
                  "\", neither an image manifest nor an index");
  }
  return m;
}

// Fetches blob D's bytes after what W holds, resuming with Range after a broken
// connection and starting over where the server ignores the Range.
void fetch_blob(RegistrySession& s, HttpClient& http, const Descriptor& d, BlobWriter& w,
                const std::atomic<bool>& cancel, const std::function<void(std::uint64_t)>& progress,
                const std::string& what) {
  for (int resumes = 0;; ++resumes) {
    if (d.size >= 0 && w.size() == static_cast<std::uint64_t>(d.size)) return;  // an earlier run got it all
    const std::uint64_t from = w.size();
    HttpRequest req;
    req.url = s.url("blobs/" + d.digest);
    req.range_from = from;
    req.on_status = [&](long status, const HttpResponse& r) {
      if (from == 0) return;
      // 200 to a Range: the whole blob comes again. 206 must start where asked.
      const std::string range = r.header("content-range");
      if (status == 200 || (status == 206 && !range.starts_with("bytes " + std::to_string(from) + "-"))) w.restart();
    };
    req.sink = [&](const char* p, std::size_t n) { return !cancel && w.write(p, n); };
    req.cancelled = [&] { return cancel.load(); };
    // A deadline that a working link meets (256 KiB/s), so a trickling server can't hold
    // a pull for days; the stall check catches a dead one sooner.
    req.timeout_s = 300 + static_cast<long>((static_cast<std::uint64_t>(d.size) - from) / (256 << 10));
    if (progress) req.progress = [&](std::uint64_t) { progress(w.size()); };
    HttpResponse r = s.send(http, req);
    if (!w.error().empty()) throw Error(what + ": " + w.error());
    if (cancel) throw Error(what + ": stopped (another layer failed)");
    if ((r.status == 200 || r.status == 206) && r.error.empty()) return;
    if (r.status == 416 && from > 0) {  // the partial file is no prefix of this blob
      w.restart();
      continue;
    }
    if (r.status == 0 && r.body_bytes > 0 && resumes < 20) {
      spdlog::info("{}: connection broken after {} bytes ({}); resuming", what, w.size(), r.error);
      continue;
    }
    throw Error(s.failure(r, what));
  }
}

std::string blob_what(const RegistrySession& s, const Descriptor& d, const std::string& kind) {
  return s.host() + "/" + s.repository() + " " + kind + " " + d.digest;
}

}  // namespace

std::string pull_summary(const PullResult& r) {
  const std::string where = r.name.empty() ? r.import.dir : r.name;
  if (r.import.reused)
    return where + ": up to date with " + r.ref.str() + " (" + r.manifest_digest + ", " + r.platform + ")\n";
  char line[512];
  std::snprintf(line, sizeof line, "%s: pulled %s (%s, %s): %d layer%s, %d fetched (%s), %d cached; %.1f s\n",
                where.c_str(), r.ref.str().c_str(), r.manifest_digest.c_str(), r.platform.c_str(), r.layers,
                r.layers == 1 ? "" : "s", r.layers_fetched, human_size(r.bytes_fetched).c_str(),
                r.layers - r.layers_fetched, r.seconds);
  return line;
}

std::string platform_for_arch(const std::string& arch) {
  if (arch.empty()) return "";
  if (arch.find('/') != std::string::npos && arch.starts_with("linux/")) return arch;
  return "linux/" + arch;
}

PullResult pull_image(const Storage& storage, const PullOptions& o) {
  const auto begin = std::chrono::steady_clock::now();
  PullResult result;
  result.ref = parse_image_reference(o.reference);
  const ImageReference& ref = result.ref;
  result.name = o.squashfs.empty() ? (o.name.empty() ? ref.storage_name() : o.name) : "";
  if (!result.name.empty()) validate_image_name(result.name);
  if (o.registry.plain_http && ref.registry == kDockerHub)
    throw Error("--insecure is for a registry you name that speaks plain HTTP, not Docker Hub", kExitUsage);
  const std::string want = o.platform.empty() ? host_platform() : o.platform;

  // The manifest: from the mirror first when one is set for Docker Hub.
  std::unique_ptr<RegistrySession> session;
  std::unique_ptr<HttpClient> http;
  Manifest top;
  const std::string what = ref.str();
  std::vector<std::string> hosts;
  if (!o.mirror.empty() && ref.registry == kDockerHub) hosts.push_back(o.mirror);
  hosts.push_back(ref.api_host());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const bool mirror = i + 1 < hosts.size();
    session = std::make_unique<RegistrySession>(hosts[i], mirror ? hosts[i] : ref.registry, ref.repository, o.registry);
    http = std::make_unique<HttpClient>(session->options().http);
    try {
      top = fetch_manifest(*session, *http, ref.manifest_reference(), what);
      break;
    } catch (const Error& e) {
      if (!mirror) throw;
      spdlog::warn("mirror {}: {}; asking {} instead", hosts[i], e.what(), hosts.back());
    }
  }
  Manifest image = std::move(top);
  if (is_index_type(image.media_type)) {
    result.index_digest = image.digest;
    const std::vector<Descriptor> entries = index_entries(image.doc, what);
    const Descriptor pick = pick_platform(entries, want, what);
    result.platform = pick.platform;
    image = fetch_manifest(*session, *http, pick.digest, what + " (" + pick.platform + ")");
    if (image.digest != pick.digest)
      throw Error(what + ": the manifest for " + pick.platform + " hashes to " + image.digest + ", not the " +
                  pick.digest + " the index names");
    if (!is_image_manifest_type(image.media_type))
      throw Error(what + ": the index entry for " + pick.platform + " is not an image manifest");
  }
  result.manifest_digest = image.digest;
  const ImageManifest m = parse_image_manifest(image.doc, what);
  result.layers = static_cast<int>(m.layers.size());
  // A registry must say how big each blob is (the distribution spec requires it): the
  // size bounds what is written, so a hostile one can't fill the disk with an endless
  // body.
  if (m.config.size < 0 || m.config.size > (16 << 20))
    throw Error(what + ": the manifest's config descriptor has " +
                (m.config.size < 0 ? std::string("no size") : "a size of " + std::to_string(m.config.size) + " bytes") +
                " (an image config is a small JSON file); refusing it");
  for (std::size_t i = 0; i < m.layers.size(); ++i)
    if (m.layers[i].size < 0)
      throw Error(what + ": layer " + std::to_string(i + 1) + " has no size in the manifest; refusing it");

  ResolvedSource source{"registry", ref.str(), {m.config.digest}, what};
  for (const auto& l : m.layers) source.blobs.push_back(l.digest);
  if (!result.name.empty() && !o.force)
    if (auto done = already_imported(storage, result.name, source, result.manifest_digest)) {
      result.import = std::move(*done);
      result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
      return result;
    }

  BlobCache cache(storage);
  UniqueFd held = cache.hold();
  std::uint64_t missing = 0;
  for (const auto& l : m.layers)
    if (!cache.has(l.hex)) missing += static_cast<std::uint64_t>(l.size);
  if (struct statvfs fs{}; statvfs(cache.root().c_str(), &fs) == 0) {
    const std::uint64_t free = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (missing > free)
      throw Error(what + ": its layers need " + human_size(missing) + " (compressed, more once unpacked) and storage " +
                  storage.root() + " has " + human_size(free) +
                  " free: hpai-image gc removes unused blobs, or pull into other storage with -s DIR");
  }
  std::atomic<bool> cancel{false};
  // The config first (small, and it says the platform), then the layers in parallel.
  if (m.config.size > (16 << 20)) throw Error(what + ": image config of " + std::to_string(m.config.size) + " bytes");
  cache.ensure(m.config, blob_what(*session, m.config, "config"), [&](BlobWriter& w) {
    fetch_blob(*session, *http, m.config, w, cancel, {}, blob_what(*session, m.config, "config"));
  });
  const std::string config_json = read_host_file(cache.path_of(m.config.hex), 16 << 20, "image config");
  const auto config = parse_json(config_json, what + " config");
  const std::string arch = platform_of(config, what + " config");
  // Checked before any layer is fetched: a config that doesn't match its manifest is
  // refused at once.
  ResolvedImage resolved;
  resolved.config_json = config_json;
  resolved.manifest_digest = result.manifest_digest;
  resolved.layers = layer_refs(m, config_diff_ids(config, what + " config"), what);
  if (result.platform.empty()) result.platform = arch;
  if (!platform_matches(arch, want)) {
    if (!o.platform.empty())
      throw Error(what + " is an image for " + arch + ", not " + want +
                  " (the reference names no index to choose from)");
    spdlog::warn("{} is an image for {}, not this machine's {}; pulling it anyway", what, arch, want);
  }

  std::vector<PullProgress::Item> items;
  for (const auto& l : m.layers) items.push_back({l.digest, l.size});
  PullProgress progress(items, o.progress, o.layer_lines);
  std::atomic<std::size_t> next{0};
  std::atomic<int> fetched{0};
  std::atomic<std::uint64_t> bytes{0};
  std::mutex error_mutex;
  std::string first_error;
  auto worker = [&] {
    try {
      HttpClient own(session->options().http);
      for (std::size_t i; (i = next++) < m.layers.size() && !cancel;) {
        const Descriptor& d = m.layers[i];
        const std::string lwhat = blob_what(*session, d, "layer " + std::to_string(i + 1));
        progress.started(i);
        const bool got = cache.ensure(d, lwhat, [&](BlobWriter& w) {
          fetch_blob(
              *session, own, d, w, cancel, [&](std::uint64_t n) { progress.add(i, n); }, lwhat);
          bytes += w.size();
        });
        if (got) ++fetched;
        progress.done(i, got);
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> hold(error_mutex);
      if (first_error.empty()) first_error = e.what();
      cancel = true;
    }
  };
  const int threads = std::max(1, std::min<int>(o.jobs, static_cast<int>(m.layers.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  progress.clear();
  if (!first_error.empty()) throw Error(first_error);
  result.layers_fetched = fetched;
  result.bytes_fetched = bytes;

  auto store = BlobStore::directory(cache.root());
  if (o.squashfs.empty()) {
    result.import = import_resolved(storage, *store, resolved, source, result.name, o.force, o.progress);
  } else {
    // Unpacked in storage's staging area, packed, and gone: only the file is kept.
    const std::string stage_name = ref.storage_name();
    NameLock lock = storage.lock(stage_name);
    Staging staging = storage.stage(stage_name);
    result.import = unpack_resolved(*store, resolved, source, staging.path(), o.progress);
    export_image(staging.path(), o.squashfs, "squashfs");
    result.import.dir = o.squashfs;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return result;
}

}  // namespace hpai
