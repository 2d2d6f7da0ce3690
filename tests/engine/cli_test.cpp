// tools/hana-net as a program: usage errors exit 2, and echo + ping complete a run on
// loopback with one JSON line. Skips when the hana-net binary was not built.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace {

std::string hana_net_path() {
  // Tests live in <build>/tests/, programs in <build>/tools/.
  const auto exe = std::filesystem::read_symlink("/proc/self/exe");
  return (exe.parent_path().parent_path() / "tools" / "hana-net").string();
}

int exit_code_of(const std::string& args) {
  const int status = std::system((hana_net_path() + " " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class HanaNetCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(hana_net_path())) GTEST_SKIP() << "hana-net not built at " << hana_net_path();
  }
};

TEST_F(HanaNetCli, BadArgumentsExitWithUsageError2) {
  EXPECT_EQ(exit_code_of(""), 2);
  EXPECT_EQ(exit_code_of("frobnicate"), 2);
  EXPECT_EQ(exit_code_of("links"), 2);                                  // --control missing
  EXPECT_EQ(exit_code_of("echo"), 2);                                   // --bind missing
  EXPECT_EQ(exit_code_of("echo --bind nowhere"), 2);
  EXPECT_EQ(exit_code_of("ping"), 2);                                   // --to missing
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --lane purple"), 2);
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --delivery maybe"), 2);
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --size 3"), 2);
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --count 0"), 2);
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --rate 0"), 2);
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --backend kqueue"), 2);
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --count abc"), 2);
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --knob no_such_knob=1"), 2);
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --knob pto_floor_us"), 2);          // no '='
  EXPECT_EQ(exit_code_of("ping --to 127.0.0.1:9 --knob pto_floor_us=1"), 2);        // out of range
  EXPECT_EQ(exit_code_of("echo --bind 127.0.0.1:0 --knob pto_floor_us=999999999"), 2);  // above pto_cap_us (rule)
  // Discovery options that cannot work (node exits before running; no root needed).
  EXPECT_EQ(exit_code_of("node --multicast 239.1.2.3:5000 --multicast-interface no-such-if9"), 2);
  EXPECT_EQ(exit_code_of("node --multicast-interface lo"), 2);                      // no --multicast
  EXPECT_EQ(exit_code_of("node --multicast 10.1.2.3:5000"), 2);                     // not a group
  EXPECT_EQ(exit_code_of("node --multicast 239.1.2.3:0"), 2);                       // port 0
  EXPECT_EQ(exit_code_of("node --bind [::]:0 --multicast [ff02::4e41]:5000"), 2);   // link-local group, no interface
  EXPECT_EQ(exit_code_of("node --bind 127.0.0.1:0 --multicast [ff15::1]:5000"), 2); // IPv6 group, IPv4 bind
  EXPECT_EQ(exit_code_of("node --bind [fe80::1%no-such-if9]:0"), 2);
  EXPECT_EQ(exit_code_of("--help"), 0);
}

TEST_F(HanaNetCli, EchoAndPingOnLoopbackPrintOneJsonLine) {
  // echo binds port 0 and names its address in its start-up line on stderr.
  int err_pipe[2];
  ASSERT_EQ(::pipe(err_pipe), 0);
  const pid_t echo = ::fork();
  ASSERT_GE(echo, 0);
  if (echo == 0) {
    ::dup2(err_pipe[1], 2);
    ::close(err_pipe[0]);
    const std::string path = hana_net_path();
    ::execl(path.c_str(), path.c_str(), "echo", "--bind", "127.0.0.1:0", "--knob", "pto_floor_us=300",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  FILE* echo_err = ::fdopen(err_pipe[0], "r");
  char banner[512] = {};
  std::string text;
  // Blocks until echo has bound; a fallback line ("... falling back to epoll") may come first.
  for (int i = 0; i < 5 && text.find("udp ") == std::string::npos; ++i) {
    ASSERT_NE(std::fgets(banner, sizeof banner, echo_err), nullptr) << text;
    text = banner;
  }
  const auto at = text.rfind("udp ");
  ASSERT_NE(at, std::string::npos) << text;
  std::string addr = text.substr(at + 4);
  while (!addr.empty() && (addr.back() == '\n' || addr.back() == ' ')) addr.pop_back();
  const std::string cmd = hana_net_path() + " ping --to " + addr +
                          " --count 200 --rate 2000 --size 64 --lane high --delivery reliable-ordered --json"
                          " --knob pto_floor_us=300 --knob max_ack_delay_us=50";
  FILE* out = ::popen(cmd.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char line[1024] = {};
  const bool got = std::fgets(line, sizeof line, out) != nullptr;
  const int status = ::pclose(out);
  ::kill(echo, SIGTERM);
  int echo_status = 0;
  ::waitpid(echo, &echo_status, 0);
  std::fclose(echo_err);
  ASSERT_TRUE(got);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const auto j = nlohmann::json::parse(line, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << line;
  for (const char* key : {"n", "lost", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "backend", "transport"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["transport"], "udp");  // loopback: nothing blocks UDP, so no fallback
  EXPECT_EQ(j["n"], 200);
  EXPECT_EQ(j["lost"], 0);
  EXPECT_LE(j["p50_us"].get<double>(), j["p99_us"].get<double>());
  EXPECT_LE(j["p99_us"].get<double>(), j["max_us"].get<double>());
}

}  // namespace
