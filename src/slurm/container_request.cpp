#include "hpai/slurm/container_request.hpp"

#include "hpai/base/error.hpp"

namespace hpai {

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

bool is_env_name(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

std::vector<BindSpec> parse_container_mounts(const std::string& value) {
  std::vector<BindSpec> binds;
  for (const std::string& entry : split(value, ',')) {
    const std::string origin = "--container-mounts=" + entry;
    if (entry.empty()) throw Error("--container-mounts=" + value + ": an empty entry (two commas?)", kExitUsage);
    std::vector<std::string> parts = split(entry, ':');
    if (parts.size() > 3)
      throw Error(origin + ": expected SRC[:DST[:FLAGS]] (a path with ':' can't be mounted)", kExitUsage);
    BindSpec b;
    b.source = parts[0];
    b.target = parts.size() > 1 ? parts[1] : parts[0];
    b.create = true;
    b.origin = origin;
    if (b.source.empty() || b.target.empty()) throw Error(origin + ": empty source or destination", kExitUsage);
    if (b.source.front() != '/' && !b.source.starts_with("./") && !b.source.starts_with("../"))
      throw Error(origin + ": source " + b.source + " must be a path (/... or ./...)", kExitUsage);
    if (b.target.front() != '/')
      throw Error(origin + ": destination " + b.target + " must be an absolute path", kExitUsage);
    if (b.target.find_first_not_of('/') == std::string::npos)
      throw Error(origin + ": can't mount over the container's /", kExitUsage);
    if (parts.size() == 3) {
      for (const std::string& flag : split(parts[2], '+')) {
        if (flag == "ro")
          b.read_only = true;
        else if (flag == "rw")
          b.read_only = false;
        else if (flag != "rbind" && flag != "bind")  // what hpai's binds are anyway
          throw Error(origin + ": unknown mount flag \"" + flag + "\" (hpai knows ro, rw, rbind)", kExitUsage);
      }
    }
    binds.push_back(std::move(b));
  }
  return binds;
}

ImageArgument parse_container_image(const std::string& value) {
  if (value.empty()) throw Error("--container-image: empty", kExitUsage);
  if (value.starts_with('/') || value.starts_with("./") || value.starts_with("../") || value == "." || value == "..")
    return {value, true};
  std::string image = value;
  const auto at = image.find('@'), hash = image.find('#');
  if (at != std::string::npos && hash != std::string::npos && at < hash)  // else @ starts a digest
    throw Error("--container-image=" + value +
                    ": credentials in the image (USER@) are not taken: store them with hpai-image login REGISTRY",
                kExitUsage);
  if (hash != std::string::npos) {  // enroot's REGISTRY#IMAGE
    if (hash == 0 || hash + 1 == image.size())
      throw Error("--container-image=" + value + ": expected REGISTRY#IMAGE", kExitUsage);
    image[hash] = '/';
  }
  return {image, false};
}

RunOptions run_options_for(const ContainerRequest& r, const SiteSettings& site, const StepFacts& step) {
  if (r.writable && r.readonly)
    throw Error("--container-writable and --container-readonly can't be combined", kExitUsage);
  RunOptions o;
  const ImageArgument image = parse_container_image(r.image);
  o.image = image.image;
  o.pull = !image.path && site.pull;
  o.storage = site.storage;
  if (!r.mounts.empty()) o.binds = parse_container_mounts(r.mounts);
  if (!step.batch_script.empty()) {
    // The batch step's script lives in slurmd's spool, which the image lacks.
    BindSpec b;
    b.source = b.target = step.batch_script;
    b.read_only = b.create = true;
    b.origin = "the batch script";
    o.binds.push_back(b);
  }
  if (!r.workdir.empty()) {
    if (r.workdir.front() != '/')
      throw Error("--container-workdir=" + r.workdir + ": must be an absolute path in the container", kExitUsage);
    o.cd = r.workdir;
  }
  if (r.writable) o.write_fake = kDefaultOverlaySize;
  o.home = r.mount_home;
  if (r.remap_root) o.uid = 0, o.gid = 0;
  const std::string profile = r.profile.empty() ? site.profile : r.profile;
  if (profile == "none")
    o.no_profile = true;
  else if (!profile.empty())
    o.profile = profile;
  if (!r.env.empty()) {
    for (const std::string& name : split(r.env, ',')) {
      if (!is_env_name(name))
        throw Error("--container-env=" + r.env + ": \"" + name + "\" is not a variable name", kExitUsage);
      // After the image's ENV and the profile's: the task's own value is what runs.
      o.env_ops.push_back({EnvOp::Kind::Host, name, false});
    }
  }
  o.command = step.argv;
  return o;
}

}  // namespace hpai
