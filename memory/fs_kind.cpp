#include "memory/fs_kind.h"

#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "base/error.h"

namespace ferry {
namespace {

// The names of the file systems a scratch directory is likely to be on; others print as hex.
std::string fs_type_name(std::uint32_t magic) {
  switch (magic) {
    case TMPFS_MAGIC: return "tmpfs";
    case RAMFS_MAGIC: return "ramfs";
    case EXT4_SUPER_MAGIC: return "ext4";  // also ext2 / ext3: one magic
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlay";
    case NFS_SUPER_MAGIC: return "nfs";
    case F2FS_SUPER_MAGIC: return "f2fs";
    case 0x2fc12fc1u: return "zfs";
    case 0x65735546u: return "fuse";
    default: break;
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%x", magic);
  return hex;
}

// Creates `dir` if missing; true when it is a directory this process can create files in.
bool usable_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return std::filesystem::is_directory(dir, ec) && ::access(dir.c_str(), W_OK | X_OK) == 0;
}

std::string in_memory_warning(const std::string& dir, const FsInfo& fs, const std::string& flag) {
  return flag + " " + dir + " is a " + fs.type +
         ": files there live in RAM, so the disk tier (and what is measured on it) is RAM too and the budget "
         "does not bound the memory the run uses (give " + flag + " a directory on disk)";
}

}  // namespace

FsInfo filesystem_of(const std::string& dir, const std::string& flag) {
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) != 0)
    throw BadInput(flag + ": cannot read the file system of " + dir + ": " + std::strerror(errno));
  const auto magic = static_cast<std::uint32_t>(st.f_type);
  FsInfo info;
  info.type = fs_type_name(magic);
  info.in_memory = magic == TMPFS_MAGIC || magic == RAMFS_MAGIC;
  return info;
}

ScratchDir default_scratch_dir(const std::string& xdg_cache_home, const std::string& home, const std::string& flag) {
  std::vector<std::string> candidates;
  // XDG Base Directory: a relative $XDG_CACHE_HOME is invalid and ignored.
  if (!xdg_cache_home.empty() && xdg_cache_home.front() == '/') candidates.push_back(xdg_cache_home + "/ferry");
  if (!home.empty()) candidates.push_back(home + "/.cache/ferry");
  candidates.push_back("/var/tmp");
  candidates.push_back("/tmp");
  ScratchDir first_in_memory;
  for (const std::string& dir : candidates) {
    if (!usable_dir(dir)) continue;
    const FsInfo fs = filesystem_of(dir, flag);
    if (!fs.in_memory) return ScratchDir{dir, fs, ""};
    if (first_in_memory.dir.empty()) first_in_memory = ScratchDir{dir, fs, ""};
  }
  if (first_in_memory.dir.empty()) {
    std::string list;
    for (const std::string& c : candidates) list += (list.empty() ? "" : ", ") + c;
    throw BadInput(flag + ": no usable directory for the pack file among " + list + "; give one with " + flag);
  }
  first_in_memory.warning = "every default directory is in memory; " +
                            in_memory_warning(first_in_memory.dir, first_in_memory.fs, flag);
  return first_in_memory;
}

ScratchDir explicit_scratch_dir(const std::string& dir, const std::string& flag) {
  ScratchDir s;
  s.dir = dir;
  s.fs = filesystem_of(dir, flag);
  if (s.fs.in_memory) s.warning = in_memory_warning(dir, s.fs, flag);
  return s;
}

}  // namespace ferry
