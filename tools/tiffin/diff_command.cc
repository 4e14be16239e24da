// `tiffin diff A B [--json] [--steps-a S] [--steps-b S]`: what changed
// between two models. Exit 0 when they are the same, 1 when they differ,
// 2 on a usage or read error (as diff(1) does).
#include <cstdio>
#include <string>
#include <vector>

#include "diff/diff.h"
#include "diff/state_dict_diff.h"
#include "tools/tiffin/commands.h"

namespace tiffin::cli {

int Diff(const std::vector<std::string>& argv) {
  std::vector<std::string> paths;
  bool json = false;
  LoadOptions oa, ob;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--json") {
      json = true;
    } else if ((a == "--steps-a" || a == "--steps-b") && i + 1 < argv.size()) {
      (a == "--steps-a" ? oa : ob).steps = SplitSteps(argv[++i]);
    } else if (a == "--help" || a == "-h") {
      paths.clear();
      paths.push_back("--help");
      break;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "tiffin diff: unknown option '%s' (see 'tiffin diff --help')\n",
                   a.c_str());
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.size() != 2) {
    std::fprintf(stderr,
                 "usage: tiffin diff A B [--json] [--steps-a S] [--steps-b S]\n"
                 "  compares two models of any formats tiffin reads: provenance, input and\n"
                 "  output schemas, graph structure (an operator or activation that changed is\n"
                 "  one line), parameters (largest absolute difference per tensor) and the\n"
                 "  training statistics they carry. Exit 0: same, 1: different, 2: error.\n"
                 "  --steps-a/-b  compose objects of a multi-object pickle (as --steps)\n");
    return !paths.empty() && paths[0] == "--help" ? 0 : 2;
  }
  if (diff::IsTorchFile(paths[0]) || diff::IsTorchFile(paths[1])) {
    // PyTorch state_dicts: keys and shapes, as load_state_dict(A) into B.
    auto a = diff::ReadNamedParams(paths[0], oa);
    if (!a.ok()) {
      std::fprintf(stderr, "tiffin diff: %s\n", a.status().ToString().c_str());
      return 2;
    }
    auto b = diff::ReadNamedParams(paths[1], ob);
    if (!b.ok()) {
      std::fprintf(stderr, "tiffin diff: %s\n", b.status().ToString().c_str());
      return 2;
    }
    const diff::StateDictDiff d = diff::CompareStateDicts(*a, *b);
    const std::string out =
        json ? diff::StateDictDiffJson(d, *a, *b) + "\n" : diff::ToText(d.result);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return d.result.identical ? 0 : 1;
  }
  auto a = diff::ReadGraph(paths[0], oa);
  if (!a.ok()) {
    std::fprintf(stderr, "tiffin diff: %s\n", a.status().ToString().c_str());
    return 2;
  }
  auto b = diff::ReadGraph(paths[1], ob);
  if (!b.ok()) {
    std::fprintf(stderr, "tiffin diff: %s\n", b.status().ToString().c_str());
    return 2;
  }
  const diff::DiffResult r = diff::Compare(*a, *b);
  const std::string out = json ? diff::ToJson(r, *a, *b) + "\n" : diff::ToText(r);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return r.identical ? 0 : 1;
}

}  // namespace tiffin::cli
