// hpai-check host on fake /proc and /dev trees, and on this host.
#include "hpai/run/host_check.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "shell.hpp"
#include "temp_dir.hpp"

namespace hpai {
namespace {

using test::mkdirs;
using test::run;

TEST(HostCheck, SysctlsThatDisableUserNamespaces) {
  test::TempDir d;
  const std::string proc = d.path() + "/proc";
  mkdirs(proc + "/sys/user");
  mkdirs(proc + "/sys/kernel");
  HostCheckOptions o;
  o.proc = proc;
  o.dev = d.path() + "/dev";
  o.try_namespaces = false;
  auto find = [](const std::vector<HostCheck>& all, const std::string& name) {
    for (const auto& c : all)
      if (c.name == name) return c;
    return HostCheck{"(missing)", Verdict::Skip, "", ""};
  };
  // No /proc/self/ns/user: a kernel without user namespaces.
  auto old = check_host(o);
  EXPECT_EQ(find(old, "user namespaces").verdict, Verdict::Fail);
  EXPECT_NE(find(old, "user namespaces").message.find("Titan-era"), std::string::npos);
  mkdirs(proc + "/self/ns");
  std::ofstream(proc + "/self/ns/user") << "";
  std::ofstream(proc + "/sys/user/max_user_namespaces") << "0\n";
  std::ofstream(proc + "/sys/kernel/unprivileged_userns_clone") << "0\n";
  std::ofstream(proc + "/sys/kernel/apparmor_restrict_unprivileged_userns") << "1\n";
  auto all = check_host(o);
  EXPECT_EQ(find(all, "user.max_user_namespaces").verdict, Verdict::Fail);
  EXPECT_NE(find(all, "user.max_user_namespaces").fix.find("sysctl -w user.max_user_namespaces=15000"),
            std::string::npos);
  EXPECT_EQ(find(all, "kernel.unprivileged_userns_clone").verdict, Verdict::Fail);
  EXPECT_EQ(find(all, "AppArmor userns restriction").verdict, Verdict::Warn);
  EXPECT_EQ(find(all, "FUSE").verdict, Verdict::Warn);  // no DEV/fuse
  EXPECT_NE(find(all, "FUSE").fix.find("modprobe fuse"), std::string::npos);
  // The kernel's version: RHEL 8's is too old for the mount API, RHEL 9's is not.
  std::ofstream(proc + "/sys/kernel/osrelease") << "4.18.0-553.el8_10.x86_64\n";
  EXPECT_EQ(find(check_host(o), "kernel").verdict, Verdict::Fail);
  EXPECT_NE(find(check_host(o), "kernel").fix.find("5.12"), std::string::npos);
  std::ofstream(proc + "/sys/kernel/osrelease") << "5.14.0-427.el9.x86_64\n";
  EXPECT_EQ(find(check_host(o), "kernel").verdict, Verdict::Pass);
}

TEST(HostCheck, ThisHostCanRunContainers) {
  HostCheckOptions o;
  o.env = Environment::from_process();
  auto all = check_host(o);
  for (const auto& c : all)
    if (c.name == "user namespaces" || c.name == "overlayfs in a user namespace") {
      EXPECT_EQ(c.verdict, Verdict::Pass) << c.message;
    }
}

}  // namespace
}  // namespace hpai
