// memory/fs_kind.h: the file system of a directory (statfs) and the default scratch directory,
// resolved from an XDG_CACHE_HOME and a HOME passed in (fakes here, never this process's own).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "base/error.h"
#include "memory/fs_kind.h"

namespace fs = std::filesystem;

namespace ferry {
namespace {

class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under the build directory (ctest's working directory), not /tmp: that may itself be a tmpfs.
    base_ = fs::absolute("scratch_dir_test." + std::to_string(::getpid()));
    fs::create_directories(base_);
    if (filesystem_of(base_.string(), "test").in_memory) GTEST_SKIP() << base_ << " is itself in memory";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
    if (!shm_.empty()) fs::remove_all(shm_, ec);
  }
  // A directory on /dev/shm (a tmpfs on Linux); skips when there is none.
  fs::path shm_dir() {
    if (!fs::is_directory("/dev/shm") || !filesystem_of("/dev/shm", "test").in_memory)
      return {};
    shm_ = "/dev/shm/ferry-scratch-test." + std::to_string(::getpid());
    return shm_;
  }
  fs::path base_;
  fs::path shm_;
};

TEST_F(ScratchDirTest, DevShmIsATmpfsAndTheBuildDirectoryIsNot) {
  if (!fs::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm";
  const FsInfo shm = filesystem_of("/dev/shm", "--pack-dir");
  EXPECT_TRUE(shm.in_memory);
  EXPECT_EQ(shm.type, "tmpfs");
  const FsInfo disk = filesystem_of(base_.string(), "--pack-dir");
  EXPECT_FALSE(disk.in_memory) << disk.type;
  EXPECT_NE(disk.type, "tmpfs");
  EXPECT_NE(disk.type, "ramfs");
}

TEST_F(ScratchDirTest, MissingDirectoryIsBadInputNamingTheFlag) {
  try {
    filesystem_of((base_ / "nope").string(), "--pack-dir");
    FAIL() << "no error";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("--pack-dir"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
}

TEST_F(ScratchDirTest, XdgCacheHomeFirstAndCreated) {
  const ScratchDir s = default_scratch_dir((base_ / "xdg").string(), (base_ / "home").string(), "--pack-dir");
  EXPECT_EQ(s.dir, (base_ / "xdg" / "ferry").string());
  EXPECT_TRUE(fs::is_directory(base_ / "xdg" / "ferry"));
  EXPECT_FALSE(s.fs.in_memory);
  EXPECT_TRUE(s.warning.empty()) << s.warning;
  EXPECT_FALSE(fs::exists(base_ / "home")) << "a later candidate is not created";
}

TEST_F(ScratchDirTest, HomeCacheWhenXdgIsUnsetRelativeOrUnusable) {
  const std::string home = (base_ / "home").string();
  const std::string want = (base_ / "home" / ".cache" / "ferry").string();
  EXPECT_EQ(default_scratch_dir("", home, "--pack-dir").dir, want);
  EXPECT_EQ(default_scratch_dir("relative/cache", home, "--pack-dir").dir, want);  // the XDG spec ignores it
  std::ofstream(base_ / "a-file") << "x";  // XDG_CACHE_HOME naming a file: ferry/ cannot be made under it
  EXPECT_EQ(default_scratch_dir((base_ / "a-file").string(), home, "--pack-dir").dir, want);
}

TEST_F(ScratchDirTest, ATmpfsCandidateIsPassedOver) {
  const fs::path shm = shm_dir();
  if (shm.empty()) GTEST_SKIP() << "no tmpfs at /dev/shm";
  const ScratchDir s = default_scratch_dir(shm.string(), (base_ / "home").string(), "--pack-dir");
  EXPECT_EQ(s.dir, (base_ / "home" / ".cache" / "ferry").string());
  EXPECT_TRUE(s.warning.empty()) << s.warning;
}

TEST_F(ScratchDirTest, WithoutXdgAndHomeVarTmpUnlessItIsInMemory) {
  const ScratchDir s = default_scratch_dir("", "", "--pack-dir");
  if (filesystem_of("/var/tmp", "test").in_memory) {
    EXPECT_NE(s.dir, "/var/tmp");
  } else {
    EXPECT_EQ(s.dir, "/var/tmp");
  }
  EXPECT_FALSE(s.fs.in_memory && s.warning.empty()) << "a choice in memory always warns";
}

TEST_F(ScratchDirTest, AnExplicitTmpfsIsUsedWithAWarning) {
  const fs::path shm = shm_dir();
  if (shm.empty()) GTEST_SKIP() << "no tmpfs at /dev/shm";
  fs::create_directories(shm);
  const ScratchDir s = explicit_scratch_dir(shm.string(), "--pack-dir");
  EXPECT_EQ(s.dir, shm.string());
  EXPECT_TRUE(s.fs.in_memory);
  EXPECT_NE(s.warning.find("--pack-dir " + shm.string() + " is a tmpfs"), std::string::npos) << s.warning;
  const ScratchDir disk = explicit_scratch_dir(base_.string(), "--pack-dir");
  EXPECT_TRUE(disk.warning.empty()) << disk.warning;
}

}  // namespace
}  // namespace ferry
