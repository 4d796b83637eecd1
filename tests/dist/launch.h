// Starting programs as the ranks of a loopback world, with hard deadlines so a
// test can never hang: every child is SIGKILLed when its deadline passes.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fm::testing {

using Clock = std::chrono::steady_clock;

// A TCP port that is free on 127.0.0.1 right now (the kernel's choice).
inline int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "cannot bind a loopback socket";
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// The torchrun variables of rank `rank` of `world_size` on 127.0.0.1:port.
inline std::vector<std::string> rank_environment(int rank, int world_size, int port) {
  return {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank),
          "WORLD_SIZE=" + std::to_string(world_size), "MASTER_ADDR=127.0.0.1",
          "MASTER_PORT=" + std::to_string(port)};
}

// A child process whose stdout and stderr go to `log`.
struct Child {
  pid_t pid = -1;
  std::string log;
  bool reaped = false;  // waited for: the pid may belong to someone else now
};

// Starts argv[0] with `environment` added to a copy of this process's
// environment, stripped of the torchrun variables, with one intra-op thread.
// Everything is prepared before fork(): the child only redirects and execs.
inline Child spawn(const std::vector<std::string>& argv,
                   const std::vector<std::string>& environment, const std::string& log) {
  std::vector<std::string> strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e, name = entry.substr(0, entry.find('='));
    bool ours = name == "RANK" || name == "LOCAL_RANK" || name == "WORLD_SIZE" ||
                name == "MASTER_ADDR" || name == "MASTER_PORT" || name == "OMP_NUM_THREADS" ||
                name.rfind("TORCHELASTIC_", 0) == 0;
    if (!ours) strings.push_back(entry);
  }
  strings.push_back("OMP_NUM_THREADS=1");
  strings.insert(strings.end(), environment.begin(), environment.end());
  std::vector<char*> envp, args;
  for (auto& s : strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  auto argv_copy = argv;
  for (auto& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);

  Child child{::fork(), log, false};
  if (child.pid != 0) return child;
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(fd, 1), ::dup2(fd, 2);
  ::execve(args[0], args.data(), envp.data());
  ::_exit(127);
}

// Waits until `child` exits or `deadline` passes; returns its exit code, or
// nullopt on a deadline (the child is SIGKILLed) or a death by signal.
inline std::optional<int> wait_for(Child& child, Clock::time_point deadline) {
  if (child.reaped || child.pid <= 0) return std::nullopt;
  int status = 0;
  while (::waitpid(child.pid, &status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      ::kill(child.pid, SIGKILL);
      ::waitpid(child.pid, &status, 0);
      child.reaped = true;
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  child.reaped = true;
  if (!WIFEXITED(status)) return std::nullopt;
  return WEXITSTATUS(status);
}

// Runs `argv` as every rank of a world of `world_size` on a fresh loopback
// port (world_size 1: no torchrun variables at all); logs go to
// log_prefix.rank<r>.log. Returns the exit codes (-1: killed at the deadline).
inline std::vector<int> run_world(int world_size, const std::vector<std::string>& argv,
                                  const std::string& log_prefix, std::chrono::seconds limit) {
  int port = free_loopback_port();
  std::vector<Child> children;
  for (int r = 0; r < world_size; ++r) {
    auto environment =
        world_size > 1 ? rank_environment(r, world_size, port) : std::vector<std::string>{};
    children.push_back(spawn(argv, environment, log_prefix + ".rank" + std::to_string(r) + ".log"));
  }
  auto deadline = Clock::now() + limit;
  std::vector<int> codes;
  for (auto& child : children) codes.push_back(wait_for(child, deadline).value_or(-1));
  return codes;
}

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace fm::testing
