// What kind of file system holds a directory, and where ferry's scratch files (the pack file of
// the CPU mmap tiers, the probe's file) go by default. A pack file on a tmpfs or ramfs is RAM, not
// disk: the "disk" tier and the budget that leaves it out of RAM would both be a lie.
#pragma once
#include <string>

namespace ferry {

struct FsInfo {
  std::string type;        // "ext4", "xfs", "tmpfs", ... or the statfs magic in hex
  bool in_memory = false;  // tmpfs or ramfs: its files live in RAM
};

// statfs(2) of `dir`. Throws BadInput naming `flag` and the directory when it cannot be read.
FsInfo filesystem_of(const std::string& dir, const std::string& flag);

// A directory chosen for scratch files and what the user should be told about it.
struct ScratchDir {
  std::string dir;
  FsInfo fs;
  std::string warning;  // empty, or one line: why the file ends up in RAM
};

// The default: the first of $XDG_CACHE_HOME/ferry (when it is an absolute path), $HOME/.cache/ferry,
// /var/tmp and /tmp that can be created and written and is not in memory; when all are in memory,
// the first usable one, with a warning. The environment is read by the caller (tools/) and passed
// in; empty strings mean unset. `flag` names the option for the messages. Throws BadInput when
// no candidate is usable.
ScratchDir default_scratch_dir(const std::string& xdg_cache_home, const std::string& home, const std::string& flag);

// A directory the user gave (`flag` names it): used as is, with a warning when it is in memory.
ScratchDir explicit_scratch_dir(const std::string& dir, const std::string& flag);

}  // namespace ferry
