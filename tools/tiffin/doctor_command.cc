// `tiffin doctor MODEL [--data FILE] [--steps A,B] [--json]`: an ordered
// checklist of PASS / INFO / WARN / FAIL lines, each with its cause and fix.
// Exit 0 when no line is FAIL, 1 otherwise, 2 on a usage error.
#include <cstdio>
#include <string>
#include <vector>

#include "doctor/doctor.h"
#include "tools/tiffin/commands.h"

namespace tiffin::cli {

int Doctor(const std::vector<std::string>& argv) {
  std::vector<std::string> paths;
  doctor::Options options;
  bool json = false, help = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--help" || a == "-h") {
      help = true;
    } else if ((a == "--data" || a == "--steps") && i + 1 < argv.size()) {
      const std::string& v = argv[++i];
      if (a == "--data") {
        options.data_path = v;
      } else {
        options.steps = SplitSteps(v);
      }
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "tiffin doctor: unknown option '%s' (see 'tiffin doctor --help')\n",
                   a.c_str());
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (help || paths.size() != 1) {
    std::fprintf(
        stderr,
        "usage: tiffin doctor MODEL [--data FILE] [--steps A,B] [--json]\n"
        "  checks, in order: format (by content), integrity, provenance, operators,\n"
        "  reference cases; with --data (CSV/JSON/.npy): columns, dtypes, missing\n"
        "  values and values far outside the training range. Exit 0 when nothing FAILs.\n");
    return help ? 0 : 2;
  }
  const doctor::Report r = doctor::Diagnose(paths[0], options);
  const std::string out = json ? doctor::ToJson(r, paths[0]) + "\n" : doctor::ToText(r);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return r.ok() ? 0 : 1;
}

}  // namespace tiffin::cli
