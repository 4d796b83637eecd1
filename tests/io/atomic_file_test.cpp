#include "fm/io/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fm/common/error.h"
#include "io/temp_dir.h"

namespace fm {
namespace {

namespace fs = std::filesystem;
using fm::testing::error_message;
using fm::testing::read_bytes;
using fm::testing::TempDir;
using fm::testing::write_bytes;

size_t count_entries(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFile, WriteCreatesParentDirectoriesAndExactContents) {
  TempDir dir;
  const std::string path = dir.file("a/b/c.txt");
  write_text_atomically(path, std::string("x\0y\n", 4));
  EXPECT_EQ(read_bytes(path), std::string("x\0y\n", 4));
  EXPECT_EQ(count_entries(dir.path() / "a/b"), 1u);  // no temporary left beside it
}

TEST(AtomicFile, TemporaryLivesInTheTargetDirectory) {
  TempDir dir;
  std::string seen;
  write_atomically(dir.file("out/f.bin"), [&](const std::string& tmp) {
    seen = tmp;
    write_bytes(tmp, "data");
  });
  EXPECT_EQ(fs::path(seen).parent_path(), dir.path() / "out");
  EXPECT_NE(fs::path(seen).filename(), "f.bin");
  EXPECT_FALSE(fs::exists(seen));
  EXPECT_EQ(read_bytes(dir.file("out/f.bin")), "data");
}

TEST(AtomicFile, ThrowingWriterLeavesNeitherTargetNorTemporary) {
  TempDir dir;
  EXPECT_THROW(write_atomically(dir.file("f.bin"),
                                [](const std::string& tmp) {
                                  write_bytes(tmp, "half");
                                  throw RuntimeError("writer failed");
                                }),
               RuntimeError);
  EXPECT_EQ(count_entries(dir.path()), 0u);
}

TEST(AtomicFile, ThrowingWriterKeepsThePreviousFileIntact) {
  TempDir dir;
  write_text_atomically(dir.file("f.txt"), "old");
  EXPECT_THROW(write_atomically(dir.file("f.txt"),
                                [](const std::string& tmp) {
                                  write_bytes(tmp, "new but broken");
                                  throw std::runtime_error("stop");
                                }),
               std::runtime_error);
  EXPECT_EQ(read_bytes(dir.file("f.txt")), "old");
  EXPECT_EQ(count_entries(dir.path()), 1u);
}

TEST(AtomicFile, SecondWriteReplacesTheFile) {
  TempDir dir;
  write_text_atomically(dir.file("f.txt"), "first, longer");
  write_text_atomically(dir.file("f.txt"), "second");
  EXPECT_EQ(read_text_file(dir.file("f.txt")), "second");
}

TEST(AtomicFile, ReadRefusesMissingFileNamingIt) {
  TempDir dir;
  const std::string msg = error_message<InputError>([&] { read_text_file(dir.file("none.txt")); });
  EXPECT_NE(msg.find("none.txt"), std::string::npos) << msg;
}

TEST(AtomicFile, ReadRefusesADirectoryNamingIt) {
  TempDir dir;
  const std::string msg = error_message<InputError>([&] { read_text_file(dir.path().string()); });
  EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
}

// The check before the work leaves nothing behind, whether it passes or not.
TEST(PrepareOutputFile, AcceptsMissingFoldersAndLeavesNothing) {
  TempDir dir;
  prepare_output_file(dir.file("a/b/c.npy"), "--out");
  EXPECT_EQ(count_entries(dir.path()), 0u);
}

// Caught before the work, not when the file is written at the end: a folder
// or file name longer than the file system allows, and (for root too) a
// folder in /proc.
TEST(PrepareOutputFile, RefusesPathsThatCannotBeCreated) {
  TempDir dir;
  const std::string long_name(300, 'n');
  for (const auto& path : {dir.file("a/" + long_name + "/c.npy"), dir.file("a/" + long_name)}) {
    const std::string msg =
        error_message<InputError>([&] { prepare_output_file(path, "--out"); });
    EXPECT_EQ(msg.rfind("--out '", 0), 0u) << msg;
    EXPECT_NE(msg.find("cannot create"), std::string::npos) << msg;
    EXPECT_EQ(count_entries(dir.path()), 0u) << msg;  // the probe's folder "a" is gone
  }
  if (fs::is_directory("/proc/self")) {
    const std::string msg = error_message<InputError>(
        [&] { prepare_output_file("/proc/flowmatch-test/x.npy", "--json"); });
    EXPECT_NE(msg.find("cannot create its folder '/proc/flowmatch-test'"), std::string::npos)
        << msg;
  }
}

}  // namespace
}  // namespace fm
