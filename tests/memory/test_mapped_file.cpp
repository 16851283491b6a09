#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "base/error.h"
#include "memory/mapped_file.h"

namespace ferry {
namespace {

std::string temp_dir() {
  std::string d = ::testing::TempDir();
  if (!d.empty() && d.back() == '/') d.pop_back();
  return d;
}

TEST(MappedFile, CreateWriteReopenRead) {
  const std::string path = temp_dir() + "/ferry_mapped_" + std::to_string(getpid()) + ".bin";
  {
    MappedFile m = MappedFile::create(path, 10000);
    ASSERT_EQ(m.size(), 10000u);
    for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<std::byte>(i * 7);
    m.flush(0, m.size());
  }
  {
    MappedFile r = MappedFile::open_read(path);
    ASSERT_EQ(r.size(), 10000u);
    EXPECT_EQ(r.path(), path);
    for (std::size_t i = 0; i < r.size(); i += 997) EXPECT_EQ(r.data()[i], static_cast<std::byte>(i * 7));
    r.advise_sequential();
    r.advise_willneed(0, r.size());
    r.touch(0, r.size());
    r.advise_dontneed(100, 5000);  // read-only: pages are re-read from the file
    EXPECT_EQ(r.data()[4096], static_cast<std::byte>(4096 * 7));
  }
  std::remove(path.c_str());
}

TEST(MappedFile, OpenMissingIsBadInputNamingPath) {
  const std::string path = temp_dir() + "/definitely_not_here_ferry.bin";
  try {
    MappedFile::open_read(path);
    FAIL();
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(MappedFile, CreateTempKeepsDataAcrossDontneed) {
  MappedFile m = MappedFile::create_temp(temp_dir(), 3 << 20);
  ASSERT_NE(m.data(), nullptr);
  ASSERT_EQ(m.size(), std::size_t{3} << 20);
  for (std::size_t i = 0; i < m.size(); i += 512) m.data()[i] = static_cast<std::byte>((i >> 9) & 0xff);
  // DONTNEED on a writable map writes back first, so nothing is lost.
  m.advise_dontneed(0, m.size());
  m.advise_willneed(1 << 20, 1 << 20);
  m.touch(1 << 20, 1 << 20);
  for (std::size_t i = 0; i < m.size(); i += 512) ASSERT_EQ(m.data()[i], static_cast<std::byte>((i >> 9) & 0xff)) << i;
  // Ranges past the end are clipped, not faults.
  m.advise_dontneed(m.size() - 10, 1000);
  m.touch(m.size() - 1, 1000);
  m.flush(m.size(), 10);
}

TEST(MappedFile, CreateTempInMissingDirIsBadInput) {
  EXPECT_THROW(MappedFile::create_temp(temp_dir() + "/no_such_dir_ferry/x", 4096), BadInput);
}

TEST(MappedFile, MoveTransfersMapping) {
  MappedFile a = MappedFile::create_temp(temp_dir(), 4096);
  a.data()[0] = std::byte{42};
  MappedFile b = std::move(a);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.data()[0], std::byte{42});
  MappedFile c;
  c = std::move(b);
  EXPECT_EQ(c.size(), 4096u);
  EXPECT_EQ(c.data()[0], std::byte{42});
}

}  // namespace
}  // namespace ferry
